/**
 * The real Tushare `daily` file of Ping An Bank (000001.SZ, 1991-2018) kept in
 * test/fixtures/calendar (see its README), read as daily bars: what a daily file brings to the
 * daily series. Tushare gives `vol` in lots (手, 100 shares) and `amount` in thousands of yuan;
 * both are converted to shares and yuan here (whole numbers: vol has two decimals, amount three),
 * since reading vendor units is the importer's job in another issue, not this test's.
 */
import Papa from "papaparse";
import type { BarInput } from "../../src/mod.ts";

export const TUSHARE_DAILY = new URL("../fixtures/calendar/000001.SZ-tushare-daily-raw-1991-2018.csv", import.meta.url).pathname;

/** The file's rows as daily bars, oldest first, each stamped with its date (`YYYY-MM-DD`). */
export async function readTushareDaily(): Promise<(BarInput & { timestamp: string })[]> {
  const parsed = Papa.parse<Record<string, string>>(await Bun.file(TUSHARE_DAILY).text(), { header: true, skipEmptyLines: true });
  if (parsed.errors.length > 0) throw new Error(`${TUSHARE_DAILY}: ${parsed.errors[0]!.message}`);
  const bars = parsed.data.map((row, index) => {
    const date = row.trade_date!;
    if (!/^\d{8}$/.test(date)) throw new Error(`row ${index}: trade_date ${JSON.stringify(date)}`);
    const value = (field: string) => {
      const number = Number(row[field]);
      if (row[field] === undefined || row[field]!.trim() === "" || !Number.isFinite(number)) throw new Error(`row ${index}: ${field} ${JSON.stringify(row[field])}`);
      return number;
    };
    // One row (1991-11-11) has vol and amount empty: NULL, as the file says nothing.
    const scaled = (field: string, factor: number) => (row[field]!.trim() === "" ? null : Math.round(value(field) * factor));
    return {
      timestamp: `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}`,
      open: value("open"),
      high: value("high"),
      low: value("low"),
      close: value("close"),
      volume: scaled("vol", 100),
      amount: scaled("amount", 1000),
    };
  });
  // Newest first in the file.
  return bars.reverse();
}

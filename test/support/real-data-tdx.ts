/**
 * Real TDX terminal exports from test/fixtures/tdx (see its README), parsed as they are: no
 * cleaning, so the quirks (duplicated `datetime` header, `vol` beside `volume`, denormal
 * volumes) reach the code under test.
 */
import type { SyntheticBar } from "../../scripts/synthetic-bars.ts";
import Papa from "papaparse";
import type { BarInput } from "../../src/mod.ts";

/** Kept in the repository, so the tests run on a fresh clone without the team's shared folder. */
const REAL_DATA = new URL("../fixtures/tdx/", import.meta.url);

export const TDX_INDEX_1MIN = "000001.SH-1min-tdx.csv";
export const TDX_ETF_5MIN_DESC = "512010.SH-5min-desc.csv";

/** One bar as the file has it: naive Asia/Shanghai time stamped at the bar's end. */
export type TdxBar = Omit<SyntheticBar, "timestamp"> & { timestamp: string };

export function realDataPath(file: string): string {
  return new URL(file, REAL_DATA).pathname;
}

/**
 * Reads a TDX export into bars in file order. The header names `datetime` twice (the second is
 * `YYYY-MM-DD HH:MM`); papaparse 5.7 would rename it `datetime_1` and console.warn about it, so
 * it is named here explicitly. Volume comes from `volume` (the file also has `vol`); every value
 * goes through Number() so denormals such as 5.877471754111438e-39 survive as they are.
 */
export async function readTdxBars(file: string): Promise<TdxBar[]> {
  const text = await Bun.file(realDataPath(file)).text();
  const parsed = Papa.parse<Record<string, string>>(text, {
    header: true,
    skipEmptyLines: true,
    transformHeader: (header, index) => (header === "datetime" && index > 0 ? "datetime_minute" : header),
  });
  if (parsed.errors.length > 0) {
    throw new Error(`${file}: ${parsed.errors.length} parse errors, first: ${parsed.errors[0]!.message}`);
  }
  const fields = parsed.meta.fields ?? [];
  for (const required of ["datetime", "datetime_minute", "open", "high", "low", "close", "vol", "volume", "amount"]) {
    if (!fields.includes(required)) throw new Error(`${file}: header lacks ${required} (has ${fields.join(",")})`);
  }
  return parsed.data.map((record, index) => {
    const timestamp = record.datetime!;
    // The first datetime column is the full one; the second repeats it without seconds.
    if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(timestamp) || !timestamp.startsWith(record.datetime_minute!)) {
      throw new Error(`${file} row ${index}: unexpected datetime ${timestamp} / ${record.datetime_minute}`);
    }
    return {
      timestamp,
      open: number(record.open, file, index),
      high: number(record.high, file, index),
      low: number(record.low, file, index),
      close: number(record.close, file, index),
      volume: number(record.volume, file, index),
      amount: number(record.amount, file, index),
    };
  });
}

function number(text: string | undefined, file: string, row: number): number {
  const value = Number(text);
  if (text === undefined || text.trim() === "" || !Number.isFinite(value)) {
    throw new Error(`${file} row ${row}: not a number: ${JSON.stringify(text)}`);
  }
  return value;
}

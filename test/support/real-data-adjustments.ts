/**
 * The real adjustment files of China Merchants Bank (600036) in test/fixtures (see
 * test/fixtures/adjustments/README.md): Tushare's raw prices with its factors and its own
 * adjusted prices, baostock's raw and forward-adjusted daily bars, and the TDX ex-rights events.
 * Reading vendor files is the importer's job in another change; these readers only turn the
 * files into what the domain functions take, and refuse anything they do not expect.
 */
import Papa from "papaparse";
import type { Bar } from "../../src/domain/bar.ts";
import type { CorporateAction } from "../../src/domain/corporate-action.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
export const SHANGHAI = "Asia/Shanghai";
export const PRICE_FIELDS = ["open", "high", "low", "close"] as const;

async function readCsv(path: string): Promise<Record<string, string>[]> {
  const parsed = Papa.parse<Record<string, string>>(await Bun.file(FIXTURES + path).text(), { header: true, skipEmptyLines: true });
  if (parsed.errors.length > 0) throw new Error(`${path}: ${parsed.errors[0]!.message}`);
  return parsed.data;
}

function numberOf(row: Record<string, string>, field: string, index: number): number {
  const value = Number(row[field]);
  if (row[field] === undefined || row[field]!.trim() === "" || !Number.isFinite(value)) throw new Error(`row ${index}: ${field} ${JSON.stringify(row[field])}`);
  return value;
}

/** `20240711` as `2024-07-11`. */
export function isoDate(compact: string): string {
  if (!/^\d{8}$/.test(compact)) throw new Error(`not a compact date: ${JSON.stringify(compact)}`);
  return `${compact.slice(0, 4)}-${compact.slice(4, 6)}-${compact.slice(6, 8)}`;
}

/** A daily bar of `date`, stamped at its local midnight in Shanghai, volume and amount absent. */
function dayBar(date: string, prices: Record<(typeof PRICE_FIELDS)[number], number>, volume: number | null = null): Bar {
  return { timestamp: Date.parse(`${date}T00:00:00+08:00`), ...prices, volume, amount: null };
}

export interface TushareDay {
  date: string;
  raw: Bar;
  factor: number;
  /** The vendor's own adjusted prices, as printed. */
  qfq: Record<(typeof PRICE_FIELDS)[number], number>;
  hfq: Record<(typeof PRICE_FIELDS)[number], number>;
}

/** Tushare `stk_factor` of 600036, oldest first (the file is newest first, every column prefixed). */
export async function readTushareFactors(): Promise<TushareDay[]> {
  const rows = await readCsv("adjustments/600036.SH-tushare-stk_factor-2023-2025.csv");
  return rows.map((prefixed, index) => {
    const row = Object.fromEntries(Object.entries(prefixed).map(([key, value]) => [key.replace(/^indiv_techin_/, ""), value]));
    const pick = (suffix: string) => Object.fromEntries(PRICE_FIELDS.map((field) => [field, numberOf(row, field + suffix, index)])) as TushareDay["qfq"];
    const date = isoDate(row.trade_date!);
    return { date, raw: dayBar(date, pick("")), factor: numberOf(row, "adj_factor", index), qfq: pick("_qfq"), hfq: pick("_hfq") };
  }).reverse();
}

/** baostock's raw daily bars of 600036, 2005-2021, oldest first (suspended days: volume 0). */
export async function readBaostockRaw(): Promise<Bar[]> {
  const rows = await readCsv("calendar/sh.600036-baostock-raw-2005-2021.csv");
  return rows.map((row, index) => dayBar(row.date!, {
    open: numberOf(row, "open", index),
    high: numberOf(row, "high", index),
    low: numberOf(row, "low", index),
    close: numberOf(row, "close", index),
  }, numberOf(row, "volume", index)));
}

/** baostock's forward-adjusted daily bars of 600036 (fetched about 2020-08-24), as printed, by date. */
export async function readBaostockQfq(): Promise<Map<string, Record<(typeof PRICE_FIELDS)[number], number> & { volume: number }>> {
  const rows = await readCsv("vendor/sh.600036-baostock-qfq-2000-2020.csv");
  return new Map(rows.map((row, index) => [row.date!, {
    open: numberOf(row, "open", index),
    high: numberOf(row, "high", index),
    low: numberOf(row, "low", index),
    close: numberOf(row, "close", index),
    volume: numberOf(row, "volume", index),
  }]));
}

/**
 * The TDX events of 600036 as corporate actions per share (TDX gives cash, bonus+transfer and
 * rights per 10 shares), only the amounts present.
 */
export async function readTdxActions(): Promise<CorporateAction[]> {
  const rows = await readCsv("adjustments/600036-tdx-gbbq-xdxr-events-1990-2020.csv");
  return rows.map((row, index) => {
    if (row.category !== "1") throw new Error(`row ${index}: category ${row.category} is not an ex-rights event`);
    const action: CorporateAction = { date: isoDate(row.date!) };
    const cash = numberOf(row, "cash_per10", index) / 10;
    const bonus = numberOf(row, "bonus_transfer_per10", index) / 10;
    const rights = numberOf(row, "rights_per10", index) / 10;
    const rightsPrice = numberOf(row, "rights_price", index);
    if (cash > 0) action.cash = cash;
    if (bonus > 0) action.bonus = bonus;
    if (rights > 0) Object.assign(action, { rights, rightsPrice });
    return action;
  });
}

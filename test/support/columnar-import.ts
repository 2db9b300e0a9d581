/**
 * The file both columnar import tests (test/import/parquet.test.ts, arrow.test.ts) build in their
 * own format, pandas-shaped: 600519.SH at 09:31 and 09:32 and 000001.SZ at 09:31 on 2024-01-02 in
 * Shanghai (naive nanoseconds), a close with a null, an int64 volume, a symbol column and a note.
 */
import { expect } from "bun:test";
import type { Database } from "../../src/mod.ts";

/** The naive nanosecond times: 09:31 and 09:32 of 2024-01-02 as a Shanghai wall clock, then 09:31 again. */
export const PANDAS_NANOS = [1_704_187_860_000_000_000n, 1_704_187_920_000_000_000n, 1_704_187_860_000_000_000n];
export const PANDAS_CLOSE = [10.5, null, 3];
export const PANDAS_VOLUME = [1200n, 300n, 5n];
export const PANDAS_SYMBOLS = ["600519.SH", "600519.SH", "000001.SZ"];
/** What the import says of the file. */
export const PANDAS_SUMMARY = { rows: 3, written: 3, symbols: { "600519.SH": 2, "000001.SZ": 1 }, ignored: ["note"], symbolColumn: "symbol" };

/** The stored bars are the file's: UTC instants, nulls kept, the volume as a number. */
export function expectPandasBars(db: Database): void {
  const t0 = Date.UTC(2024, 0, 2, 1, 31);
  expect(db.getBars("600519.SH")).toEqual([
    { timestamp: t0, open: null, high: null, low: null, close: 10.5, volume: 1200, amount: null },
    { timestamp: t0 + 60_000, open: null, high: null, low: null, close: null, volume: 300, amount: null },
  ]);
  expect(db.getBars("000001.SZ")).toEqual([{ timestamp: t0, open: null, high: null, low: null, close: 3, volume: 5, amount: null }]);
}

/** A write for files that must be refused before their first batch. */
export async function refusingWrite(): Promise<number> {
  throw new Error("nothing may be written");
}

/**
 * src/import/parquet.ts on files other writers make: pandas' shapes (naive nanosecond
 * timestamps, a symbol column, columns missing or extra, names in other cases), written here with
 * hyparquet-writer and stored in a real SQLite file.
 */
import { afterAll, expect, test } from "bun:test";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { importParquetFile } from "../../src/entries/import.ts";
import { BarFileError } from "../../src/import/header.ts";
import { openDatabase } from "../../src/mod.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-parquet-");
afterAll(() => dir.cleanup());

/** A Parquet file of the given schema (after the root) and columns. */
function parquetFile(schema: object[], columnData: { name: string; data: unknown[] }[]): Blob {
  const out = new ByteWriter();
  const writer = new ParquetWriter({ writer: out, schema: [{ name: "schema", num_children: schema.length }, ...schema] as never });
  void writer.write({ columnData: columnData as never });
  writer.finish();
  return new Blob([out.getBuffer()]);
}

test("naive nanosecond times are read in the zone given, a symbol column splits the rows, missing columns are NULL, others are named", async () => {
  const db = openDatabase({ path: dir.file("naive.db") });
  const file = parquetFile(
    [
      { name: "Timestamp", type: "INT64", repetition_type: "OPTIONAL", logical_type: { type: "TIMESTAMP", isAdjustedToUTC: false, unit: "NANOS" } },
      { name: "Close", type: "DOUBLE", repetition_type: "OPTIONAL" },
      { name: "volume", type: "INT64", repetition_type: "OPTIONAL" },
      { name: "symbol", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
      { name: "note", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
    ],
    [
      // 2024-01-02 09:31 and 09:32 in Shanghai, as pandas writes a naive datetime64[ns].
      { name: "Timestamp", data: [1_704_187_860_000_000_000n, 1_704_187_920_000_000_000n, 1_704_187_860_000_000_000n] },
      { name: "Close", data: [10.5, null, 3] },
      { name: "volume", data: [1200n, 300n, 5n] },
      { name: "symbol", data: ["600519.SH", "600519.SH", "000001.SZ"] },
      { name: "note", data: ["a", "b", "c"] },
    ],
  );
  const summary = await importParquetFile(file, { timeZone: "Asia/Shanghai", write: async (bars, _rows, symbol) => db.insertBars(symbol!, bars) });
  expect(summary).toMatchObject({ rows: 3, written: 3, symbols: { "600519.SH": 2, "000001.SZ": 1 }, ignored: ["note"], symbolColumn: "symbol" });
  const t0 = Date.UTC(2024, 0, 2, 1, 31);
  expect(db.getBars("600519.SH")).toEqual([
    { timestamp: t0, open: null, high: null, low: null, close: 10.5, volume: 1200, amount: null },
    { timestamp: t0 + 60_000, open: null, high: null, low: null, close: null, volume: 300, amount: null },
  ]);
  expect(db.getBars("000001.SZ")).toEqual([{ timestamp: t0, open: null, high: null, low: null, close: 3, volume: 5, amount: null }]);
  db.close();
});

test("a file without a timestamp column, or with a text price, is refused before anything is written", async () => {
  const write = async () => {
    throw new Error("nothing may be written");
  };
  const noTime = parquetFile([{ name: "close", type: "DOUBLE", repetition_type: "OPTIONAL" }], [{ name: "close", data: [1] }]);
  await expect(importParquetFile(noTime, { timeZone: "UTC", write })).rejects.toThrow("no timestamp column (columns: close); nothing was written");
  const textPrice = parquetFile(
    [{ name: "timestamp", type: "INT64", repetition_type: "REQUIRED" }, { name: "close", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" }],
    [{ name: "timestamp", data: [1_704_159_060_000n] }, { name: "close", data: ["10.5"] }],
  );
  await expect(importParquetFile(textPrice, { timeZone: "UTC", write })).rejects.toThrow(BarFileError);
  await expect(importParquetFile(textPrice, { timeZone: "UTC", write })).rejects.toThrow("column close is BYTE_ARRAY; a bar value is a number");
});

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
import { expectPandasBars, PANDAS_CLOSE, PANDAS_NANOS, PANDAS_SUMMARY, PANDAS_SYMBOLS, PANDAS_VOLUME, refusingWrite } from "../support/columnar-import.ts";
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
      { name: "Timestamp", data: PANDAS_NANOS },
      { name: "Close", data: PANDAS_CLOSE },
      { name: "volume", data: PANDAS_VOLUME },
      { name: "symbol", data: PANDAS_SYMBOLS },
      { name: "note", data: ["a", "b", "c"] },
    ],
  );
  const summary = await importParquetFile(file, { timeZone: "Asia/Shanghai", write: async (bars, _rows, symbol) => db.insertBars(symbol!, bars) });
  expect(summary).toMatchObject(PANDAS_SUMMARY);
  expectPandasBars(db);
  db.close();
});

test("a file without a timestamp column, or with a text price, is refused before anything is written", async () => {
  const write = refusingWrite;
  const noTime = parquetFile([{ name: "close", type: "DOUBLE", repetition_type: "OPTIONAL" }], [{ name: "close", data: [1] }]);
  await expect(importParquetFile(noTime, { timeZone: "UTC", write })).rejects.toThrow("no timestamp column (columns: close); nothing was written");
  const textPrice = parquetFile(
    [{ name: "timestamp", type: "INT64", repetition_type: "REQUIRED" }, { name: "close", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" }],
    [{ name: "timestamp", data: [1_704_159_060_000n] }, { name: "close", data: ["10.5"] }],
  );
  await expect(importParquetFile(textPrice, { timeZone: "UTC", write })).rejects.toThrow(BarFileError);
  await expect(importParquetFile(textPrice, { timeZone: "UTC", write })).rejects.toThrow("column close is BYTE_ARRAY; a bar value is a number");
});

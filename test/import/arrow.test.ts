/**
 * src/import/arrow.ts on files other writers make: pandas' to_feather shapes (a naive nanosecond
 * timestamp, an int64 volume, nulls, a symbol column, an extra column), built here with
 * apache-arrow and stored in a real SQLite file.
 */
import { afterAll, expect, test } from "bun:test";
import { Float64, Int64, makeData, makeVector, tableFromArrays, tableToIPC, TimestampNanosecond, vectorFromArray, Table, Utf8 } from "apache-arrow";
import { importArrowFile } from "../../src/entries/import.ts";
import { openDatabase } from "../../src/mod.ts";
import { expectPandasBars, PANDAS_CLOSE, PANDAS_NANOS, PANDAS_SUMMARY, PANDAS_SYMBOLS, PANDAS_VOLUME, refusingWrite } from "../support/columnar-import.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-arrow-");
afterAll(() => dir.cleanup());

test("naive nanosecond times are read in the zone given, a symbol column splits the rows, nulls stay null, other columns are named", async () => {
  const db = openDatabase({ path: dir.file("arrow.db") });
  const table = new Table({
    Timestamp: makeVector(makeData({ type: new TimestampNanosecond(), length: 3, data: new BigInt64Array(PANDAS_NANOS) })),
    Close: vectorFromArray(PANDAS_CLOSE, new Float64()),
    volume: makeVector(new BigInt64Array(PANDAS_VOLUME)),
    symbol: vectorFromArray(PANDAS_SYMBOLS, new Utf8()),
    note: tableFromArrays({ note: ["a", "b", "c"] }).getChild("note")!,
  });
  expect(table.getChild("volume")!.type).toBeInstanceOf(Int64);
  for (const format of ["file", "stream"] as const) {
    const summary = await importArrowFile(new Blob([tableToIPC(table, format)]), { timeZone: "Asia/Shanghai", write: async (bars, _rows, symbol) => db.insertBars(symbol!, bars) });
    expect(summary).toMatchObject(PANDAS_SUMMARY);
  }
  expectPandasBars(db);
  db.close();
});

test("a Feather v1 file and a text file are refused by name, before anything is written", async () => {
  const write = refusingWrite;
  await expect(importArrowFile(new Blob(["FEA1....."]), { timeZone: "UTC", write })).rejects.toThrow("a Feather v1 file");
  await expect(importArrowFile(new Blob(["timestamp,close\n"]), { timeZone: "UTC", write })).rejects.toThrow("not an Arrow IPC file or stream");
});

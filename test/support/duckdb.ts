/**
 * DuckDB (the npm @duckdb/node-api package, a devDependency) as a real second reader of the
 * Parquet files tradelite writes: its own C++ Parquet reader, not the library that wrote them.
 */
import { DuckDBInstance } from "@duckdb/node-api";
import type { Bar } from "../../src/mod.ts";

/** The bars of a Parquet file as DuckDB reads them, in file order, and the type it gives each column. */
export async function readParquetWithDuckDb(path: string): Promise<{ bars: Bar[]; types: Record<string, string> }> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    // The path is a bound parameter, never SQL text.
    const described = await connection.runAndReadAll("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($1))", [path]);
    const types = Object.fromEntries(described.getRows().map(([name, type]) => [String(name), String(type)]));
    const read = await connection.runAndReadAll(
      "SELECT epoch_ms(timestamp), open, high, low, close, volume, amount FROM read_parquet($1, file_row_number = true) ORDER BY file_row_number",
      [path],
    );
    const bars = read.getRows().map(([timestamp, open, high, low, close, volume, amount]) => ({
      timestamp: Number(timestamp as bigint),
      open: open as number | null,
      high: high as number | null,
      low: low as number | null,
      close: close as number | null,
      volume: volume as number | null,
      amount: amount as number | null,
    }));
    return { bars, types };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

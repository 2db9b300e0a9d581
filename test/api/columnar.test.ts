/**
 * GET /v1/bars/{symbol}?format=parquet|arrow from a real server on a loopback port: the answer
 * streams (a row group at a time), DuckDB reads the Parquet and Arrow the IPC stream back to the
 * stored rows, NULLs included, and the typed client passes both formats through.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { tableFromIPC } from "apache-arrow";
import { createClient } from "../../src/entries/client.ts";
import { startServer, type RunningServer } from "../../src/entries/api.ts";
import { openStore, type Bar, type Store } from "../../src/mod.ts";
import { readParquetWithDuckDb } from "../support/duckdb.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-api-columnar-");
let store: Store;
let server: RunningServer;
let stored: Bar[] = [];
/** More than two row groups (65,536 bars each), so the answer comes in several pieces. */
const COUNT = 140_000;

beforeAll(async () => {
  store = await openStore({ backend: "sqlite", path: dir.file("trading.db") });
  const timestamp = Float64Array.from({ length: COUNT }, (_, i) => Date.UTC(2024, 0, 2, 1, 31) + i * 60_000);
  const close = Array.from({ length: COUNT }, (_, i) => (i % 997 === 0 ? null : 10 + (i % 500) / 100));
  await store.insertBars("600519.SH", { timestamp, open: close, high: close, low: close, close, volume: Array.from(close, (_, i) => (i === 7 ? 5.877471754111438e-39 : i)), amount: close });
  stored = await store.getBars("600519.SH");
  server = startServer(store, { port: 0 });
});

afterAll(async () => {
  await server.stop();
  await store.close();
  dir.cleanup();
});

/** Arrow rows as bars: the timestamp comes as a number of ms. */
function arrowBars(bytes: Uint8Array): Bar[] {
  return tableFromIPC(bytes).toArray().map((row) => {
    const { timestamp, ...values } = row.toJSON() as Record<string, number | null>;
    return { timestamp: Number(timestamp), ...values } as Bar;
  });
}

describe("GET /v1/bars/{symbol} in columnar formats", () => {
  test("format=parquet streams row group by row group, and DuckDB reads the stored rows exactly", async () => {
    const answer = await fetch(`${server.url}/v1/bars/600519.SH?format=parquet`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toBe("application/vnd.apache.parquet");
    let pieces = 0;
    const chunks: Uint8Array[] = [];
    for await (const chunk of answer.body!) {
      pieces++;
      chunks.push(chunk);
    }
    expect(pieces).toBeGreaterThanOrEqual(3);
    const file = dir.file("answer.parquet");
    writeFileSync(file, Buffer.concat(chunks));
    expect((await readParquetWithDuckDb(file)).bars).toEqual(stored);
  });

  test("format=arrow is the Arrow IPC stream format, read back to the stored rows", async () => {
    const answer = await fetch(`${server.url}/v1/bars/600519.SH?format=arrow&start=2024-01-03&end=2024-01-04`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toBe("application/vnd.apache.arrow.stream");
    const expected = await store.getBars("600519.SH", { start: "2024-01-03", end: "2024-01-04" });
    expect(expected.length).toBeGreaterThan(0);
    expect(arrowBars(new Uint8Array(await answer.arrayBuffer()))).toEqual(expected);
  });

  test("an empty range is still a whole file with the bar's columns", async () => {
    const answer = await fetch(`${server.url}/v1/bars/600519.SH?format=parquet&start=2030-01-01`);
    expect(answer.status).toBe(200);
    const file = dir.file("empty.parquet");
    writeFileSync(file, new Uint8Array(await answer.arrayBuffer()));
    const { bars, types } = await readParquetWithDuckDb(file);
    expect(bars).toEqual([]);
    expect(Object.keys(types)).toEqual(["timestamp", "open", "high", "low", "close", "volume", "amount"]);
  });

  test("the typed client's exportBars passes parquet and arrow through", async () => {
    const client = createClient({ url: server.url });
    const parquet = await new Response(await client.exportBars("600519.SH", { limit: 100 }, "parquet")).arrayBuffer();
    const file = dir.file("client.parquet");
    writeFileSync(file, new Uint8Array(parquet));
    expect((await readParquetWithDuckDb(file)).bars).toEqual(stored.slice(0, 100));
    const arrow = await new Response(await client.exportBars("600519.SH", { limit: 100 }, "arrow")).arrayBuffer();
    expect(arrowBars(new Uint8Array(arrow))).toEqual(stored.slice(0, 100));
  });

  test("an unknown format is a 422 naming the formats", async () => {
    const answer = await fetch(`${server.url}/v1/bars/600519.SH?format=feather`);
    expect(answer.status).toBe(422);
    expect(await answer.text()).toContain("parquet");
  });
});

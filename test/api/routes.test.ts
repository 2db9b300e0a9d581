/**
 * Every route of the HTTP API (src/api), in process through app.request(), over a real SQLite
 * file (and a real SessionCache for /v1/cache). Answers are checked against what the store holds
 * afterwards, read back through the store; every refusal is checked for the one error shape and
 * for having written nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { Database as RawDatabase } from "bun:sqlite";
import { createApp, defaultBackupDir } from "../../src/api/app.ts";
import { LOCAL_ACTOR } from "../../src/api/security.ts";
import { openDatabase, openStore, type Bar, type Store } from "../../src/mod.ts";
import {
  call,
  closeApiFixtures,
  expectError,
  minuteBars,
  openApiFixture,
  resample,
  snapshot,
  storeThrowing,
  type App,
} from "../support/api.ts";
import { cacheDataLines, cacheFileBars, EXPECTED_CSV_HEADER, expectSameBars, readCacheLine } from "../support/cache-invariants.ts";
import { csvLine } from "../support/cache-retention.ts";
import { readTdxBars, TDX_ETF_5MIN_DESC, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";

afterEach(closeApiFixtures);

/** 2024-01-02 01:30 UTC (09:30 in Shanghai). */
const T0 = Date.UTC(2024, 0, 2, 1, 30);
const MIN = 60_000;
const TOKEN = "a-long-secret-token-1";
const BOB_TOKEN = "bobs-long-secret-token-2";
const TOKENS = [
  { name: "alice", token: TOKEN },
  { name: "bob", token: BOB_TOKEN },
];

/** Bars as the cache file's CSV (header and lines written by test code, not by src). */
function csvOf(bars: readonly Bar[]): string {
  return `${EXPECTED_CSV_HEADER}\n${bars.map(csvLine).join("")}`;
}

/** A CSV export's bars, read by test code. */
function barsOfCsv(text: string): Bar[] {
  return cacheDataLines(text).map(readCacheLine);
}

function barsOfNdjson(text: string): Bar[] {
  expect(text.endsWith("\n")).toBe(true);
  return text.slice(0, -1).split("\n").map((line) => JSON.parse(line) as Bar);
}

/** Naive Shanghai "YYYY-MM-DD HH:MM:SS" as epoch ms. */
function shanghai(text: string): number {
  return Date.parse(`${text.replace(" ", "T")}+08:00`);
}

async function tdxBars(file: string): Promise<Bar[]> {
  return (await readTdxBars(file)).map((bar) => ({ ...bar, timestamp: shanghai(bar.timestamp) }));
}

async function auditSince(store: Store, afterId: number) {
  return (await store.audit.query()).filter((entry) => entry.id > afterId);
}

async function lastAuditId(store: Store): Promise<number> {
  return (await store.audit.head())?.id ?? 0;
}

/** A body that arrives in chunks, without a Content-Length. */
function chunked(text: string, chunkSize = 512): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

// ---------------------------------------------------------------------------------------------

describe("GET /health and GET /v1/symbols", () => {
  test("health names the backend, the store's timezone, the database file and its journal mode", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "GET", "/health");
    expect(answer.status).toBe(200);
    const info = await f.store.maintenance.info();
    expect(answer.body).toEqual({
      status: "ok",
      version: expect.any(String),
      backend: "sqlite",
      timezone: f.store.timezone,
      barTimestamp: "start",
      calendar: null,
      db: { path: f.dbPath, journalMode: "wal", sizeBytes: info.fileBytes + info.walBytes },
    });
    expect(answer.body.version).toBe((await Bun.file(new URL("../../package.json", import.meta.url)).json()).version);
  });

  test("symbols is the store's overview: count, first and last bar per symbol", async () => {
    const f = await openApiFixture();
    expect((await call(f.app, "GET", "/v1/symbols")).body).toEqual([]);
    await f.store.insertBars("AAA", minuteBars(T0, 5));
    await f.store.insertBars("BBB.SH", minuteBars(T0 + 10 * MIN, 3));
    const answer = await call(f.app, "GET", "/v1/symbols");
    expect(answer.status).toBe(200);
    const bySymbol: Record<string, unknown> = Object.fromEntries((answer.body as { symbol: string }[]).map((row) => [row.symbol, row]));
    expect(bySymbol).toEqual({
      AAA: { symbol: "AAA", count: 5, start: T0, end: T0 + 4 * MIN },
      "BBB.SH": { symbol: "BBB.SH", count: 3, start: T0 + 10 * MIN, end: T0 + 12 * MIN },
    });
    expect(answer.body).toEqual(await f.store.overview());
  });
});

// ---------------------------------------------------------------------------------------------

describe("/v1/bars/{symbol}", () => {
  const bars = minuteBars(T0, 12);

  describe("POST (JSON)", () => {
    test("writes the bars; the store reads back exactly what was sent", async () => {
      const f = await openApiFixture();
      const answer = await call(f.app, "POST", "/v1/bars/600519.SH", { json: bars });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ written: bars.length });
      expectSameBars(await f.store.getBars("600519.SH"), bars);
    });

    test("ISO-8601 timestamps (with an offset, or naive in the store's zone) and nulls", async () => {
      const f = await openApiFixture({ timezone: "Asia/Shanghai" });
      const answer = await call(f.app, "POST", "/v1/bars/X", {
        json: [
          { timestamp: "2024-01-02 09:31", open: 1, high: 2, low: 0.5, close: 1.5, volume: null, amount: null },
          { timestamp: "2024-01-02T01:32:00Z", open: 1.5, high: 1.5, low: 1.5, close: 1.5 },
        ],
      });
      expect(answer.body).toEqual({ written: 2 });
      const stored = await f.store.getBars("X");
      expect(stored).toEqual([
        { timestamp: T0 + MIN, open: 1, high: 2, low: 0.5, close: 1.5, volume: null, amount: null },
        { timestamp: T0 + 2 * MIN, open: 1.5, high: 1.5, low: 1.5, close: 1.5, volume: null, amount: null },
      ]);
    });

    test("an upsert: the same timestamp again replaces the bar, and counts once", async () => {
      const f = await openApiFixture();
      await call(f.app, "POST", "/v1/bars/AAA", { json: bars.slice(0, 3) });
      const changed = { ...bars[1]!, close: bars[1]!.open, volume: 1 };
      const answer = await call(f.app, "POST", "/v1/bars/AAA", { json: [changed, changed] });
      expect(answer.body).toEqual({ written: 1 });
      expectSameBars(await f.store.getBars("AAA"), [bars[0]!, changed, bars[2]!]);
    });

    test("a percent-encoded symbol with a slash or non-ASCII letters is the decoded symbol", async () => {
      const f = await openApiFixture();
      for (const symbol of ["BTC/USDT", "贵州茅台"]) {
        const answer = await call(f.app, "POST", `/v1/bars/${encodeURIComponent(symbol)}`, { json: bars.slice(0, 2) });
        expect(answer.body).toEqual({ written: 2 });
        expectSameBars(await f.store.getBars(symbol), bars.slice(0, 2));
        expect((await call(f.app, "GET", `/v1/bars/${encodeURIComponent(symbol)}/latest`)).body).toEqual(bars[1]!);
      }
    });
  });

  describe("GET", () => {
    test("format=json (the default) is the store's bars", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const plain = await call(f.app, "GET", "/v1/bars/AAA");
      expect(plain.status).toBe(200);
      expect(plain.headers.get("content-type")).toStartWith("application/json");
      expectSameBars(plain.body, bars);
      const explicit = await call(f.app, "GET", "/v1/bars/AAA?format=json");
      expect(explicit.text).toBe(plain.text);
      expect(plain.body).toEqual(await f.store.getBars("AAA"));
    });

    test("an unknown symbol has no bars: [] (json), the header alone (csv), nothing (ndjson)", async () => {
      const f = await openApiFixture();
      expect((await call(f.app, "GET", "/v1/bars/NOPE")).body).toEqual([]);
      expect((await call(f.app, "GET", "/v1/bars/NOPE?format=csv")).text).toBe(`${EXPECTED_CSV_HEADER}\n`);
      expect((await call(f.app, "GET", "/v1/bars/NOPE?format=ndjson")).text).toBe("");
    });

    test("format=csv is the cache file's format, value for value", async () => {
      const f = await openApiFixture();
      const withNulls = [...bars, { timestamp: T0 + 100 * MIN, open: 5, high: 5, low: 5, close: 5, volume: null, amount: null }];
      await f.store.insertBars("AAA", withNulls);
      const answer = await call(f.app, "GET", "/v1/bars/AAA?format=csv");
      expect(answer.status).toBe(200);
      expect(answer.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(answer.text).toBe(csvOf(withNulls));
      expectSameBars(barsOfCsv(answer.text), await f.store.getBars("AAA"));
    });

    test("format=ndjson is one bar object per line", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const answer = await call(f.app, "GET", "/v1/bars/AAA?format=ndjson");
      expect(answer.status).toBe(200);
      expect(answer.headers.get("content-type")).toBe("application/x-ndjson");
      expectSameBars(barsOfNdjson(answer.text), await f.store.getBars("AAA"));
      expect(barsOfNdjson(answer.text)).toEqual(bars);
    });

    test("start and end are inclusive, as epoch ms or ISO-8601", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const byMs = await call(f.app, "GET", `/v1/bars/AAA?start=${T0 + 2 * MIN}&end=${T0 + 5 * MIN}`);
      expectSameBars(byMs.body, bars.slice(2, 6));
      const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
      const byIso = await call(f.app, "GET", `/v1/bars/AAA?start=${iso(T0 + 2 * MIN)}&end=${iso(T0 + 5 * MIN)}&format=csv`);
      expectSameBars(barsOfCsv(byIso.text), bars.slice(2, 6));
      const openEnded = await call(f.app, "GET", `/v1/bars/AAA?start=${T0 + 9 * MIN}&format=ndjson`);
      expectSameBars(barsOfNdjson(openEnded.text), bars.slice(9));
    });

    test("naive ISO timestamps in the query are read in the store's zone", async () => {
      const f = await openApiFixture({ timezone: "Asia/Shanghai" });
      await f.store.insertBars("AAA", bars);
      const answer = await call(f.app, "GET", `/v1/bars/AAA?start=${encodeURIComponent("2024-01-02 09:33")}&end=${encodeURIComponent("2024-01-02 09:34")}`);
      expectSameBars(answer.body, bars.slice(3, 5));
    });

    test("order=desc and limit: the newest first, at most limit", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const desc = await call(f.app, "GET", "/v1/bars/AAA?order=desc&limit=3");
      expectSameBars(desc.body, [bars[11]!, bars[10]!, bars[9]!]);
      const asc = await call(f.app, "GET", "/v1/bars/AAA?order=asc&limit=2&format=csv");
      expectSameBars(barsOfCsv(asc.text), bars.slice(0, 2));
      const nd = await call(f.app, "GET", "/v1/bars/AAA?order=desc&limit=4&format=ndjson");
      expectSameBars(barsOfNdjson(nd.text), bars.slice(8).reverse());
    });

    test("interval resamples: open first, high max, low min, close last, sums (start-stamped)", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const expected = resample(bars, 5 * MIN, "start");
      expect(expected.length).toBe(3);
      const answer = await call(f.app, "GET", "/v1/bars/AAA?interval=5m");
      expect(answer.status).toBe(200);
      expectSameBars(answer.body, expected);
      expect(answer.body).toEqual(await f.store.getBars("AAA", { interval: "5m" }));
      const csv = await call(f.app, "GET", "/v1/bars/AAA?interval=5m&format=csv");
      expectSameBars(barsOfCsv(csv.text), expected);
      const hourly = await call(f.app, "GET", "/v1/bars/AAA?interval=1h&format=ndjson");
      expectSameBars(barsOfNdjson(hourly.text), resample(bars, 60 * MIN, "start"));
    });

    test("barTimestamp=end buckets (start, end] and labels each bucket by its end", async () => {
      const f = await openApiFixture();
      const endStamped = minuteBars(T0 + MIN, 10);
      await f.store.insertBars("AAA", endStamped);
      const expected = resample(endStamped, 5 * MIN, "end");
      expect(expected.map((bar) => bar.timestamp)).toEqual([T0 + 5 * MIN, T0 + 10 * MIN]);
      const answer = await call(f.app, "GET", "/v1/bars/AAA?interval=5m&barTimestamp=end");
      expectSameBars(answer.body, expected);
    });

    test("interval with a range, order and limit together", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const answer = await call(f.app, "GET", `/v1/bars/AAA?interval=5m&start=${T0 + MIN}&order=desc&limit=2`);
      const expected = resample(bars.slice(1), 5 * MIN).reverse().slice(0, 2);
      expectSameBars(answer.body, expected);
    });
  });

  describe("GET /v1/bars/{symbol}/latest", () => {
    test("the newest bar, as the store has it", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", [bars[3]!, bars[7]!, bars[1]!]);
      const answer = await call(f.app, "GET", "/v1/bars/AAA/latest");
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual(bars[7]!);
      expect(answer.body).toEqual(await f.store.latestBar("AAA"));
    });

    test("404 for a symbol without bars", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const error = expectError(await call(f.app, "GET", "/v1/bars/ZZZ/latest"), 404, "NOT_FOUND");
      expect(error.message).toContain("ZZZ");
    });
  });

  describe("DELETE", () => {
    test("an inclusive range deletes those bars only", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      await f.store.insertBars("BBB", bars);
      const answer = await call(f.app, "DELETE", `/v1/bars/AAA?start=${T0 + 2 * MIN}&end=${T0 + 4 * MIN}`);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ deleted: 3 });
      expectSameBars(await f.store.getBars("AAA"), [...bars.slice(0, 2), ...bars.slice(5)]);
      expectSameBars(await f.store.getBars("BBB"), bars);
    });

    test("start alone deletes from there on; all=true deletes every bar of the symbol", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      await f.store.insertBars("BBB", bars);
      expect((await call(f.app, "DELETE", `/v1/bars/AAA?start=${T0 + 10 * MIN}`)).body).toEqual({ deleted: 2 });
      expectSameBars(await f.store.getBars("AAA"), bars.slice(0, 10));
      expect((await call(f.app, "DELETE", "/v1/bars/AAA?all=true")).body).toEqual({ deleted: 10 });
      expect(await f.store.getBars("AAA")).toEqual([]);
      expectSameBars(await f.store.getBars("BBB"), bars);
    });

    test("422 without a range or all=true, or with both; nothing is deleted", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const before = await snapshot(f.store, ["AAA"]);
      const none = expectError(await call(f.app, "DELETE", "/v1/bars/AAA"), 422, "VALIDATION");
      expect(none.details).toEqual([{ field: "start", message: expect.any(String) }]);
      const both = expectError(await call(f.app, "DELETE", `/v1/bars/AAA?all=true&start=${T0}`), 422, "VALIDATION");
      expect(both.details).toEqual([{ field: "all", message: expect.any(String) }]);
      expectError(await call(f.app, "DELETE", "/v1/bars/AAA?all=yes"), 422, "VALIDATION");
      expect(await snapshot(f.store, ["AAA"])).toEqual(before);
    });

    test("422 for a misspelled range key (it must not widen into a delete of everything)", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const before = await snapshot(f.store, ["AAA"]);
      const error = expectError(await call(f.app, "DELETE", `/v1/bars/AAA?startTime=${T0}&all=true`), 422, "VALIDATION");
      expect(error.details).toEqual([{ field: "startTime", message: expect.any(String) }]);
      expect(await snapshot(f.store, ["AAA"])).toEqual(before);
    });

    test("422 for start after end; nothing is deleted", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const before = await snapshot(f.store, ["AAA"]);
      const error = expectError(await call(f.app, "DELETE", `/v1/bars/AAA?start=${T0 + 5 * MIN}&end=${T0}`), 422, "VALIDATION");
      expect((error.details as { field: string }[]).map((issue) => issue.field)).toContain("start");
      expect(await snapshot(f.store, ["AAA"])).toEqual(before);
    });
  });

  describe("real TDX data", () => {
    test("CSV round trip: the 1-minute index file uploaded as CSV, exported as CSV, equals the store", async () => {
      const f = await openApiFixture();
      const source = await tdxBars(TDX_INDEX_1MIN);
      expect(source.length).toBe(24_000);
      const upload = await call(f.app, "POST", "/v1/bars/000001.SH", { csv: csvOf(source) });
      expect({ status: upload.status, text: upload.text.slice(0, 300) }).toEqual({ status: 200, text: JSON.stringify({ written: 24_000 }) });
      const stored = await f.store.getBars("000001.SH");
      expectSameBars(stored, source);
      const exported = await call(f.app, "GET", "/v1/bars/000001.SH?format=csv");
      expect(exported.status).toBe(200);
      expectSameBars(barsOfCsv(exported.text), stored);
      // The denormal volumes survive the trip bit for bit.
      expect(barsOfCsv(exported.text).filter((bar) => bar.volume === 5.877471754111438e-39).length).toBe(100);
    });

    test("the descending 5-minute ETF file, posted as JSON, exports the same in json, csv and ndjson (streamed)", async () => {
      const f = await openApiFixture();
      const source = await tdxBars(TDX_ETF_5MIN_DESC);
      expect(source.length).toBe(23_568);
      const upload = await call(f.app, "POST", "/v1/bars/512010.SH", { json: source });
      expect(upload.body).toEqual({ written: source.length });
      const stored = await f.store.getBars("512010.SH");
      const ascending = [...source].sort((a, b) => a.timestamp - b.timestamp);
      expectSameBars(stored, ascending);

      // More than 10,000 rows: the JSON answer is streamed, and still the whole array.
      const json = await call(f.app, "GET", "/v1/bars/512010.SH");
      expectSameBars(json.body, stored);
      expectSameBars(barsOfCsv((await call(f.app, "GET", "/v1/bars/512010.SH?format=csv")).text), stored);
      expectSameBars(barsOfNdjson((await call(f.app, "GET", "/v1/bars/512010.SH?format=ndjson")).text), stored);

      const limited = await call(f.app, "GET", "/v1/bars/512010.SH?order=desc&limit=15000");
      expectSameBars(limited.body, stored.slice(-15_000).reverse());
      const daily = await call(f.app, "GET", "/v1/bars/512010.SH?interval=1d&format=ndjson");
      expectSameBars(barsOfNdjson(daily.text), await f.store.getBars("512010.SH", { interval: "1d" }));
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe("/v1/quotes/{symbol}", () => {
  const quotes = Array.from({ length: 6 }, (_, i) => ({
    timestamp: T0 + i * 3_000,
    bid: 10 + i * 0.01,
    bid_size: 100 + i,
    ask: 10.02 + i * 0.01,
    ask_size: 200 + i,
    last: 10.01 + i * 0.01,
    volume: 1_000 * (i + 1),
  }));

  test("POST writes them; GET reads the store's quotes with range, order and limit", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "POST", "/v1/quotes/AAA", { json: quotes });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ written: 6 });
    expect(await f.store.getQuotes("AAA")).toEqual(quotes);

    const all = await call(f.app, "GET", "/v1/quotes/AAA");
    expect(all.status).toBe(200);
    expect(all.body).toEqual(quotes);
    const ranged = await call(f.app, "GET", `/v1/quotes/AAA?start=${quotes[1]!.timestamp}&end=${quotes[3]!.timestamp}`);
    expect(ranged.body).toEqual(quotes.slice(1, 4));
    const newest = await call(f.app, "GET", "/v1/quotes/AAA?order=desc&limit=2");
    expect(newest.body).toEqual([quotes[5]!, quotes[4]!]);
    expect(newest.body).toEqual(await f.store.getQuotes("AAA", { order: "desc", limit: 2 }));
  });

  test("nulls and ISO timestamps are accepted", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "POST", "/v1/quotes/AAA", { json: [{ timestamp: "2024-01-02T01:30:00Z", last: 9.5 }] });
    expect(answer.body).toEqual({ written: 1 });
    expect(await f.store.getQuotes("AAA")).toEqual([
      { timestamp: T0, bid: null, bid_size: null, ask: null, ask_size: null, last: 9.5, volume: null },
    ]);
  });

  test("422 for a crossed quote (bid above ask) or an unknown field; nothing is written", async () => {
    const f = await openApiFixture();
    await f.store.insertQuotes("AAA", quotes.slice(0, 2));
    const before = await snapshot(f.store, ["AAA"]);
    const crossed = expectError(
      await call(f.app, "POST", "/v1/quotes/AAA", { json: [quotes[2]!, { ...quotes[3]!, bid: 11, ask: 10 }] }),
      422,
      "VALIDATION",
    );
    expect(crossed.details).toContainEqual({ row: 1, field: "bid", message: expect.any(String) });
    const unknown = expectError(await call(f.app, "POST", "/v1/quotes/AAA", { json: [{ ...quotes[2]!, price: 1 }] }), 422, "VALIDATION");
    expect(unknown.details).toEqual([{ row: 0, field: "price", message: expect.any(String) }]);
    expectError(await call(f.app, "GET", "/v1/quotes/AAA?from=1"), 422, "VALIDATION");
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------

describe("/v1/cache", () => {
  const bars = minuteBars(T0, 8);

  test("POST (JSON) stores through the cache: the file and the database both have the bars", async () => {
    const f = await openApiFixture({ withCache: true });
    const answer = await call(f.app, "POST", "/v1/cache/AAA", { json: bars.slice(0, 5) });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ written: 5, compacted: false });
    expectSameBars(cacheFileBars(f.cache!, "AAA"), bars.slice(0, 5));
    expectSameBars(await f.store.getBars("AAA"), bars.slice(0, 5));
    expect((await f.cache!.stats("AAA"))!.row_count).toBe(5);
  });

  test("GET /v1/cache lists every cached symbol's metadata, as the cache has it", async () => {
    const f = await openApiFixture({ withCache: true });
    expect((await call(f.app, "GET", "/v1/cache")).body).toEqual([]);
    await call(f.app, "POST", "/v1/cache/AAA", { json: bars.slice(0, 3) });
    await call(f.app, "POST", "/v1/cache/BBB", { json: bars });
    const answer = await call(f.app, "GET", "/v1/cache");
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(await f.cache!.list());
    const rows = Object.fromEntries((answer.body as { symbol: string; row_count: number; file_path: string }[]).map((row) => [row.symbol, row]));
    expect(Object.keys(rows).sort()).toEqual(["AAA", "BBB"]);
    expect(rows.AAA!.row_count).toBe(3);
    expect(rows.BBB!.row_count).toBe(8);
    expect(existsSync(join(f.cacheDir, rows.BBB!.file_path))).toBe(true);
  });

  test("GET /v1/cache/{symbol} reads bars through the cache, with a range", async () => {
    const f = await openApiFixture({ withCache: true });
    await f.cache!.storeBars("AAA", bars);
    const all = await call(f.app, "GET", "/v1/cache/AAA");
    expect(all.status).toBe(200);
    expectSameBars(all.body, bars);
    const ranged = await call(f.app, "GET", `/v1/cache/AAA?start=${T0 + 2 * MIN}&end=${T0 + 3 * MIN}`);
    expectSameBars(ranged.body, bars.slice(2, 4));
    expect(ranged.body).toEqual(await f.cache!.getBars("AAA", { start: T0 + 2 * MIN, end: T0 + 3 * MIN }));
    expectError(await call(f.app, "GET", "/v1/cache/AAA?limit=2"), 422, "VALIDATION");
  });

  test("POST (text/csv) stores the uploaded CSV through the cache", async () => {
    const f = await openApiFixture({ withCache: true });
    const answer = await call(f.app, "POST", "/v1/cache/AAA", { csv: csvOf(bars) });
    expect({ status: answer.status, text: answer.text.slice(0, 300) }).toEqual({ status: 200, text: JSON.stringify({ written: 8, compacted: false }) });
    expectSameBars(cacheFileBars(f.cache!, "AAA"), bars);
    expectSameBars(await f.store.getBars("AAA"), bars);
  });

  test("POST compact rewrites the file: later writes win, counters reset", async () => {
    const f = await openApiFixture({ withCache: true });
    await call(f.app, "POST", "/v1/cache/AAA", { json: bars.slice(0, 5) });
    const changed = { ...bars[4]!, close: bars[4]!.open, volume: 7 };
    await call(f.app, "POST", "/v1/cache/AAA", { json: [changed, ...bars.slice(5)] });
    // The file holds the old and the new bar 4 until it is compacted.
    expect(cacheFileBars(f.cache!, "AAA").length).toBe(9);
    const before = (await f.cache!.stats("AAA"))!;
    expect(before.writes_since_compaction).toBe(2);

    const answer = await call(f.app, "POST", "/v1/cache/AAA/compact");
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ rowsBefore: 9, rowsAfter: 8, bytesBefore: before.size_bytes, bytesAfter: expect.any(Number) });
    const after = (await f.cache!.stats("AAA"))!;
    expect(answer.body.bytesAfter).toBe(after.size_bytes);
    expect(after.row_count).toBe(8);
    expect(after.writes_since_compaction).toBe(0);
    expect(after.last_compacted).not.toBeNull();
    const expected = [...bars.slice(0, 4), changed, ...bars.slice(5)];
    expectSameBars(cacheFileBars(f.cache!, "AAA"), expected);
    expectSameBars((await call(f.app, "GET", "/v1/cache/AAA")).body, expected);
  });

  test("compact of a symbol without a cache file is a 404 and creates nothing", async () => {
    const f = await openApiFixture({ withCache: true });
    expectError(await call(f.app, "POST", "/v1/cache/NOPE/compact"), 404, "NOT_FOUND");
    expect(await f.cache!.stats("NOPE")).toBeNull();
    expect(readdirSync(f.cacheDir)).toEqual([]);
  });

  test("an invalid bar (low above high) is a 422 naming row and field; file and database unchanged", async () => {
    const f = await openApiFixture({ withCache: true });
    await call(f.app, "POST", "/v1/cache/AAA", { json: bars.slice(0, 3) });
    const fileBefore = cacheFileBars(f.cache!, "AAA");
    const rowBefore = await f.cache!.stats("AAA");
    const before = await snapshot(f.store, ["AAA"]);
    const error = expectError(
      await call(f.app, "POST", "/v1/cache/AAA", { json: [bars[3]!, { ...bars[4]!, low: bars[4]!.high! + 1 }] }),
      422,
      "VALIDATION",
    );
    expect(error.details).toContainEqual({ row: 1, field: "low", message: expect.any(String) });
    expectSameBars(cacheFileBars(f.cache!, "AAA"), fileBefore);
    expect(await f.cache!.stats("AAA")).toEqual(rowBefore);
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });

  test("501 on every cache route when the app has no cache", async () => {
    const f = await openApiFixture();
    const before = await snapshot(f.store, ["AAA"]);
    for (const [method, path, json] of [
      ["GET", "/v1/cache", undefined],
      ["GET", "/v1/cache/AAA", undefined],
      ["POST", "/v1/cache/AAA", bars],
      ["POST", "/v1/cache/AAA/compact", undefined],
    ] as const) {
      expectError(await call(f.app, method, path, json === undefined ? {} : { json }), 501, "NOT_IMPLEMENTED");
    }
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------

describe("/v1/artifacts", () => {
  const sha = (char: string) => char.repeat(64);
  const v1 = { name: "momentum", version: "1.0.0", path: "models/momentum-1.bin", sha256: sha("a"), size: 1234, params: { window: 20 }, metrics: { sharpe: 1.5 }, tags: ["prod"] };
  const v2 = { name: "momentum", version: "2.0.0", path: "models/momentum-2.bin", sha256: sha("b"), size: 2345, tags: ["canary"] };
  const other = { name: "meanrev", version: "0.1", path: "models/meanrev.bin", sha256: sha("c"), size: 10, tags: ["prod"] };

  test("POST registers; the answer is the store's record", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "POST", "/v1/artifacts", { json: v1 });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ...v1, created_at: expect.any(Number) });
    expect(answer.body).toEqual(await f.store.artifacts.get("momentum", "1.0.0"));
  });

  test("GET lists all, by name and by tag; GET {name} is the latest, {name}/{version} that one", async () => {
    const f = await openApiFixture();
    for (const input of [v1, v2, other]) expect((await call(f.app, "POST", "/v1/artifacts", { json: input })).status).toBe(200);

    const all = await call(f.app, "GET", "/v1/artifacts");
    expect(all.status).toBe(200);
    expect(all.body).toEqual(await f.store.artifacts.list());
    expect((all.body as { version: string }[]).map((a) => a.version).sort()).toEqual(["0.1", "1.0.0", "2.0.0"]);

    const byName = await call(f.app, "GET", "/v1/artifacts?name=momentum");
    expect((byName.body as { version: string }[]).map((a) => a.version).sort()).toEqual(["1.0.0", "2.0.0"]);
    const byTag = await call(f.app, "GET", "/v1/artifacts?tag=prod");
    expect((byTag.body as { name: string }[]).map((a) => a.name).sort()).toEqual(["meanrev", "momentum"]);
    expect(byTag.body).toEqual(await f.store.artifacts.list({ tag: "prod" }));

    const latest = await call(f.app, "GET", "/v1/artifacts/momentum");
    expect(latest.status).toBe(200);
    expect(latest.body).toEqual({ ...v2, params: {}, metrics: {}, created_at: expect.any(Number) });
    expect(latest.body).toEqual(await f.store.artifacts.get("momentum"));

    const one = await call(f.app, "GET", "/v1/artifacts/momentum/1.0.0");
    expect(one.body).toEqual({ ...v1, created_at: expect.any(Number) });
  });

  test("registering the same name, version and hash again is a no-op", async () => {
    const f = await openApiFixture();
    const first = await call(f.app, "POST", "/v1/artifacts", { json: v1 });
    const auditBefore = await f.store.audit.query({ action: "artifacts.register" });
    const again = await call(f.app, "POST", "/v1/artifacts", { json: v1 });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect((await f.store.artifacts.list()).length).toBe(1);
    expect(await f.store.audit.query({ action: "artifacts.register" })).toEqual(auditBefore);
  });

  test("409 for the same name and version with another sha256; the first stays", async () => {
    const f = await openApiFixture();
    await call(f.app, "POST", "/v1/artifacts", { json: v1 });
    const before = await snapshot(f.store);
    expectError(await call(f.app, "POST", "/v1/artifacts", { json: { ...v1, sha256: sha("d") } }), 409, "CONFLICT");
    expect(await snapshot(f.store)).toEqual(before);
    expect((await f.store.artifacts.get("momentum", "1.0.0"))!.sha256).toBe(sha("a"));
  });

  test("404 for an unknown name or version", async () => {
    const f = await openApiFixture();
    await call(f.app, "POST", "/v1/artifacts", { json: v1 });
    expectError(await call(f.app, "GET", "/v1/artifacts/nothing"), 404, "NOT_FOUND");
    expectError(await call(f.app, "GET", "/v1/artifacts/momentum/9.9.9"), 404, "NOT_FOUND");
  });

  test("the server never reads the file: a real file's size and hash are not checked or revealed", async () => {
    const f = await openApiFixture();
    // package.json exists in the server's folder; a wrong size and hash are recorded as stated,
    // because checking them would let a request learn the file's size byte by byte.
    const real = Bun.file("package.json").size;
    const stated = { ...v1, path: "package.json", size: real + 1 };
    const answer = await call(f.app, "POST", "/v1/artifacts", { json: stated });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ...stated, created_at: expect.any(Number) });
    expect(JSON.stringify(answer.body)).not.toContain(String(real));
  });

  test("422 for a path outside the server's folder, a bad hash or a missing size; nothing registered", async () => {
    const f = await openApiFixture();
    const before = await snapshot(f.store);
    for (const [body, field] of [
      [{ ...v1, path: "../secrets/model.bin" }, "path"],
      [{ ...v1, path: "/etc/passwd" }, "path"],
      [{ ...v1, sha256: "ABC" }, "sha256"],
      [{ ...v1, size: undefined }, "size"],
      [{ ...v1, extra: 1 }, "extra"],
    ] as const) {
      const error = expectError(await call(f.app, "POST", "/v1/artifacts", { json: body }), 422, "VALIDATION");
      expect((error.details as { field?: string }[]).map((issue) => issue.field)).toContain(field);
    }
    expect(await snapshot(f.store)).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------

describe("/v1/audit", () => {
  test("GET is the store's log, filtered by actor, action and limit", async () => {
    const f = await openApiFixture();
    await call(f.app, "POST", "/v1/bars/AAA", { json: minuteBars(T0, 3) });
    await call(f.app, "PUT", "/v1/preferences/theme", { json: { value: "dark" } });
    await call(f.app, "DELETE", "/v1/bars/AAA?all=true");
    const all = await call(f.app, "GET", "/v1/audit");
    expect(all.status).toBe(200);
    expect(all.body).toEqual(await f.store.audit.query());
    expect((all.body as { action: string }[]).map((entry) => entry.action)).toEqual(["bars.insert", "prefs.set", "bars.delete"]);

    const deletes = await call(f.app, "GET", "/v1/audit?action=bars.delete");
    expect(deletes.body).toEqual([expect.objectContaining({ action: "bars.delete", entity: "AAA", actor: LOCAL_ACTOR })]);
    expect((await call(f.app, "GET", "/v1/audit?limit=2")).body).toEqual(await f.store.audit.query({ limit: 2 }));
    expect(((await call(f.app, "GET", "/v1/audit?limit=2")).body as unknown[]).length).toBe(2);
    expect((await call(f.app, "GET", "/v1/audit?actor=nobody")).body).toEqual([]);
    const since = (all.body as { timestamp: number }[])[2]!.timestamp;
    expect((await call(f.app, "GET", `/v1/audit?since=${since}`)).body).toEqual(await f.store.audit.query({ since }));
    expectError(await call(f.app, "GET", "/v1/audit?who=me"), 422, "VALIDATION");
  });

  test("verify recomputes the chain; with an earlier head it still verifies", async () => {
    const f = await openApiFixture();
    await call(f.app, "POST", "/v1/bars/AAA", { json: minuteBars(T0, 3) });
    const head = (await f.store.audit.head())!;
    await call(f.app, "PUT", "/v1/preferences/theme", { json: { value: "dark" } });
    const count = (await f.store.audit.query()).length;

    const plain = await call(f.app, "GET", "/v1/audit/verify");
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual({ ok: true, checked: count });
    const withHead = await call(f.app, "GET", `/v1/audit/verify?headId=${head.id}&headHash=${head.hash}`);
    expect(withHead.body).toEqual(await f.store.audit.verify({ head }));
    expect(withHead.body.ok).toBe(true);
  });

  test("verify with a head the log does not have (another hash, or truncated) is not ok", async () => {
    const f = await openApiFixture();
    await call(f.app, "POST", "/v1/bars/AAA", { json: minuteBars(T0, 3) });
    await call(f.app, "PUT", "/v1/preferences/theme", { json: { value: "dark" } });
    const head = (await f.store.audit.head())!;
    const wrongHash = await call(f.app, "GET", `/v1/audit/verify?headId=${head.id}&headHash=${"f".repeat(64)}`);
    expect(wrongHash.status).toBe(200);
    expect(wrongHash.body.ok).toBe(false);
    const beyond = await call(f.app, "GET", `/v1/audit/verify?headId=${head.id + 5}&headHash=${head.hash}`);
    expect(beyond.body.ok).toBe(false);
  });

  test("422 for headId without headHash and for malformed ones", async () => {
    const f = await openApiFixture();
    expect(expectError(await call(f.app, "GET", "/v1/audit/verify?headId=1"), 422, "VALIDATION").details).toEqual([{ field: "headHash", message: expect.any(String) }]);
    expect(expectError(await call(f.app, "GET", `/v1/audit/verify?headHash=${"a".repeat(64)}`), 422, "VALIDATION").details).toEqual([{ field: "headId", message: expect.any(String) }]);
    expectError(await call(f.app, "GET", `/v1/audit/verify?headId=0&headHash=${"a".repeat(64)}`), 422, "VALIDATION");
    expectError(await call(f.app, "GET", "/v1/audit/verify?headId=1&headHash=XYZ"), 422, "VALIDATION");
  });
});

// ---------------------------------------------------------------------------------------------

describe("/v1/preferences", () => {
  test("PUT sets, GET reads one and all, DELETE removes: the store agrees each time", async () => {
    const f = await openApiFixture();
    const value = { colors: ["red", "green"], size: 12.5, nested: { on: true, none: null } };
    const put = await call(f.app, "PUT", "/v1/preferences/chart.theme", { json: { value } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ key: "chart.theme", value, updated_at: expect.any(Number) });
    expect(put.body).toEqual(await f.store.prefs.get("chart.theme"));
    await call(f.app, "PUT", "/v1/preferences/layout", { json: { value: "grid" } });

    const one = await call(f.app, "GET", "/v1/preferences/chart.theme");
    expect(one.body).toEqual(put.body);
    const all = await call(f.app, "GET", "/v1/preferences");
    expect(all.body).toEqual(await f.store.prefs.all());
    expect((all.body as { key: string }[]).map((p) => p.key).sort()).toEqual(["chart.theme", "layout"]);

    const replaced = await call(f.app, "PUT", "/v1/preferences/layout", { json: { value: null } });
    expect(replaced.body.value).toBeNull();
    expect((await f.store.prefs.get("layout"))!.value).toBeNull();

    const removed = await call(f.app, "DELETE", "/v1/preferences/layout");
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ deleted: true });
    expect(await f.store.prefs.get("layout")).toBeNull();
    expect((await f.store.prefs.all()).map((p) => p.key)).toEqual(["chart.theme"]);
  });

  test("404 to GET or DELETE an unknown key", async () => {
    const f = await openApiFixture();
    expectError(await call(f.app, "GET", "/v1/preferences/missing"), 404, "NOT_FOUND");
    expectError(await call(f.app, "DELETE", "/v1/preferences/missing"), 404, "NOT_FOUND");
  });

  test("422 for a body without value, an extra key, or a key with whitespace; nothing changes", async () => {
    const f = await openApiFixture();
    await call(f.app, "PUT", "/v1/preferences/a", { json: { value: 1 } });
    const before = await snapshot(f.store);
    expectError(await call(f.app, "PUT", "/v1/preferences/a", { json: {} }), 422, "VALIDATION");
    expectError(await call(f.app, "PUT", "/v1/preferences/a", { json: { value: 2, other: 3 } }), 422, "VALIDATION");
    expectError(await call(f.app, "PUT", `/v1/preferences/${encodeURIComponent("has space")}`, { json: { value: 2 } }), 422, "VALIDATION");
    expect(await snapshot(f.store)).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------

describe("/v1/metrics/{name}", () => {
  test("POST records; GET queries by time; summary agrees with the values recorded", async () => {
    const f = await openApiFixture();
    const values = [3, 7.5, -1, 4];
    const recorded: { timestamp: number }[] = [];
    for (const [i, value] of values.entries()) {
      const answer = await call(f.app, "POST", "/v1/metrics/latency.ms", { json: { value, labels: { run: String(i) } } });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ name: "latency.ms", timestamp: expect.any(Number), value, labels: { run: String(i) } });
      recorded.push(answer.body);
    }
    const stored = await f.store.metrics.query("latency.ms");
    expect(stored).toEqual(recorded as never);

    const all = await call(f.app, "GET", "/v1/metrics/latency.ms");
    expect(all.body).toEqual(stored);
    const since = recorded[2]!.timestamp;
    const later = await call(f.app, "GET", `/v1/metrics/latency.ms?since=${since}`);
    expect(later.body).toEqual(stored.filter((m) => m.timestamp >= since));
    const until = await call(f.app, "GET", `/v1/metrics/latency.ms?until=${recorded[0]!.timestamp - 1}`);
    expect(until.body).toEqual([]);

    const summary = await call(f.app, "GET", "/v1/metrics/latency.ms/summary");
    expect(summary.status).toBe(200);
    expect(summary.body).toEqual({
      name: "latency.ms",
      count: 4,
      min: -1,
      max: 7.5,
      mean: values.reduce((a, b) => a + b, 0) / values.length,
      last: 4,
    });
  });

  test("metric samples are observations: recording one adds no audit entry", async () => {
    const f = await openApiFixture();
    const before = await f.store.audit.query();
    expect((await call(f.app, "POST", "/v1/metrics/latency.ms", { json: { value: 1 } })).status).toBe(200);
    expect((await f.store.metrics.query("latency.ms")).length).toBe(1);
    expect(await f.store.audit.query()).toEqual(before);
  });

  test("the summary of a metric never recorded has count 0 and nulls", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "GET", "/v1/metrics/never/summary");
    expect(answer.body).toEqual({ name: "never", count: 0, min: null, max: null, mean: null, last: null });
  });

  test("422 for a bad name, a value that is not a number, or labels that are not strings", async () => {
    const f = await openApiFixture();
    const before = await f.store.metrics.query("ok");
    expectError(await call(f.app, "POST", "/v1/metrics/9bad", { json: { value: 1 } }), 422, "VALIDATION");
    expectError(await call(f.app, "POST", "/v1/metrics/ok", { json: { value: "1" } }), 422, "VALIDATION");
    expectError(await call(f.app, "POST", "/v1/metrics/ok", { json: { value: 1, labels: { a: 1 } } }), 422, "VALIDATION");
    expectError(await call(f.app, "GET", "/v1/metrics/ok?labels=a"), 422, "VALIDATION");
    expect(await f.store.metrics.query("ok")).toEqual(before);
    expect(await f.store.metrics.query("9bad").catch(() => [])).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("/v1/maintenance", () => {
  test("checkpoint (TRUNCATE) empties the WAL", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", minuteBars(T0, 50));
    const answer = await call(f.app, "POST", "/v1/maintenance/checkpoint?mode=TRUNCATE");
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ mode: "TRUNCATE", busy: false });
    expect(statSync(`${f.dbPath}-wal`).size).toBe(0);
    const passive = await call(f.app, "POST", "/v1/maintenance/checkpoint");
    expect(passive.body.mode).toBe("PASSIVE");
  });

  test("optimize and vacuum (full and incremental) run and leave the data as it was", async () => {
    const f = await openApiFixture();
    const bars = minuteBars(T0, 500);
    await f.store.insertBars("AAA", bars);
    await f.store.deleteBars("AAA", { start: T0 + 100 * MIN });
    const optimize = await call(f.app, "POST", "/v1/maintenance/optimize");
    expect(optimize.status).toBe(200);
    expect(typeof optimize.body.durationMs).toBe("number");
    for (const path of ["/v1/maintenance/vacuum", "/v1/maintenance/vacuum?incremental=true"]) {
      const vacuum = await call(f.app, "POST", path);
      expect(vacuum.status).toBe(200);
      expect(Number.isInteger(vacuum.body.freedPages)).toBe(true);
      expect(vacuum.body.freedPages).toBeGreaterThanOrEqual(0);
    }
    expectSameBars(await f.store.getBars("AAA"), bars.slice(0, 100));
    const actions = (await f.store.audit.query()).map((entry) => entry.action);
    expect(actions.filter((a) => a.startsWith("maintenance.")).sort()).toEqual(["maintenance.optimize", "maintenance.vacuum", "maintenance.vacuum"]);
  });

  test("backup writes a consistent copy, under the given name, into the backup folder", async () => {
    const f = await openApiFixture();
    const bars = minuteBars(T0, 20);
    await f.store.insertBars("AAA", bars);
    const answer = await call(f.app, "POST", "/v1/maintenance/backup?name=nightly.db");
    expect(answer.status).toBe(200);
    const file = join(f.backupDir, "nightly.db");
    expect(answer.body).toEqual({ name: "nightly.db", bytes: statSync(file).size, durationMs: expect.any(Number) });
    expect(JSON.stringify(answer.body)).not.toContain(f.backupDir);
    const copy = openDatabase({ path: file, readonly: true });
    try {
      expectSameBars(copy.getBars("AAA"), bars);
    } finally {
      copy.close();
    }
  });

  test("backup without a name picks a timestamped one in the folder", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "POST", "/v1/maintenance/backup");
    expect(answer.status).toBe(200);
    expect(answer.body.name).toMatch(/^backup-[0-9TZ-]+\.db$/);
    expect(existsSync(join(f.backupDir, answer.body.name))).toBe(true);
  });

  test("a backup name with '/' or '..' (or a leading dot) is a 422 and writes nothing anywhere", async () => {
    const f = await openApiFixture();
    for (const name of ["a/b.db", "../escape.db", "..", ".hidden.db", "sub%2Fx.db", "a\\b.db"]) {
      const error = expectError(await call(f.app, "POST", `/v1/maintenance/backup?name=${encodeURIComponent(name)}`), 422, "VALIDATION");
      expect(error.details).toEqual([{ field: "name", message: expect.any(String) }]);
    }
    expect(existsSync(f.backupDir) ? readdirSync(f.backupDir) : []).toEqual([]);
    expect(readdirSync(f.root).filter((file) => !file.startsWith("trading.db"))).toEqual([]);
    expect(existsSync(join(f.root, "escape.db"))).toBe(false);
  });

  test("a second backup under the same name is a 409 and does not tell the caller the server's folder", async () => {
    const f = await openApiFixture();
    expect((await call(f.app, "POST", "/v1/maintenance/backup?name=same.db")).status).toBe(200);
    const size = statSync(join(f.backupDir, "same.db")).size;
    const error = expectError(await call(f.app, "POST", "/v1/maintenance/backup?name=same.db"), 409, "CONFLICT");
    expect(statSync(join(f.backupDir, "same.db")).size).toBe(size);
    // maintenance.ts: "The folder is the server's business; the caller learns the name it chose."
    expect(error.message).not.toContain(f.backupDir);
  });

  test("501 for backup when backupDir is null", async () => {
    const f = await openApiFixture({ api: { backupDir: null } });
    const before = await snapshot(f.store);
    expectError(await call(f.app, "POST", "/v1/maintenance/backup?name=x.db"), 501, "NOT_IMPLEMENTED");
    expect(existsSync(f.backupDir)).toBe(false);
    expect(await snapshot(f.store)).toEqual(before);
  });

  test("createApp without backupDir over a file database backs up into `backups` beside it (ApiOptions doc)", async () => {
    const f = await openApiFixture();
    expect(await defaultBackupDir(f.store)).toBe(join(f.root, "backups"));
    const app = createApp(f.store, { logError: () => {} });
    const answer = await call(app, "POST", "/v1/maintenance/backup?name=default.db");
    expect({ status: answer.status, text: answer.text.slice(0, 200) }).toEqual({ status: 200, text: expect.any(String) });
    expect(existsSync(join(f.root, "backups", "default.db"))).toBe(true);
  });

  test("422 for an option of another action or an unknown action", async () => {
    const f = await openApiFixture();
    expect(expectError(await call(f.app, "POST", "/v1/maintenance/optimize?mode=FULL"), 422, "VALIDATION").details).toEqual([{ field: "mode", message: expect.any(String) }]);
    expect(expectError(await call(f.app, "POST", "/v1/maintenance/checkpoint?name=x.db"), 422, "VALIDATION").details).toEqual([{ field: "name", message: expect.any(String) }]);
    expectError(await call(f.app, "POST", "/v1/maintenance/checkpoint?mode=SOMETIMES"), 422, "VALIDATION");
    expectError(await call(f.app, "POST", "/v1/maintenance/explode"), 422, "VALIDATION");
    expect(existsSync(join(f.backupDir, "x.db"))).toBe(false);
  });

  test("stats are the store's: file, pages and row counts per table", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", minuteBars(T0, 7));
    await f.store.insertQuotes("AAA", [{ timestamp: T0, last: 1 }]);
    await f.store.prefs.set("k", 1);
    const answer = await call(f.app, "GET", "/v1/maintenance/stats");
    expect(answer.status).toBe(200);
    expect(answer.body.path).toBe(f.dbPath);
    expect(answer.body.journalMode).toBe("wal");
    expect(answer.body.rows).toMatchObject({
      market_data: 7,
      quotes: 1,
      user_preferences: 1,
      audit_log: (await f.store.audit.query()).length,
    });
    const stats = await f.store.maintenance.stats();
    expect(answer.body.rows).toEqual(stats.rows);
    expect(answer.body.pageSize).toBe(stats.pageSize);
  });

  test("integrity check (full and quick) is ok on a sound file", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", minuteBars(T0, 7));
    for (const path of ["/v1/maintenance/integrity", "/v1/maintenance/integrity?quick=true"]) {
      const answer = await call(f.app, "GET", path);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ ok: true, problems: [], durationMs: expect.any(Number) });
    }
    expectError(await call(f.app, "GET", "/v1/maintenance/integrity?quick=yes"), 422, "VALIDATION");
  });
});

// ---------------------------------------------------------------------------------------------

describe("GET /openapi.json", () => {
  test("an OpenAPI 3.1 document whose paths are every route, each with its methods", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "GET", "/openapi.json");
    expect(answer.status).toBe(200);
    const doc = answer.body as { openapi: string; info: { title: string; version: string }; paths: Record<string, Record<string, unknown>>; components: { securitySchemes?: Record<string, unknown> } };
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toBe("tradelite");
    const expected: Record<string, string[]> = {
      "/health": ["get"],
      "/v1/symbols": ["get"],
      "/v1/bars/{symbol}": ["delete", "get", "post"],
      "/v1/bars/{symbol}/latest": ["get"],
      "/v1/bars/{symbol}/completeness": ["get"],
      "/v1/calendars": ["get"],
      "/v1/calendars/{name}": ["get", "put"],
      "/v1/calendars/{name}/years/{year}": ["put"],
      "/v1/symbols/{symbol}/calendar": ["get", "put"],
      "/v1/quotes/{symbol}": ["get", "post"],
      "/v1/cache": ["get"],
      "/v1/cache/{symbol}": ["get", "post"],
      "/v1/cache/{symbol}/compact": ["post"],
      "/v1/artifacts": ["get", "post"],
      "/v1/artifacts/{name}": ["get"],
      "/v1/artifacts/{name}/{version}": ["get"],
      "/v1/audit": ["get"],
      "/v1/audit/verify": ["get"],
      "/v1/preferences": ["get"],
      "/v1/preferences/{key}": ["delete", "get", "put"],
      "/v1/metrics/{name}": ["get", "post"],
      "/v1/metrics/{name}/summary": ["get"],
      "/v1/maintenance/{action}": ["post"],
      "/v1/maintenance/stats": ["get"],
      "/v1/maintenance/integrity": ["get"],
    };
    const actual = Object.fromEntries(Object.entries(doc.paths).map(([path, item]) => [path, Object.keys(item).sort()]));
    expect(actual).toEqual(expected);
    // The bar upload documents both of its bodies, and every error is the one Error schema.
    const post = doc.paths["/v1/bars/{symbol}"]!.post as { requestBody: { content: Record<string, unknown> }; responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> };
    expect(Object.keys(post.requestBody.content).sort()).toEqual(["application/json", "text/csv"]);
    expect(post.responses["415"]!.content!["application/json"]!.schema.$ref).toBe("#/components/schemas/Error");
    expect(doc.components.securitySchemes).toEqual({ bearer: { type: "http", scheme: "bearer" } });
  });

  test("every documented route answers something other than 404 'no route'", async () => {
    const f = await openApiFixture({ withCache: true });
    const doc = (await call(f.app, "GET", "/openapi.json")).body as { paths: Record<string, Record<string, unknown>> };
    const sample: Record<string, string> = { symbol: "AAA", name: "m", version: "1", key: "k", action: "optimize" };
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) {
        if (method === "delete" || method === "post" || method === "put") continue; // reads only
        const concrete = path.replace(/\{(\w+)\}/g, (_, param: string) => sample[param]!);
        const answer = await call(f.app, method.toUpperCase(), concrete);
        if (answer.status === 404) expect(answer.body.error.message).not.toStartWith("no route");
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("400: malformed bodies", () => {
  test("malformed JSON is a 400 and writes nothing", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", minuteBars(T0, 2));
    const before = await snapshot(f.store, ["AAA"]);
    for (const [method, path] of [
      ["POST", "/v1/bars/AAA"],
      ["POST", "/v1/quotes/AAA"],
      ["POST", "/v1/artifacts"],
      ["PUT", "/v1/preferences/k"],
      ["POST", "/v1/metrics/m"],
    ] as const) {
      expectError(await call(f.app, method, path, { body: '[{"timestamp": 1,', headers: { "content-type": "application/json" } }), 400, "MALFORMED");
    }
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });

  test("a malformed Content-Length is a 400", async () => {
    const f = await openApiFixture();
    expectError(await call(f.app, "POST", "/v1/bars/AAA", { body: "[]", headers: { "content-type": "application/json", "content-length": "12x" } }), 400, "MALFORMED");
    expect(await f.store.getBars("AAA")).toEqual([]);
  });

  describe("CSV uploads", () => {
    const bars = minuteBars(T0, 3);
    const header = EXPECTED_CSV_HEADER;

    async function rejectedCsv(csv: string, status: number, code: string) {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", minuteBars(T0 - 60 * MIN, 2));
      const before = await snapshot(f.store, ["AAA"]);
      const error = expectError(await call(f.app, "POST", "/v1/bars/AAA", { csv }), status, code);
      expect(await snapshot(f.store, ["AAA"])).toEqual(before);
      return error;
    }

    test("a valid CSV upload (any column order, a BOM, CRLF) writes its bars", async () => {
      const f = await openApiFixture();
      const reordered = "close,timestamp,amount,volume,low,high,open\r\n" +
        bars.map((b) => `${b.close},${new Date(b.timestamp).toISOString()},${b.amount},${b.volume},${b.low},${b.high},${b.open}\r\n`).join("");
      const answer = await call(f.app, "POST", "/v1/bars/AAA", { csv: `\uFEFF${reordered}` });
      expect({ status: answer.status, text: answer.text.slice(0, 300) }).toEqual({ status: 200, text: JSON.stringify({ written: 3 }) });
      expectSameBars(await f.store.getBars("AAA"), bars);
    });

    test("empty fields are NULL; a header alone writes nothing", async () => {
      const f = await openApiFixture();
      const csv = `${header}\n${new Date(T0).toISOString()},1,2,0.5,1.5,,\n${new Date(T0 + MIN).toISOString()},1.5,1.5,1.5,1.5,7,\n`;
      const answer = await call(f.app, "POST", "/v1/bars/AAA", { csv });
      expect(answer.body).toEqual({ written: 2 });
      expect(await f.store.getBars("AAA")).toEqual([
        { timestamp: T0, open: 1, high: 2, low: 0.5, close: 1.5, volume: null, amount: null },
        { timestamp: T0 + MIN, open: 1.5, high: 1.5, low: 1.5, close: 1.5, volume: 7, amount: null },
      ]);
      expect((await call(f.app, "POST", "/v1/bars/BBB", { csv: `${header}\n` })).body).toEqual({ written: 0 });
      expect(await f.store.getBars("BBB")).toEqual([]);
    });

    test("a body that is not UTF-8 is a 400", async () => {
      const bytes = new Uint8Array([...new TextEncoder().encode(`${header}\n`), 0xff, 0xfe, 0x0a]);
      const f = await openApiFixture();
      expectError(await call(f.app, "POST", "/v1/bars/AAA", { body: bytes, headers: { "content-type": "text/csv" } }), 400, "MALFORMED");
      expect(await f.store.getBars("AAA")).toEqual([]);
    });

    test("a digits-only timestamp (epoch ms or 20240115?) is a 422, not a guess", async () => {
      const error = await rejectedCsv(`${header}\n${csvLine(bars[0]!)}${T0 + MIN},1,1,1,1,1,1\n`, 422, "VALIDATION");
      expect(error.details).toEqual([{ row: 1, field: "timestamp", message: expect.any(String) }]);
    });

    test("a bad quote", async () => {
      const line = csvLine(bars[0]!);
      await rejectedCsv(`${header}\n"${line}${csvLine(bars[1]!)}`, 400, "MALFORMED");
    });

    test("a missing column", async () => {
      const error = await rejectedCsv("timestamp,open,high,low,close,volume\n2024-01-02T01:30:00.000Z,1,2,0.5,1.5,10\n", 400, "MALFORMED");
      expect(error.message).toContain("amount");
      expect(error.details).toEqual([{ row: 0, field: "header", message: expect.stringContaining("amount") }]);
    });

    test("a row with the wrong number of fields", async () => {
      const error = await rejectedCsv(`${header}\n${csvLine(bars[0]!)}${csvLine(bars[1]!).replace("\n", ",9\n")}`, 400, "MALFORMED");
      expect(error.details).toEqual([{ row: 1, message: expect.any(String) }]);
    });

    test("an empty body", async () => {
      const error = await rejectedCsv("", 400, "MALFORMED");
      expect(error.message).toContain(header);
    });

    test("1 bad value among 1000 rows is a 422 naming row and field, and writes none of the 1000", async () => {
      const many = minuteBars(T0, 1_000);
      const lines = many.map(csvLine);
      lines[637] = lines[637]!.replace(/,([^,]+),/, ",abc,"); // open of row 637
      const error = await rejectedCsv(`${header}\n${lines.join("")}`, 422, "VALIDATION");
      expect(error.details).toEqual([{ row: 637, field: "open", message: expect.any(String) }]);
    });

    test("1 invalid bar (low above high) among 1000 rows is a 422 naming it, and writes none", async () => {
      const many = minuteBars(T0, 1_000);
      many[421] = { ...many[421]!, low: many[421]!.high! + 1 };
      const error = await rejectedCsv(csvOf(many), 422, "VALIDATION");
      expect(error.details).toContainEqual({ row: 421, field: "low", message: expect.any(String) });
      expect((error.details as { row: number }[]).every((issue) => issue.row === 421)).toBe(true);
    });
  });
});

describe("401: bearer tokens", () => {
  test("with tokens configured: missing and wrong tokens are refused, /health is open, the right token works", async () => {
    const f = await openApiFixture({ api: { tokens: TOKENS } });
    const bars = minuteBars(T0, 3);
    const before = await snapshot(f.store, ["AAA"]);

    const missing = await call(f.app, "POST", "/v1/bars/AAA", { json: bars });
    expectError(missing, 401, "UNAUTHORIZED");
    expect(missing.headers.get("www-authenticate")).toStartWith("Bearer");
    expectError(await call(f.app, "POST", "/v1/bars/AAA", { json: bars, token: "wrong-token-of-enough-length" }), 401, "UNAUTHORIZED");
    // Without the "Bearer" scheme no bearer token was given: a 401 with error="invalid_request".
    const schemeless = await call(f.app, "POST", "/v1/bars/AAA", { json: bars, headers: { authorization: TOKEN } });
    expectError(schemeless, 401, "UNAUTHORIZED");
    expect(schemeless.headers.get("www-authenticate")).toContain('error="invalid_request"');
    expectError(await call(f.app, "POST", "/v1/bars/AAA", { json: bars, token: `${TOKEN}x` }), 401, "UNAUTHORIZED");
    expectError(await call(f.app, "GET", "/v1/symbols"), 401, "UNAUTHORIZED");
    expectError(await call(f.app, "GET", "/openapi.json"), 401, "UNAUTHORIZED");
    expectError(await call(f.app, "GET", "/v1/nowhere"), 401, "UNAUTHORIZED");
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);

    const health = await call(f.app, "GET", "/health");
    expect(health.status).toBe(200);
    expect(health.body.status).toBe("ok");

    const ok = await call(f.app, "POST", "/v1/bars/AAA", { json: bars, token: TOKEN });
    expect(ok.body).toEqual({ written: 3 });
    expectSameBars(await f.store.getBars("AAA"), bars);
    expectSameBars((await call(f.app, "GET", "/v1/bars/AAA", { token: BOB_TOKEN })).body, bars);
  });

  test("createApp refuses a short token or one with whitespace", async () => {
    const f = await openApiFixture();
    expect(() => f.rebuild({ tokens: [{ name: "x", token: "short" }] })).toThrow(TypeError);
    expect(() => f.rebuild({ tokens: [{ name: "x", token: "a long token with spaces" }] })).toThrow(TypeError);
  });
});

describe("403: Host allowlist (DNS rebinding)", () => {
  test("a Host that is not loopback or allowed is refused before anything runs", async () => {
    const f = await openApiFixture();
    const before = await snapshot(f.store, ["AAA"]);
    for (const host of ["evil.example", "localhost.evil.example", "evil.example:8787", "127.0.0.2"]) {
      const error = expectError(await call(f.app, "GET", "/health", { headers: { host } }), 403);
      expect(error.code).toBe("FORBIDDEN_HOST");
      expectError(await call(f.app, "POST", "/v1/bars/AAA", { json: minuteBars(T0, 1), headers: { host } }), 403, "FORBIDDEN_HOST");
    }
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
    for (const host of ["localhost", "localhost:8787", "127.0.0.1:8787", "[::1]:8787", "LOCALHOST"]) {
      expect((await call(f.app, "GET", "/health", { headers: { host } })).status).toBe(200);
    }
  });

  test("allowedHosts admits the hosts it names (with any port), and only those", async () => {
    const f = await openApiFixture({ api: { allowedHosts: ["trading.lan"] } });
    expect((await call(f.app, "GET", "/health", { headers: { host: "trading.lan:8787" } })).status).toBe(200);
    expect((await call(f.app, "GET", "/v1/symbols", { headers: { host: "trading.lan" } })).status).toBe(200);
    expectError(await call(f.app, "GET", "/health", { headers: { host: "evil.example" } }), 403, "FORBIDDEN_HOST");
    expectError(await call(f.app, "GET", "/health", { headers: { host: "trading.lan.evil.example" } }), 403, "FORBIDDEN_HOST");
  });
});

describe("403 and 503 from the store", () => {
  test("a read-only store refuses every mutation with 403 READONLY; reads still work", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", minuteBars(T0, 3));
    const readonly = await openStore({ backend: "sqlite", path: f.dbPath, readonly: true });
    try {
      const app = createApp(readonly, { logError: () => {} });
      const before = await snapshot(f.store, ["AAA"]);
      expectError(await call(app, "POST", "/v1/bars/AAA", { json: minuteBars(T0 + 10 * MIN, 2) }), 403, "READONLY");
      expectError(await call(app, "DELETE", "/v1/bars/AAA?all=true"), 403, "READONLY");
      expectError(await call(app, "PUT", "/v1/preferences/k", { json: { value: 1 } }), 403, "READONLY");
      expect(await snapshot(f.store, ["AAA"])).toEqual(before);
      expectSameBars((await call(app, "GET", "/v1/bars/AAA")).body, minuteBars(T0, 3));
    } finally {
      await readonly.close();
    }
  });

  test("a write that cannot get the lock is a 503 with Retry-After, and is retried fine later", async () => {
    const f = await openApiFixture();
    const impatient = await openStore({ backend: "sqlite", path: f.dbPath, busyTimeoutMs: 20 });
    const holder = new RawDatabase(f.dbPath);
    try {
      const logged: unknown[] = [];
      const app = createApp(impatient, { logError: (error) => logged.push(error) });
      holder.exec("BEGIN IMMEDIATE");
      const answer = await call(app, "POST", "/v1/bars/AAA", { json: minuteBars(T0, 2) });
      const error = expectError(answer, 503, "UNAVAILABLE");
      expect(answer.headers.get("retry-after")).toBe("1");
      expect(error.details).toEqual({ storageCode: "SQLITE_BUSY" });
      expect(logged.length).toBe(1);
      holder.exec("ROLLBACK");
      expect(await f.store.getBars("AAA")).toEqual([]);
      expect((await call(app, "POST", "/v1/bars/AAA", { json: minuteBars(T0, 2) })).body).toEqual({ written: 2 });
    } finally {
      holder.close();
      await impatient.close();
    }
  });
});

describe("404: unknown routes and records", () => {
  test("an unknown route is a 404 in the error shape", async () => {
    const f = await openApiFixture();
    const error = expectError(await call(f.app, "GET", "/v1/nothing"), 404, "NOT_FOUND");
    expect(error.message).toContain("/v1/nothing");
    expectError(await call(f.app, "PATCH", "/v1/bars/AAA"), 404, "NOT_FOUND");
    expectError(await call(f.app, "GET", "/index.html"), 404, "NOT_FOUND");
  });
});

describe("413: bodies over maxBodyBytes", () => {
  const limit = 4_096;
  const big = minuteBars(T0, 100); // far over 4 KiB as JSON

  test("declared by Content-Length: refused, nothing written; at the limit exactly it is read", async () => {
    const f = await openApiFixture({ api: { maxBodyBytes: limit } });
    const text = JSON.stringify(big);
    expect(text.length).toBeGreaterThan(limit);
    const before = await snapshot(f.store, ["AAA"]);
    const error = expectError(
      await call(f.app, "POST", "/v1/bars/AAA", { body: text, headers: { "content-type": "application/json", "content-length": String(text.length) } }),
      413,
      "PAYLOAD_TOO_LARGE",
    );
    expect(error.message).toContain(String(limit));
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);

    const small = JSON.stringify(minuteBars(T0, 2));
    const padded = small.padEnd(limit, " ");
    const atLimit = await call(f.app, "POST", "/v1/bars/AAA", { body: padded, headers: { "content-type": "application/json", "content-length": String(limit) } });
    expect(atLimit.body).toEqual({ written: 2 });
    const over = `${padded} `;
    expectError(await call(f.app, "POST", "/v1/bars/BBB", { body: over, headers: { "content-type": "application/json", "content-length": String(limit + 1) } }), 413, "PAYLOAD_TOO_LARGE");
    expect(await f.store.getBars("BBB")).toEqual([]);
  });

  test("a chunked body without Content-Length is counted as it streams: 413, nothing written", async () => {
    const f = await openApiFixture({ api: { maxBodyBytes: limit } });
    const before = await snapshot(f.store, ["AAA"]);
    for (const [method, path, text] of [
      ["POST", "/v1/bars/AAA", JSON.stringify(big)],
      ["POST", "/v1/quotes/AAA", JSON.stringify(big.map((bar) => ({ timestamp: bar.timestamp, bid: bar.low, ask: bar.high, last: bar.close })))],
      ["PUT", "/v1/preferences/k", JSON.stringify({ value: "x".repeat(limit * 2) })],
    ] as const) {
      expect(text.length).toBeGreaterThan(limit);
      expectError(await call(f.app, method, path, { body: chunked(text), headers: { "content-type": "application/json" } }), 413, "PAYLOAD_TOO_LARGE");
    }
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
    // A chunked body under the limit goes through.
    const fine = await call(f.app, "POST", "/v1/bars/AAA", { body: chunked(JSON.stringify(minuteBars(T0, 2)), 64), headers: { "content-type": "application/json" } });
    expect(fine.body).toEqual({ written: 2 });
  });

  test("a chunked CSV upload over the limit is a 413, nothing written", async () => {
    const f = await openApiFixture({ api: { maxBodyBytes: limit } });
    const answer = await call(f.app, "POST", "/v1/bars/AAA", { body: chunked(csvOf(big)), headers: { "content-type": "text/csv" } });
    expectError(answer, 413, "PAYLOAD_TOO_LARGE");
    expect(await f.store.getBars("AAA")).toEqual([]);
  });

  test("createApp refuses a maxBodyBytes that is not a positive whole number", async () => {
    const f = await openApiFixture();
    for (const maxBodyBytes of [0, -1, 1.5, Number.NaN]) expect(() => f.rebuild({ maxBodyBytes })).toThrow(TypeError);
  });
});

describe("415: unsupported Content-Type", () => {
  test("text/plain to the bar upload (and to JSON-only routes) is a 415; nothing written", async () => {
    const f = await openApiFixture();
    const before = await snapshot(f.store, ["AAA"]);
    const body = JSON.stringify(minuteBars(T0, 2));
    expectError(await call(f.app, "POST", "/v1/bars/AAA", { body, headers: { "content-type": "text/plain" } }), 415, "UNSUPPORTED_MEDIA_TYPE");
    expectError(await call(f.app, "POST", "/v1/bars/AAA", { body }), 415, "UNSUPPORTED_MEDIA_TYPE"); // fetch's default text/plain
    expectError(await call(f.app, "POST", "/v1/quotes/AAA", { body: "[]", headers: { "content-type": "text/csv" } }), 415, "UNSUPPORTED_MEDIA_TYPE");
    expectError(await call(f.app, "PUT", "/v1/preferences/k", { body: '{"value":1}', headers: { "content-type": "application/xml" } }), 415, "UNSUPPORTED_MEDIA_TYPE");
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });
});

describe("422: invalid input", () => {
  const bars = minuteBars(T0, 4);

  test("a bad symbol: whitespace, 65 characters, a control character", async () => {
    const f = await openApiFixture();
    for (const symbol of ["A B", " AAA", "A".repeat(65), "A\tB", "A\u0000"]) {
      const error = expectError(await call(f.app, "GET", `/v1/bars/${encodeURIComponent(symbol)}`), 422, "VALIDATION");
      expect(error.details).toEqual([{ field: "symbol", message: expect.any(String) }]);
      expectError(await call(f.app, "POST", `/v1/bars/${encodeURIComponent(symbol)}`, { json: bars }), 422, "VALIDATION");
    }
    expect((await call(f.app, "GET", `/v1/bars/${"A".repeat(64)}`)).status).toBe(200);
    expect(await f.store.overview()).toEqual([]);
  });

  test("a range whose start is after its end", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", bars);
    for (const path of [`/v1/bars/AAA?start=${T0 + MIN}&end=${T0}`, "/v1/bars/AAA?start=2024-02-01&end=2024-01-01&format=csv", `/v1/quotes/AAA?start=${T0 + 1}&end=${T0}`]) {
      const error = expectError(await call(f.app, "GET", path), 422, "VALIDATION");
      expect((error.details as { field: string }[]).map((issue) => issue.field)).toContain("start");
    }
  });

  test("an interval that does not exist, a bad order, limit or timestamp", async () => {
    const f = await openApiFixture();
    for (const [query, field] of [
      ["interval=7m", "interval"],
      ["order=sideways", "order"],
      ["limit=0", "limit"],
      ["limit=-3", "limit"],
      ["limit=1.5", "limit"],
      ["start=yesterday", "start"],
      ["format=xml", "format"],
      ["barTimestamp=middle", "barTimestamp"],
    ] as const) {
      const error = expectError(await call(f.app, "GET", `/v1/bars/AAA?${query}`), 422, "VALIDATION");
      expect(error.details).toEqual([{ field, message: expect.any(String) }]);
    }
  });

  test("an unknown query key (startTime for start) is refused, never ignored", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", bars);
    const error = expectError(await call(f.app, "GET", `/v1/bars/AAA?startTime=${T0 + MIN}`), 422, "VALIDATION");
    expect(error.details).toEqual([{ field: "startTime", message: expect.any(String) }]);
    expect(error.message).toContain("startTime");
  });

  test("an invalid bar (low above high) names its row and field; the batch writes nothing", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", bars.slice(0, 1));
    const before = await snapshot(f.store, ["AAA"]);
    const bad = { ...bars[2]!, low: 99, high: 98 };
    const error = expectError(await call(f.app, "POST", "/v1/bars/AAA", { json: [bars[1]!, bad, bars[3]!] }), 422, "VALIDATION");
    const details = error.details as { row?: number; field?: string; message: string }[];
    expect(details).toContainEqual({ row: 1, field: "low", message: expect.any(String) });
    expect(details.every((issue) => issue.row === 1)).toBe(true);
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });

  test("a JSON bar with a wrong type or an unknown field names its row and field", async () => {
    const f = await openApiFixture();
    const before = await snapshot(f.store, ["AAA"]);
    const wrongType = expectError(await call(f.app, "POST", "/v1/bars/AAA", { json: [bars[0]!, { ...bars[1]!, open: "1" }] }), 422, "VALIDATION");
    expect(wrongType.details).toEqual([{ row: 1, field: "open", message: expect.any(String) }]);
    const unknown = expectError(await call(f.app, "POST", "/v1/bars/AAA", { json: [{ ...bars[0]!, vol: 3 }] }), 422, "VALIDATION");
    expect(unknown.details).toEqual([{ row: 0, field: "vol", message: expect.any(String) }]);
    expectError(await call(f.app, "POST", "/v1/bars/AAA", { json: { bars } }), 422, "VALIDATION");
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });
});

describe("500: unexpected errors", () => {
  const leak = "SELECT secret FROM x";

  function expectOpaque(answer: Awaited<ReturnType<typeof call>>) {
    const error = expectError(answer, 500, "INTERNAL");
    expect(answer.text).not.toContain("SELECT");
    expect(answer.text).not.toContain("secret");
    expect(answer.text).not.toMatch(/\n\s+at /);
    expect(answer.text).not.toContain(".ts");
    return error;
  }

  test("a store error says nothing about the inside; logError receives it", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", minuteBars(T0, 3));
    const failure = new Error(leak);
    const logged: { error: unknown; path: string }[] = [];
    const app: App = createApp(storeThrowing(f.store, "getBars", failure), { logError: (error, c) => logged.push({ error, path: c.req.path }) });
    const error = expectOpaque(await call(app, "GET", "/v1/bars/AAA"));
    expect(error.details).toBeNull();
    expect(logged).toEqual([{ error: failure, path: "/v1/bars/AAA" }]);
    // Other routes of the same app still work.
    expect((await call(app, "GET", "/v1/bars/AAA/latest")).status).toBe(200);
  });

  test("also when the failure comes from a streamed export's first read, or from a write", async () => {
    const f = await openApiFixture();
    const failure = new Error(leak);
    const logged: unknown[] = [];
    const streaming = createApp(storeThrowing(f.store, "iterateBars", failure), { logError: (error) => logged.push(error) });
    expectOpaque(await call(streaming, "GET", "/v1/bars/AAA?format=csv"));
    expect(logged).toEqual([failure]);

    const before = await snapshot(f.store, ["AAA"]);
    const writes = createApp(storeThrowing(f.store, "insertBars", failure), { logError: (error) => logged.push(error) });
    expectOpaque(await call(writes, "POST", "/v1/bars/AAA", { json: minuteBars(T0, 2) }));
    expect(logged).toEqual([failure, failure]);
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------

describe("the audit log names the caller", () => {
  async function mutations(app: App, store: Store, token?: string) {
    const auth = token === undefined ? {} : { token };
    const bars = minuteBars(T0, 4);
    const steps: [string, () => Promise<unknown>][] = [
      ["bars.insert", () => call(app, "POST", "/v1/bars/AAA", { json: bars, ...auth })],
      ["bars.delete", () => call(app, "DELETE", `/v1/bars/AAA?start=${T0 + 3 * MIN}`, auth)],
      ["quotes.insert", () => call(app, "POST", "/v1/quotes/AAA", { json: [{ timestamp: T0, last: 1 }], ...auth })],
      ["prefs.set", () => call(app, "PUT", "/v1/preferences/theme", { json: { value: "dark" }, ...auth })],
      ["prefs.delete", () => call(app, "DELETE", "/v1/preferences/theme", auth)],
      ["artifacts.register", () => call(app, "POST", "/v1/artifacts", { json: { name: "m", version: "1", path: "m.bin", sha256: "e".repeat(64), size: 1 }, ...auth })],
      // With write-through (the default) a cache write is audited as the bars.insert it makes.
      ["bars.insert", () => call(app, "POST", "/v1/cache/CCC", { json: bars, ...auth })],
      ["cache.compact", () => call(app, "POST", "/v1/cache/CCC/compact", auth)],
      ["maintenance.optimize", () => call(app, "POST", "/v1/maintenance/optimize", auth)],
    ];
    const seen: { action: string; actors: string[]; actions: string[] }[] = [];
    for (const [action, run] of steps) {
      const after = await lastAuditId(store);
      const answer = (await run()) as { status: number; text: string };
      expect({ action, status: answer.status, text: answer.text.slice(0, 200) }).toEqual({ action, status: 200, text: expect.any(String) });
      const entries = await auditSince(store, after);
      seen.push({ action, actors: [...new Set(entries.map((e) => e.actor))], actions: entries.map((e) => e.action) });
    }
    return seen;
  }

  test("the token's name for every mutation made with a token", async () => {
    const f = await openApiFixture({ withCache: true, api: { tokens: TOKENS } });
    for (const { action, actors, actions } of await mutations(f.app, f.store, TOKEN)) {
      expect({ action, actions: actions.includes(action) }).toEqual({ action, actions: true });
      expect({ action, actors }).toEqual({ action, actors: ["alice"] });
    }
    // Another token, another name: the app keeps one view per caller.
    const after = await lastAuditId(f.store);
    await call(f.app, "PUT", "/v1/preferences/bob", { json: { value: 1 }, token: BOB_TOKEN });
    await call(f.app, "PUT", "/v1/preferences/alice", { json: { value: 1 }, token: TOKEN });
    expect((await auditSince(f.store, after)).map((e) => [e.action, e.entity, e.actor])).toEqual([
      ["prefs.set", "bob", "bob"],
      ["prefs.set", "alice", "alice"],
    ]);
    expect((await call(f.app, "GET", "/v1/audit?actor=bob", { token: TOKEN })).body).toEqual(await f.store.audit.query({ actor: "bob" }));
    expect((await f.store.audit.verify()).ok).toBe(true);
  });

  test(`"${LOCAL_ACTOR}" for every mutation when no tokens are configured`, async () => {
    const f = await openApiFixture({ withCache: true });
    expect(LOCAL_ACTOR).toBe("local");
    for (const { action, actors, actions } of await mutations(f.app, f.store)) {
      expect({ action, actions: actions.includes(action) }).toEqual({ action, actions: true });
      expect({ action, actors }).toEqual({ action, actors: ["local"] });
    }
  });

  test("cache.store (a cache without write-through) names the token", async () => {
    const f = await openApiFixture({ withCache: true, cacheOptions: { writeThrough: false }, api: { tokens: TOKENS } });
    const after = await lastAuditId(f.store);
    const answer = await call(f.app, "POST", "/v1/cache/CCC", { json: minuteBars(T0, 3), token: BOB_TOKEN });
    expect(answer.body).toEqual({ written: 3, compacted: false });
    const entries = await auditSince(f.store, after);
    expect(entries.filter((e) => e.action === "cache.store").map((e) => [e.entity, e.actor])).toEqual([["CCC", "bob"]]);
    expect([...new Set(entries.map((e) => e.actor))]).toEqual(["bob"]);
    expect(await f.store.getBars("CCC")).toEqual([]); // nothing written through
  });

  test("a CSV cache upload made with a token names the token", async () => {
    const f = await openApiFixture({ withCache: true, api: { tokens: TOKENS } });
    const after = await lastAuditId(f.store);
    const answer = await call(f.app, "POST", "/v1/cache/CSV", { csv: csvOf(minuteBars(T0, 3)), token: TOKEN });
    expect({ status: answer.status, text: answer.text.slice(0, 200) }).toEqual({ status: 200, text: expect.any(String) });
    const entries = await auditSince(f.store, after);
    expect(entries.filter((e) => e.action === "bars.insert").map((e) => [e.entity, e.actor])).toEqual([["CSV", "alice"]]);
    expect([...new Set(entries.map((e) => e.actor))]).toEqual(["alice"]);
    expectSameBars(cacheFileBars(f.cache!, "CSV"), minuteBars(T0, 3));
  });
});

describe("browser-facing headers", () => {
  test("CORS headers only for an Origin that corsOrigins lists", async () => {
    const f = await openApiFixture({ api: { corsOrigins: ["http://app.example"] } });
    const listed = await call(f.app, "GET", "/v1/symbols", { headers: { origin: "http://app.example" } });
    expect(listed.status).toBe(200);
    expect(listed.headers.get("access-control-allow-origin")).toBe("http://app.example");
    const other = await call(f.app, "GET", "/v1/symbols", { headers: { origin: "http://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const preflight = await call(f.app, "OPTIONS", "/v1/bars/AAA", {
      headers: { origin: "http://app.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://app.example");
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    const badPreflight = await call(f.app, "OPTIONS", "/v1/bars/AAA", { headers: { origin: "http://evil.example", "access-control-request-method": "POST" } });
    expect(badPreflight.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("no CORS headers at all without corsOrigins", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "GET", "/v1/symbols", { headers: { origin: "http://app.example" } });
    expect(answer.status).toBe(200);
    expect([...answer.headers.keys()].filter((name) => name.startsWith("access-control-"))).toEqual([]);
  });

  test("secure headers on answers and on errors", async () => {
    const f = await openApiFixture();
    for (const answer of [
      await call(f.app, "GET", "/health"),
      await call(f.app, "GET", "/v1/bars/AAA?format=csv"),
      await call(f.app, "GET", "/v1/nothing"),
      await call(f.app, "GET", "/v1/bars/AAA?interval=7m"),
      await call(f.app, "GET", "/health", { headers: { host: "evil.example" } }),
      await call(f.app, "POST", "/v1/bars/AAA", { body: "x", headers: { "content-type": "text/plain" } }),
    ]) {
      expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
      expect(answer.headers.get("x-frame-options")).toBe("SAMEORIGIN");
      expect(answer.headers.get("referrer-policy")).toBe("no-referrer");
    }
  });
});

/**
 * tradelite/client against the real server: Bun.serve on a random loopback port over a SQLite
 * file (with a token) and, for the session cache routes, over PostgreSQL with a SessionCache.
 * Every request the client sends is recorded; the last test checks that every route of the
 * server's own /openapi.json was called, so a route added without a client method fails here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { createClient, type Client } from "../../src/entries/client.ts";
import { startServer, type RunningServer } from "../../src/entries/api.ts";
import { SessionCache } from "../../src/entries/cache.ts";
import { CSV_HEADER_LINE } from "../../src/domain/bar-format.ts";
import { ConflictError, NotFoundError, openStore, StorageError, TradeliteError, ValidationError, type Bar, type Store } from "../../src/mod.ts";
import { minuteBars } from "../support/api.ts";
import { csvLine } from "../support/api-bars.ts";
import { tempDir } from "../support/files.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const TOKEN = "client-test-token-0123456789";
const DAY = Date.parse("2024-01-02T01:31:00Z"); // 09:31 Shanghai, the first minute of a session
const dir = tempDir("tradelite-client-");
const called: { method: string; path: string }[] = [];
const recording = (request: Request) => {
  called.push({ method: request.method, path: new URL(request.url).pathname });
  return fetch(request);
};

let store: Store;
let server: RunningServer;
let client: Client;

beforeAll(async () => {
  store = await openStore({ backend: "sqlite", path: dir.file("trading.db"), timezone: "Asia/Shanghai" });
  server = startServer(store, { port: 0, tokens: [{ name: "tester", token: TOKEN }], backupDir: dir.file("backups"), logError: () => {} });
  client = createClient({ url: server.url, token: TOKEN, fetch: recording });
});

afterAll(async () => {
  await server.stop(true);
  await store.close();
  dir.cleanup();
});

describe("the token and /health", () => {
  test("health answers without a token; a route without one is refused with the API's UNAUTHORIZED", async () => {
    const anonymous = createClient({ url: server.url, fetch: recording });
    expect(await anonymous.health()).toEqual({ status: "ok", version: expect.any(String) });
    expect(await anonymous.ready()).toEqual({ status: "ready" });
    expect(await client.info()).toMatchObject({ backend: "sqlite", timezone: "Asia/Shanghai" });
    // The info call above is counted by its route pattern in the Prometheus text.
    expect(await client.prometheus()).toMatch(/^tradelite_http_request_duration_seconds_count\{method="GET",route="\/v1\/info",status="200"\} [1-9]/m);
    const refused = await anonymous.overview().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TradeliteError);
    expect((refused as TradeliteError).code).toBe("UNAUTHORIZED");
  });

  test("a server that is not there is a StorageError CONNECTION, not a TypeError from fetch", async () => {
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const url = `http://127.0.0.1:${probe.port}`;
    await probe.stop(true);
    const error = await createClient({ url }).health().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("CONNECTION");
  });
});

describe("bars", () => {
  const bars = minuteBars(DAY, 5);

  test("JSON and CSV writes, reads, the latest bar, the overview and deletes match the store", async () => {
    expect(await client.insertBars("600519.SH", bars.slice(0, 3))).toBe(3);
    const csv = CSV_HEADER_LINE + bars.slice(3).map(csvLine).join("");
    expect(await client.insertBars("600519.SH", csv)).toBe(2);
    expect(await client.getBars("600519.SH")).toEqual(await store.getBars("600519.SH"));
    expect(await client.getBars("600519.SH", { start: new Date(bars[1]!.timestamp), end: bars[2]!.timestamp, order: "desc" })).toEqual([bars[2]!, bars[1]!]);
    expect(await client.latestBar("600519.SH")).toEqual(bars[4]!);
    expect(await client.latestBar("NOPE")).toBeNull();
    expect(await client.overview()).toEqual(await store.overview());
    expect(await client.deleteBars("600519.SH", { start: bars[4]!.timestamp })).toBe(1);
    expect((await store.getBars("600519.SH")).length).toBe(4);
  });

  test("a daily series is written and deleted with { interval: '1d' }; no range deletes every bar", async () => {
    expect(await client.insertBars("000001.SZ", [{ timestamp: "2024-01-02", open: 9, high: 10, low: 8, close: 9.5, volume: 100, amount: 950 }], { interval: "1d" })).toBe(1);
    expect(await client.getBars("000001.SZ", { interval: "1d", source: "stored" })).toEqual(await store.getBars("000001.SZ", { interval: "1d", source: "stored" }));
    expect(await client.deleteBars("000001.SZ", {}, { interval: "1d" })).toBe(1);
    await client.insertBars("000002.SZ", minuteBars(DAY, 3));
    expect(await client.deleteBars("000002.SZ")).toBe(3);
  });

  test("a cross-section is the store's: every symbol (GET), or a list of any length with commas in symbols (POST)", async () => {
    await client.insertBars("000003.SZ", minuteBars(DAY, 2));
    await client.insertBars("A,B", minuteBars(DAY, 1));
    const at = DAY + 60_000;
    const named = ["000003.SZ", "A,B", ...Array.from({ length: 3_000 }, (_, i) => `NOPE${i}.SZ`)];
    const answer = await client.getCrossSection({ at: new Date(at), symbols: named });
    expect(answer).toEqual(await store.getCrossSection({ at, symbols: named }));
    expect([answer.rows.map((row) => row.symbol), answer.missing.length]).toEqual([["000003.SZ", "A,B"], 3_000]);
    expect(await client.getCrossSection({ at })).toEqual(await store.getCrossSection({ at }));
    const refused = await client.getCrossSection({ at, symbols: ["X", "X"] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ValidationError);
  });

  test("watch: the bars the store stores, as store.watch() gives them, over Server-Sent Events and a WebSocket, with the token", async () => {
    const watching = createClient({
      url: server.url,
      token: TOKEN,
      fetch: recording,
      webSocket: (url, headers) => {
        called.push({ method: "GET", path: new URL(url).pathname });
        return new WebSocket(url, { headers } as never);
      },
    });
    for (const [transport, symbol] of [["sse", "000011.SZ"], ["websocket", "000012.SZ"]] as const) {
      const controller = new AbortController();
      const events = watching.watch({ symbols: [symbol], transport, signal: controller.signal });
      const first = events.next();
      await Bun.sleep(200);
      await store.insertBars(symbol, minuteBars(DAY, 2));
      const got = [(await first).value!, (await events.next()).value!];
      expect(got.map((event) => event.bar)).toEqual(await store.getBars(symbol));
      expect(got.every((event) => event.symbol === symbol && event.final && event.interval === null)).toBe(true);
      controller.abort();
      expect((await events.next()).done).toBe(true);
    }
  });

  test("adjustments: factors and actions written and listed as the store does; getBars adjusts with asOf and adjustVolume", async () => {
    const days = [{ timestamp: "2024-06-04", close: 30 }, { timestamp: "2024-06-05", close: 29 }].map((day) => ({ ...day, open: day.close, high: day.close, low: day.close, volume: 100, amount: 3_000 }));
    await client.insertBars("600036.SH", days, { interval: "1d" });
    const computed = await client.adjustments.insertActions("600036.SH", [{ date: "2024-06-05", cash: 1 }], { source: "tdx" });
    expect(computed.map((row) => row.date)).toEqual(["2024-06-05"]);
    expect(await client.adjustments.listActions("600036.SH")).toEqual(await store.adjustments.listActions("600036.SH"));
    expect(await client.adjustments.insert("600036.SH", [{ date: "2024-06-06", factor: 2, knownAt: new Date("2024-06-06T08:00:00+08:00") }])).toBe(1);
    const listed = await client.adjustments.list("600036.SH", { asOf: new Date("2024-06-05T12:00:00+08:00") });
    expect(listed).toEqual(computed);
    const query = { interval: "1d", source: "stored", adjust: "qfq", asOf: "2024-06-05T12:00:00+08:00", adjustVolume: true } as const;
    expect(await client.getBars("600036.SH", query)).toEqual(await store.getBars("600036.SH", query));
    const error = await client.adjustments.insert("600036.SH", [{ date: "2024-06-07", factor: -1 }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]).toMatchObject({ row: 0, field: "factor" });
  });

  test("completeness follows the calendar the client assigns", async () => {
    await client.calendars.assign("600519.SH", "XSHG");
    expect(await client.calendars.of("600519.SH")).toBe("XSHG");
    const report = await client.completeness("600519.SH", { start: "2024-01-02", end: "2024-01-02" });
    expect(report).toEqual(await store.completeness("600519.SH", { start: "2024-01-02", end: "2024-01-02" }));
    expect(report.days[0]).toMatchObject({ date: "2024-01-02", expected: 240, present: 4 });
    await client.calendars.assign("600519.SH", null);
    expect(await client.calendars.of("600519.SH")).toBeNull();
  });

  test("a streamed export of 60,000 bars arrives whole, as parsed bars (NDJSON) and as CSV text", async () => {
    const many = minuteBars(Date.parse("2023-01-01T00:00:00Z"), 60_000);
    await store.insertBars("BULK", many);
    let count = 0;
    let last: Bar | undefined;
    for await (const bar of client.iterateBars("BULK")) {
      if (count === 0) expect(bar).toEqual(many[0]!);
      count++;
      last = bar;
    }
    expect(count).toBe(60_000);
    expect(last).toEqual(many.at(-1)!);

    const text = await new Response(await client.exportBars("BULK", { start: many[100]!.timestamp })).text();
    const lines = text.trimEnd().split("\n");
    expect(lines[0]! + "\n").toBe(CSV_HEADER_LINE);
    expect(lines.length).toBe(1 + 60_000 - 100);
    expect(lines[1]!.startsWith(new Date(many[100]!.timestamp).toISOString())).toBe(true);
  });

  test("a loop that stops early cancels the stream, and the server serves the next request", async () => {
    let seen = 0;
    for await (const _ of client.iterateBars("BULK")) if (++seen === 10) break;
    expect(seen).toBe(10);
    expect((await client.getBars("BULK", { limit: 2 })).length).toBe(2);
  });
});

describe("the other records", () => {
  test("instruments: put, get, statusHistory and list answer what the store holds; none is null or NotFoundError", async () => {
    expect(await client.instruments.put([{ symbol: "600036.SH", name: "招商银行", listedDate: "2002-04-09" }, { symbol: "300750.SZ" }])).toBe(2);
    expect(await client.instruments.get("600036.SH")).toEqual(await store.instruments.get("600036.SH"));
    expect((await client.instruments.get("600036.SH"))?.board).toBe("main");
    expect(await client.instruments.get("601398.SH")).toBeNull();
    expect(await client.instruments.setStatus("600036.SH", [{ date: "2020-01-02", status: "ST" }])).toEqual(await store.instruments.statusHistory("600036.SH"));
    expect(await client.instruments.setStatus("601398.SH", [{ date: "2020-01-02", status: "ST" }]).catch((error: unknown) => error)).toBeInstanceOf(NotFoundError);
    expect(await client.instruments.statusHistory("600036.SH")).toEqual([{ date: "2020-01-02", status: "ST" }]);
    expect(await client.instruments.statusHistory("601398.SH").catch((error: unknown) => error)).toBeInstanceOf(NotFoundError);
    expect((await client.instruments.list({ board: "chinext" })).map((each) => each.symbol)).toEqual(["300750.SZ"]);
    expect((await client.instruments.list({ status: "ST", asOf: "2021-01-01" })).map((each) => each.symbol)).toEqual(["600036.SH"]);
    const refused = await client.instruments.put([{ symbol: "600036.SZ" }]).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).issues[0]).toMatchObject({ row: 0, field: "symbol" });
  });

  test("quotes", async () => {
    expect(await client.insertQuotes("600519.SH", [{ timestamp: DAY, bid: 10, bid_size: 100, ask: 10.01, ask_size: 200, last: 10, volume: 5 }])).toBe(1);
    expect(await client.getQuotes("600519.SH", { limit: 10 })).toEqual(await store.getQuotes("600519.SH"));
  });

  test("calendars: list, get (with sessions as objects), put, a year replaced from objects and from the file's text", async () => {
    expect(await client.calendars.list()).toEqual(await store.calendars.list());
    expect(await client.calendars.get("XSHG")).toEqual(await store.calendars.get("XSHG"));
    expect(await client.calendars.get("NOPE")).toBeNull();
    const summary = await client.calendars.put({
      name: "US-EQ",
      timezone: "America/New_York",
      rules: [{ from: "2027-01-04", sessions: [{ open: 570, close: 960 }] }],
      days: ["2027-01-04", "2027-01-05"],
      exceptions: { "2027-01-05": [{ open: 570, close: 780 }] },
    });
    expect(summary).toEqual({ name: "US-EQ", timezone: "America/New_York", first: "2027-01-04", last: "2027-01-05", days: 2 });
    expect((await client.calendars.get("US-EQ"))?.exceptions).toEqual({ "2027-01-05": [{ open: 570, close: 780 }] });
    const fromObjects = await client.calendars.replaceYear("US-EQ", 2027, [{ date: "2027-01-04" }, { date: "2027-01-06", sessions: [{ open: 570, close: 720 }] }]);
    expect(fromObjects).toMatchObject({ first: "2027-01-04", last: "2027-01-06", days: 2 });
    const fromText = await client.calendars.replaceYear("US-EQ", 2027, "date,sessions\n2027-01-07,\n");
    expect(fromText).toMatchObject({ first: "2027-01-07", last: "2027-01-07", days: 1 });
  });

  test("artifacts: register, the latest and one version, the list; another hash for a version is a ConflictError", async () => {
    const input = { name: "momentum", version: "1.0.0", path: "models/momentum.onnx", sha256: "a".repeat(64), size: 1234, tags: ["prod"] };
    const registered = await client.artifacts.register(input);
    expect(registered).toMatchObject({ name: "momentum", version: "1.0.0", sha256: "a".repeat(64), size: 1234, tags: ["prod"] });
    expect(await client.artifacts.get("momentum")).toEqual(registered);
    expect(await client.artifacts.get("momentum", "1.0.0")).toEqual(registered);
    expect(await client.artifacts.get("momentum", "9.9.9")).toBeNull();
    expect(await client.artifacts.list({ tag: "prod" })).toEqual([registered]);
    const conflict = await client.artifacts.register({ ...input, sha256: "b".repeat(64) }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(ConflictError);
    expect((conflict as ConflictError).code).toBe("CONFLICT");
  });

  test("preferences: set, get, all, delete (false when it was not there)", async () => {
    expect(await client.prefs.set("chart.theme", { dark: true })).toMatchObject({ key: "chart.theme", value: { dark: true } });
    expect(await client.prefs.get("chart.theme")).toMatchObject({ value: { dark: true } });
    expect((await client.prefs.all()).map((p) => p.key)).toContain("chart.theme");
    expect(await client.prefs.delete("chart.theme")).toBe(true);
    expect(await client.prefs.delete("chart.theme")).toBe(false);
    expect(await client.prefs.get("chart.theme")).toBeNull();
  });

  test("metrics: record, query, summary", async () => {
    const sample = await client.metrics.record("fills.latency", 12.5, { venue: "SSE" });
    expect(sample).toMatchObject({ name: "fills.latency", value: 12.5, labels: { venue: "SSE" } });
    await client.metrics.record("fills.latency", 7.5);
    expect(await client.metrics.query("fills.latency", { since: 0 })).toEqual(await store.metrics.query("fills.latency", { since: 0 }));
    expect(await client.metrics.summary("fills.latency")).toMatchObject({ count: 2, min: 7.5, max: 12.5, last: 7.5 });
  });

  test("audit: the client's writes are entries naming the token's actor, and the chain verifies", async () => {
    const entries = await client.audit.query({ actor: "tester" });
    expect(entries.length).toBeGreaterThan(3);
    expect(entries).toEqual(await store.audit.query({ actor: "tester" }));
    const head = (await store.audit.head())!;
    expect(await client.audit.verify({ head })).toMatchObject({ ok: true });
  });

  test("audit rollups: the client closes the open ones (one symbol's, then the due ones, then all) and re-digests them as the store does", async () => {
    await store.insertBars("ROLL", minuteBars(DAY, 1));
    await store.insertBars("ROLL2", minuteBars(DAY, 1));
    expect((await client.audit.verifyRollups()).pending).toBeGreaterThanOrEqual(2);
    expect(await client.audit.rollUp({ symbol: "ROLL" })).toBe(1);
    expect(await client.audit.rollUp({ due: true })).toBe(0);
    expect(await client.audit.rollUp()).toBeGreaterThanOrEqual(1);
    const verified = await client.audit.verifyRollups();
    expect(verified).toEqual(await store.audit.verifyRollups());
    expect(verified).toMatchObject({ ok: true, pending: 0 });
    expect((await store.audit.query({ action: "bars.rollup" })).map((entry) => entry.entity)).toContain("ROLL2");
  });

  test("maintenance: checkpoint, optimize, vacuum, stats, integrity, a named backup (twice is a ConflictError)", async () => {
    expect(await client.maintenance.checkpoint("PASSIVE")).toMatchObject({ mode: "PASSIVE", busy: false });
    expect(await client.maintenance.optimize()).toHaveProperty("durationMs");
    expect(await client.maintenance.vacuum({ incremental: true })).toHaveProperty("freedPages");
    expect((await client.maintenance.stats()).rows.market_data).toBeGreaterThan(60_000);
    expect(await client.maintenance.integrityCheck({ quick: true })).toMatchObject({ ok: true, problems: [] });
    const backup = await client.maintenance.backup("nightly.db");
    expect(backup.name).toBe("nightly.db");
    expect(existsSync(dir.file("backups/nightly.db"))).toBe(true);
    expect(await client.maintenance.backup("nightly.db").catch((e: unknown) => e)).toBeInstanceOf(ConflictError);
    const listed = await client.maintenance.backups();
    expect(listed.backups.map((each) => each.name)).toEqual(["nightly.db"]);
    expect(listed).toMatchObject({ count: 1, maxCount: 20, bytes: backup.bytes });
    expect(await client.maintenance.deleteBackup("nightly.db")).toBe(true);
    expect(await client.maintenance.deleteBackup("nightly.db")).toBe(false);
    expect(existsSync(dir.file("backups/nightly.db"))).toBe(false);
  });
});

describe("errors are the library's classes with the library's codes", () => {
  test("ValidationError with the per-row issues; nothing is written", async () => {
    const before = await store.getBars("600519.SH");
    const error = await client.insertBars("600519.SH", [minuteBars(DAY + 3_600_000, 1)[0]!, { timestamp: DAY + 7_200_000, open: 10, high: 9, low: 11, close: 10 }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe("VALIDATION");
    expect((error as ValidationError).issues[0]).toMatchObject({ row: 1, field: "low", message: "low 11 is above high 9" });
    expect(await store.getBars("600519.SH")).toEqual(before);
    const query = await client.getBars("600519.SH", { start: "yesterday" }).catch((e: unknown) => e);
    expect(query).toBeInstanceOf(ValidationError);
    expect((query as ValidationError).issues[0]!.field).toBe("start");
  });

  test("a server without a session cache: StorageError NOT_SUPPORTED, as a store answers what it cannot do", async () => {
    const error = await client.cache.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("NOT_SUPPORTED");
  });

  test("a closed store: StorageError with the store's own code (CLOSED)", async () => {
    const closing = await openStore({ backend: "sqlite", path: dir.file("closed.db") });
    const closed = startServer(closing, { port: 0, logError: () => {} });
    try {
      await closing.close();
      const error = await createClient({ url: closed.url }).getBars("600519.SH").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).code).toBe("CLOSED");
    } finally {
      await closed.stop(true);
    }
  });
});

const available = await postgresAvailable();

describe.skipIf(!available)("the session cache routes (a PostgreSQL store with a SessionCache)", () => {
  let database: TestDatabase;
  let pgStore: Store;
  let pgServer: RunningServer;
  let pgClient: Client;

  beforeAll(async () => {
    database = await createTestDatabase("client");
    pgStore = await openStore({ backend: "postgres", url: database.url });
    const cache = new SessionCache({ store: pgStore, dir: dir.file("session_cache") });
    pgServer = startServer(pgStore, { port: 0, cache, logError: () => {} });
    pgClient = createClient({ url: pgServer.url, fetch: recording });
  });

  afterAll(async () => {
    await pgServer?.stop(true);
    await pgStore?.close();
    await database?.drop();
  });

  test("storeBars (JSON and CSV), getBars through the cache, the list and a compaction", async () => {
    const bars = minuteBars(DAY, 4);
    expect(await pgClient.cache.storeBars("600519.SH", bars.slice(0, 2))).toEqual({ written: 2, compacted: false });
    const csv = CSV_HEADER_LINE + bars.slice(2).map(csvLine).join("");
    expect(await pgClient.cache.storeBars("600519.SH", csv)).toEqual({ written: 2, compacted: false });
    expect(await pgClient.cache.getBars("600519.SH", { start: bars[1]!.timestamp })).toEqual(bars.slice(1));
    expect((await pgClient.cache.list()).map((entry) => [entry.symbol, entry.row_count])).toEqual([["600519.SH", 4]]);
    expect(await pgClient.cache.compact("600519.SH")).toMatchObject({ rowsBefore: 4, rowsAfter: 4 });
  });

  test("compacting a symbol without a cache file is a NotFoundError", async () => {
    const error = await pgClient.cache.compact("NOPE").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).code).toBe("NOT_FOUND");
  });
});

test("every route of the server's /openapi.json was called by a client method above", async () => {
  const document = (await (await fetch(`${server.url}/openapi.json`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json()) as { paths: Record<string, Record<string, unknown>> };
  const missing: string[] = [];
  for (const [template, operations] of Object.entries(document.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`);
    for (const method of Object.keys(operations)) {
      if (!called.some((call) => call.method === method.toUpperCase() && pattern.test(call.path))) missing.push(`${method.toUpperCase()} ${template}`);
    }
  }
  expect(Object.keys(document.paths).length).toBeGreaterThan(20);
  expect(available ? missing : missing.filter((route) => !route.includes("/v1/cache"))).toEqual([]);
});

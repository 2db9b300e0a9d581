/**
 * GET /metrics (src/api/prometheus.ts) on real servers: a `serve` process (the sqlite-worker
 * backend with its session cache and scoped tokens) and an in-thread server over a SQLite file.
 * The text is read with a strict line check of the Prometheus text format; the counts are the
 * requests sent, the sizes are the files' on disk, and recovery samples are counted once.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { createApp } from "../../src/api/app.ts";
import { startServer } from "../../src/api/server.ts";
import { LATE_COMMIT_MS } from "../../src/api/prometheus.ts";
import { openStore } from "../../src/store.ts";
import { DISPATCH_WINDOW } from "../../src/worker/pool.ts";
import { killAllServers, startServeProcess, type ServerProcess } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

const READER = "reader-token-0123456789";
const WRITER = "writer-token-0123456789";
const dir = tempDir("tradelite-prometheus-");
let server: ServerProcess;

beforeAll(async () => {
  server = await startServeProcess({
    TRADELITE_DB: dir.file("trading.db"),
    TRADELITE_CACHE_DIR: dir.file("cache"),
    TRADELITE_PORT: "0",
    TRADELITE_TOKENS: `carol:read:${READER},alice:write:${WRITER}`,
  });
});
afterAll(async () => {
  await killAllServers();
  dir.cleanup();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL_VALUE = String.raw`"(?:[^"\\\n]|\\["\\n])*"`;
const LABELS = `\\{(?:[a-zA-Z_][a-zA-Z0-9_]*=${LABEL_VALUE}(?:,[a-zA-Z_][a-zA-Z0-9_]*=${LABEL_VALUE})*)?\\}`;
const SAMPLE_LINE = new RegExp(`^(${NAME})(${LABELS})? (-?(?:\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?|\\+Inf|-Inf|NaN))$`);
const SUFFIXES: Record<string, readonly string[]> = { counter: [""], gauge: [""], untyped: [""], histogram: ["_bucket", "_sum", "_count"], summary: ["", "_sum", "_count"] };

/**
 * The exposition read strictly: every line is a HELP, a TYPE or a sample; each family has one
 * HELP and one TYPE before its samples; each sample belongs to the family last typed (with its
 * type's suffixes); label values unescape. Throws naming the line otherwise.
 */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helped = new Set<string>();
  let family: string | undefined;
  for (const [index, line] of text.split("\n").entries()) {
    const fail = (why: string) => new Error(`line ${index + 1} ${JSON.stringify(line)}: ${why}`);
    if (line === "") continue;
    const help = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line);
    if (help) {
      if (helped.has(help[1]!)) throw fail("a second HELP");
      helped.add(help[1]!);
      continue;
    }
    const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (type) {
      if (types.has(type[1]!)) throw fail("a second TYPE");
      if (!helped.has(type[1]!)) throw fail("TYPE before HELP");
      types.set(type[1]!, type[2]!);
      family = type[1]!;
      continue;
    }
    if (line.startsWith("#")) throw fail("a comment that is neither HELP nor TYPE");
    const sample = SAMPLE_LINE.exec(line);
    if (!sample) throw fail("not a sample line");
    const [, name, labelText = "{}", value] = sample;
    if (family === undefined || !SUFFIXES[types.get(family)!]!.some((suffix) => name === family + suffix)) throw fail(`not a sample of the family ${family}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of labelText.matchAll(new RegExp(`([a-zA-Z_][a-zA-Z0-9_]*)=(${LABEL_VALUE})`, "g"))) {
      if (key! in labels) throw fail(`label ${key} twice`);
      labels[key!] = raw!.slice(1, -1).replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    samples.push({ name: name!, labels, value: value === "+Inf" ? Infinity : value === "-Inf" ? -Infinity : Number(value) });
  }
  return { samples, types };
}

/** Every histogram series: buckets by ascending `le`, counts never falling, +Inf equal to _count. */
function checkHistograms(samples: readonly Sample[], types: Map<string, string>): number {
  let checked = 0;
  for (const [family, type] of types) {
    if (type !== "histogram") continue;
    for (const count of samples.filter((s) => s.name === `${family}_count`)) {
      const same = (s: Sample) => Object.entries(count.labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(count.labels).length + 1;
      const buckets = samples.filter((s) => s.name === `${family}_bucket` && same(s));
      const bounds = buckets.map((b) => (b.labels.le === "+Inf" ? Infinity : Number(b.labels.le)));
      expect(bounds).toEqual([...bounds].sort((a, b) => a - b));
      expect(bounds.at(-1)).toBe(Infinity);
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      expect(buckets.at(-1)!.value).toBe(count.value);
      checked++;
    }
  }
  return checked;
}

async function send(method: string, path: string, token?: string, body?: unknown): Promise<Response> {
  const answer = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), "Content-Type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await answer.arrayBuffer();
  return answer;
}

async function scrape(url: string, token?: string): Promise<{ samples: Sample[]; types: Map<string, string>; text: string }> {
  const answer = await fetch(`${url}/metrics`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  expect(answer.status).toBe(200);
  expect(answer.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  const text = await answer.text();
  return { ...parseExposition(text), text };
}

/** The samples of one metric, as `labels -> value`, labels written k=v joined by commas. */
function series(samples: readonly Sample[], name: string): Record<string, number> {
  return Object.fromEntries(
    samples
      .filter((s) => s.name === name)
      .map((s) => [
        Object.entries(s.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(","),
        s.value,
      ]),
  );
}

function value(samples: readonly Sample[], name: string): number {
  const found = samples.filter((s) => s.name === name);
  expect(found.length).toBe(1);
  return found[0]!.value;
}

test("the line check refuses what the format does not allow", () => {
  const family = "# HELP m help\n# TYPE m counter\n";
  expect(parseExposition(`${family}m{a="x\\"y"} 1\n`).samples).toEqual([{ name: "m", labels: { a: 'x"y' }, value: 1 }]);
  for (const bad of [`${family}m{a="x} 1`, `${family}m{a="x",a="y"} 1`, `${family}n 1`, "m 1", `${family}m 1 2 3`, `${family}# TYPE m gauge`, `${family}m{a=x} 1`, `${family}# a comment`]) {
    expect(() => parseExposition(bad)).toThrow();
  }
});

const BARS = Array.from({ length: 5 }, (_, i) => ({ timestamp: 1705282260000 + i * 60_000, open: 10, high: 11, low: 9, close: 10.5, volume: 100, amount: 1050 }));

describe("GET /metrics on a serve process (sqlite-worker, session cache, scoped tokens)", () => {
  test("counts every request by method, route pattern and status; refuses without the read scope", async () => {
    expect((await send("GET", "/metrics")).status).toBe(401);
    const forbidden = await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${WRITER}` } });
    expect([forbidden.status, ((await forbidden.json()) as { error: { details: unknown } }).error.details]).toEqual([403, { scope: "read" }]);
    for (let i = 0; i < 2; i++) expect((await send("POST", "/v1/bars/600519.SH", WRITER, BARS)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await send("GET", "/v1/bars/600519.SH", READER)).status).toBe(200);
    expect((await send("GET", "/v1/bars/000001.SZ?startTime=1", READER)).status).toBe(422);
    expect((await send("GET", "/no/such/route", READER)).status).toBe(404);
    expect((await send("POST", "/v1/cache/000001.SZ", WRITER, BARS)).status).toBe(200);
    for (const kind of ["salvaged", "salvaged", "temp-file-removed"]) {
      expect((await send("POST", "/v1/metrics/session_cache.recovery", WRITER, { value: 1, labels: { kind, symbol: "600519.SH" } })).status).toBe(200);
    }
    expect((await send("POST", "/v1/metrics/sqlite.busy_wait.ms", WRITER, { value: 12.5 })).status).toBe(200);

    const { samples, types } = await scrape(server.url, READER);
    // Exactly the requests above (the scrape itself is counted once it has answered).
    expect(series(samples, "tradelite_http_request_duration_seconds_count")).toEqual({
      "method=GET,route=/metrics,status=401": 1,
      "method=GET,route=/metrics,status=403": 1,
      "method=POST,route=/v1/bars/:symbol,status=200": 2,
      "method=GET,route=/v1/bars/:symbol,status=200": 3,
      "method=GET,route=/v1/bars/:symbol,status=422": 1,
      "method=GET,route=unmatched,status=404": 1,
      "method=POST,route=/v1/cache/:symbol,status=200": 1,
      "method=POST,route=/v1/metrics/:name,status=200": 4,
    });
    expect(checkHistograms(samples, types)).toBeGreaterThanOrEqual(9);
    // The 422 never reached the store: three reads, two writes.
    expect(series(samples, "tradelite_store_operation_duration_seconds_count")).toMatchObject({ "operation=getBars": 3, "operation=insertBars": 2, "operation=metrics.record": 4 });

    // The recovery samples recorded through the API, by kind, without the symbol.
    expect(series(samples, "tradelite_recovery_count")).toEqual({
      "name=session_cache.recovery,kind=salvaged": 2,
      "name=session_cache.recovery,kind=temp-file-removed": 1,
      "name=sqlite.busy_wait.ms": 1,
    });
    expect(series(samples, "tradelite_recovery_sum")["name=sqlite.busy_wait.ms"]).toBe(12.5);
    expect(series(samples, "tradelite_recovery_last")).toEqual({ "name=session_cache.recovery": 1, "name=sqlite.busy_wait.ms": 12.5 });

    // One writer and the default two readers, idle now.
    expect(series(samples, "tradelite_worker_queue_depth")).toEqual({ "role=writer,index=0": 0, "role=reader,index=0": 0, "role=reader,index=1": 0 });
    expect([value(samples, "tradelite_session_cache_symbols"), value(samples, "tradelite_session_cache_rows")]).toEqual([1, BARS.length]);
    expect(value(samples, "tradelite_session_cache_bytes")).toBe(statSync(`${dir.file("cache")}/${readCacheFile()}`).size);

    // A second scrape counts the first, and counts no recovery sample again.
    const again = await scrape(server.url, READER);
    expect(series(again.samples, "tradelite_http_request_duration_seconds_count")["method=GET,route=/metrics,status=200"]).toBe(1);
    expect(series(again.samples, "tradelite_recovery_count")["name=session_cache.recovery,kind=salvaged"]).toBe(2);
  });

  test("the database and WAL gauges are the files' sizes on disk", async () => {
    expect((await send("POST", "/v1/bars/600000.SH", WRITER, BARS)).status).toBe(200);
    const path = dir.file("trading.db");
    // Nothing writes between the scrape and the stat (the server is idle).
    const { samples } = await scrape(server.url, READER);
    const wal = statSync(`${path}-wal`).size;
    expect(wal).toBeGreaterThan(0);
    expect(value(samples, "tradelite_database_bytes")).toBe(statSync(path).size);
    expect(value(samples, "tradelite_database_wal_bytes")).toBe(wal);
  });
});

/** The one cache file's name, from the database the serve process writes. */
function readCacheFile(): string {
  const db = new Database(dir.file("trading.db"), { readonly: true });
  try {
    return db.query<{ file_path: string }, []>("SELECT file_path FROM session_cache").get()!.file_path;
  } finally {
    db.close();
  }
}

describe("GET /metrics in process (sqlite)", () => {
  test("a recovery sample committed late is counted once; samples from before the server started are not", async () => {
    const local = tempDir("tradelite-prometheus-late-");
    const path = local.file("late.db");
    const store = await openStore({ backend: "sqlite", path });
    await store.metrics.record("maintenance.error", 1, { code: "SQLITE_FULL" });
    await Bun.sleep(5);
    const running = startServer(store, { port: 0 });
    const started = Date.now();
    const other = new Database(path);
    try {
      await Bun.sleep(50);
      const first = await scrape(running.url);
      expect(series(first.samples, "tradelite_recovery_count")).toEqual({});
      const insert = (timestamp: number, value: number) =>
        other.run("INSERT INTO recovery_metrics (name, timestamp, value, labels) VALUES (?, ?, ?, ?)", ["maintenance.error", timestamp, value, '{"code":"SQLITE_BUSY"}']);
      insert(Date.now() - 1, 1);
      const second = await scrape(running.url);
      expect(series(second.samples, "tradelite_recovery_count")).toEqual({ "name=maintenance.error,code=SQLITE_BUSY": 1 });
      // Another connection commits a sample stamped before the last scrape (a write that waited
      // for the lock), well within LATE_COMMIT_MS: counted, once, and not taken for the newest.
      const stamped = started + 10;
      expect(Date.now() - stamped).toBeLessThan(LATE_COMMIT_MS);
      insert(stamped, 7);
      for (let i = 0; i < 2; i++) {
        const { samples } = await scrape(running.url);
        expect(series(samples, "tradelite_recovery_count")).toEqual({ "name=maintenance.error,code=SQLITE_BUSY": 2 });
        expect(series(samples, "tradelite_recovery_sum")).toEqual({ "name=maintenance.error,code=SQLITE_BUSY": 8 });
        expect(series(samples, "tradelite_recovery_last")).toEqual({ "name=maintenance.error": 1 });
      }
      const third = await scrape(running.url);
      // No worker family on the in-thread backend, and no cache family without a cache.
      expect([...third.types.keys()].filter((name) => name.includes("worker") || name.includes("session_cache"))).toEqual([]);
    } finally {
      other.close();
      await running.stop(true);
      await store.close();
      local.cleanup();
    }
  });

  test("the worker queue gauges count the requests waiting on each worker (sqlite-worker)", async () => {
    const local = tempDir("tradelite-prometheus-queues-");
    const store = await openStore({ backend: "sqlite-worker", path: local.file("queues.db"), readers: 2 });
    try {
      const app = createApp(store);
      // Sent and not answered yet: a worker's answers arrive as messages, after the scrape below
      // has read the queues (the request path to it awaits only promises).
      const waiting = Array.from({ length: 100 }, () => store.getBars("600519.SH"));
      const answer = await app.request("http://localhost/metrics");
      const { samples } = parseExposition(await answer.text());
      expect(series(samples, "tradelite_worker_queue_depth")).toEqual({ "role=writer,index=0": 0, "role=reader,index=0": 50, "role=reader,index=1": 50 });
      await Promise.all(waiting);
      // Reads whose caller gave up: those still waiting are dropped unrun (cancelled); at most
      // the DISPATCH_WINDOW posted to each reader may have been started, and finish (answered).
      const controller = new AbortController();
      const abandoned = Array.from({ length: 40 }, () => store.getBars("600519.SH", { signal: controller.signal }).catch((error: unknown) => error));
      controller.abort();
      await Promise.all(abandoned);
      const outcomes = series(parseExposition(await (await app.request("http://localhost/metrics")).text()).samples, "tradelite_worker_requests_total");
      const total = (outcome: string) => (outcomes[`role=reader,index=0,outcome=${outcome}`] ?? 0) + (outcomes[`role=reader,index=1,outcome=${outcome}`] ?? 0);
      expect(total("cancelled")).toBeGreaterThanOrEqual(40 - 2 * DISPATCH_WINDOW);
      expect(total("cancelled") + total("answered")).toBeGreaterThanOrEqual(140);
      expect([total("refused"), total("shed")]).toEqual([0, 0]);
    } finally {
      await store.close();
      local.cleanup();
    }
  });

  test("metrics: false switches the route off: 501 NOT_IMPLEMENTED", async () => {
    const store = await openStore({ backend: "sqlite", path: ":memory:" });
    const running = startServer(store, { port: 0, metrics: false });
    try {
      const answer = await fetch(`${running.url}/metrics`);
      expect(answer.status).toBe(501);
      expect(((await answer.json()) as { error: { code: string } }).error.code).toBe("NOT_IMPLEMENTED");
    } finally {
      await running.stop(true);
      await store.close();
    }
  });

  test("apps created side by side keep their own counts", async () => {
    const store = await openStore({ backend: "sqlite", path: ":memory:" });
    const [a, b] = [startServer(store, { port: 0 }), startServer(store, { port: 0 })];
    try {
      for (let i = 0; i < 3; i++) await (await fetch(`${a.url}/v1/symbols`)).arrayBuffer();
      await (await fetch(`${b.url}/v1/symbols`)).arrayBuffer();
      expect(series((await scrape(a.url)).samples, "tradelite_http_request_duration_seconds_count")).toEqual({ "method=GET,route=/v1/symbols,status=200": 3 });
      expect(series((await scrape(b.url)).samples, "tradelite_http_request_duration_seconds_count")).toEqual({ "method=GET,route=/v1/symbols,status=200": 1 });
    } finally {
      await Promise.all([a.stop(true), b.stop(true)]);
      await store.close();
    }
  });
});

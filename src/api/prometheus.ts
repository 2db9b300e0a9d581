/**
 * GET /metrics: the server's metrics in the Prometheus text format (scope `read`). Requests by
 * method, route pattern and status with their latency; each store operation's latency; the
 * recovery metrics the library records; database and WAL bytes; the session cache's size; the
 * sqlite-worker backend's queue depths.
 *
 * Written over prom-client (15.x), one Registry per app, so that apps created side by side (the
 * tests make many) never share or collide on a metric and nothing lands in prom-client's
 * global registry. Measured against the alternatives (Bun 1.4.5, 40 routes x 2 statuses):
 * - prom-client directly: 0.45 us an observation (a request of the hot route takes ~200 us), a
 *   scrape of 80 series with 16 buckets in 1.6 ms; it escapes label values and help text, writes
 *   `+Inf`, `_sum` and `_count`, and names the content type `text/plain; version=0.0.4`;
 * - @hono/prometheus (1.0.3) is prom-client behind one more middleware layer, observing twice a
 *   request (a histogram and a counter), with buckets from 5 ms (every answer of the hot route
 *   would fall in the first) and an answer without the format's version in its content type;
 * - a hand-written exposition observed in 0.15 us, but would be our own copy of the format's
 *   escaping and histogram rules for a saving of 0.3 us in 200.
 * The middleware below is ours: one layer that labels by the route pattern as the access log does.
 * The two histograms every request feeds (requests, store operations) count their observations
 * themselves and hand them to prom-client's Registry at scrape time (counted-histogram.ts):
 * prom-client's observe() had become 0.35 us against 0.01, the text is still prom-client's.
 * End to end (bench:api, wrk, server CPU time a request) the request and store-call timing
 * costs the hot route ~3%: 230 us a request without, 238 with.
 *
 * Process metrics (collectDefaultMetrics) are left out: they are built for Node, and under Bun
 * (tried: prom-client 15.1.3, Bun 1.4.5) they half work: the process_* CPU, memory and fd figures
 * are there, but the event-loop lag reads 0, the GC family is missing and the nodejs_* heap
 * figures are V8's names put on JavaScriptCore. A process exporter or the container's own
 * metrics say it truthfully.
 */
import type { Context } from "hono";
import { Counter, Gauge, Registry, Summary } from "prom-client";
import type { CacheService } from "../domain/cache.ts";
import type { Metric } from "../domain/metric.ts";
import type { Store } from "../domain/store.ts";
import { BAR_TEXT, barTextOf, type BarText } from "../domain/bar-text.ts";
import type { Api } from "./context.ts";
import { STANDARD_METHODS } from "./access-log.ts";
import { ApiError, errorResponses } from "./errors.ts";
import { route } from "./schemas.ts";
import { z } from "@hono/zod-openapi";
import { countedHistogram, type Observe } from "./counted-histogram.ts";

/**
 * Latency buckets in seconds. A one-day read of the hot route answers in ~200 us, so they start
 * at 100 us (prom-client's default starts at 5 ms, where every such answer would land first).
 */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Methods labelled as such; anything else a client sends is `OTHER`, so labels stay few. */
const METHODS = new Set(STANDARD_METHODS);

/** The route label of a request no route matched (404s, refusals before routing). */
export const UNMATCHED_ROUTE = "unmatched";

/**
 * The recovery metrics the library records (the ADR's "recovery metrics"), each with the labels
 * kept. `session_cache.recovery` also carries the symbol, which is dropped here: one series per
 * symbol would be the whole market's.
 */
export const RECOVERY_METRICS: Readonly<Record<string, readonly string[]>> = {
  "session_cache.recovery": ["kind"],
  "sqlite_worker.restart": ["role"],
  "sqlite.busy_wait.ms": [],
  "sqlite.checkpoint.ms": [],
  "sqlite.checkpoint.behind": ["mode"],
  "sqlite.optimize.ms": [],
  "sqlite.vacuum.ms": [],
  "sqlite.integrity.ms": [],
  "sqlite.integrity.ok": ["quick"],
  "sqlite.backup.ms": [],
  "maintenance.run.ms": [],
  "maintenance.error": ["code"],
  "postgres.checkpoint.ms": [],
  "postgres.optimize.ms": [],
  "postgres.vacuum.ms": [],
  "postgres.integrity.ms": [],
};
const RECOVERY_LABELS = [...new Set(Object.values(RECOVERY_METRICS).flat())];

/**
 * A sample whose commit comes this long after its timestamp is still counted, once. The
 * timestamp is taken before the write lock, which a busy writer holds for up to 5 s
 * (busy_timeout), so a minute leaves room; each scrape reads the samples of the last minute
 * and those newer than the last scrape, never the whole history.
 */
export const LATE_COMMIT_MS = 60_000;

/** A worker connection as the sqlite-worker store shows it (`store.workers`, for diagnostics). */
interface QueuedConnection {
  role: string;
  index: number;
  queued: number;
  /** What became of its requests since it started (src/worker/pool.ts QueueStats). */
  stats?: Record<(typeof OUTCOMES)[number], number>;
}

/** How a worker's request ended: answered, or refused (queue full), shed (past the deadline), cancelled (its client left). */
const OUTCOMES = ["answered", "refused", "shed", "cancelled"] as const;

export interface ApiMetrics {
  readonly registry: Registry;
  /** Counts a request by method, route and status, with the seconds it took (the first middleware calls it). */
  observeRequest(c: Context, route: string | null, seconds: number): void;
  /** The store the routes use: the same store, each operation timed. */
  readonly store: Store;
  /** Reads what is measured at scrape time (sizes, queues, new recovery samples). */
  refresh(): Promise<void>;
}

/**
 * `refusedEarly` reads how many requests the front door refused before the app (admission.ts):
 * a counter there, read at scrape time, so a refusal costs no metric work of its own.
 */
export function createApiMetrics(store: Store, cache: CacheService | null, refusedEarly?: () => number): ApiMetrics {
  const registry = new Registry();
  const registers = [registry];
  const refusals =
    refusedEarly &&
    new Counter({ name: "tradelite_http_refused_early_total", help: "GET requests answered 503 QUEUE_FULL before routing, because every reader's queue was full (not in the request histogram)", registers });
  // The two histograms every request feeds are counted by us and formatted by prom-client.
  const requests = countedHistogram({
    name: "tradelite_http_request_duration_seconds",
    help: "Time to each answer's headers (a streamed export's body is not counted); _count is the number of requests",
    labelNames: ["method", "route", "status"],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const operations = countedHistogram({
    name: "tradelite_store_operation_duration_seconds",
    help: "Time each store call the API made took to settle, by Store method",
    labelNames: ["operation"],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const readState = stateGauges(store, cache, registers);
  const readRecovery = recoveryFamilies(store, registers);

  // Each (method, route, status) series' child is looked up once: prom-client hashes the labels
  // on every observe() otherwise. The key space is bounded (methods x routes x statuses).
  const series = new Map<string, Observe>();
  const observeRequest = (c: Context, route: string | null, seconds: number) => {
    const method = METHODS.has(c.req.method) ? c.req.method : "OTHER";
    const status = c.res.status;
    const key = `${method} ${route} ${status}`;
    let observe = series.get(key);
    if (!observe) series.set(key, (observe = requests.series({ method, route: route ?? UNMATCHED_ROUTE, status: String(status) })));
    observe(seconds);
  };

  return {
    registry,
    observeRequest,
    store: timedStore(store, (operation) => operations.series({ operation })),
    refresh: async () => {
      if (refusals && refusedEarly) {
        refusals.reset();
        refusals.inc(refusedEarly());
      }
      // readState first: it reads the queues before any of the scrape's own calls is sent.
      await Promise.all([readState(), readRecovery()]);
    },
  };
}

/**
 * The gauges read at scrape time: database and WAL bytes, the session cache's size, the worker
 * queues. Families only where there is something to measure: a server without a session cache
 * or workers shows none, rather than zeros that look measured.
 */
function stateGauges(store: Store, cache: CacheService | null, registers: Registry[]): () => Promise<void> {
  const fileBytes = new Gauge({ name: "tradelite_database_bytes", help: "The database file's size (PostgreSQL: the database's)", registers });
  const walBytes = new Gauge({ name: "tradelite_database_wal_bytes", help: "The -wal file's size (0 on PostgreSQL)", registers });
  const cacheGauges = cache && {
    symbols: new Gauge({ name: "tradelite_session_cache_symbols", help: "Symbols with a session cache file", registers }),
    rows: new Gauge({ name: "tradelite_session_cache_rows", help: "Bars held in the session cache files", registers }),
    bytes: new Gauge({ name: "tradelite_session_cache_bytes", help: "Bytes of the session cache files", registers }),
  };
  const queueDepth =
    queuedConnections(store) &&
    new Gauge({ name: "tradelite_worker_queue_depth", help: "Requests sent to a sqlite-worker worker and not yet answered", labelNames: ["role", "index"], registers });

  const outcomes =
    queueDepth &&
    new Counter({ name: "tradelite_worker_requests_total", help: "Requests a sqlite-worker worker's queue took, by how they ended (answered, refused: queue full, shed: past the deadline, cancelled: the client left)", labelNames: ["role", "index", "outcome"], registers });

  // Called before the scrape's own store calls are sent: the queues are the traffic's alone.
  return async () => {
    if (queueDepth) {
      queueDepth.reset();
      outcomes?.reset();
      for (const { role, index, queued, stats } of queuedConnections(store) ?? []) {
        queueDepth.set({ role, index: String(index) }, queued);
        // The connection counts since it started; the counter shows its totals.
        for (const outcome of OUTCOMES) if (stats) outcomes?.inc({ role, index: String(index), outcome }, stats[outcome]);
      }
    }
    // The cache's list is one row per symbol (session_cache), never the bars.
    const [info, entries] = await Promise.all([store.maintenance.info(), cache?.list() ?? null]);
    fileBytes.set(info.fileBytes);
    walBytes.set(info.walBytes);
    if (cacheGauges && entries) {
      cacheGauges.symbols.set(entries.length);
      cacheGauges.rows.set(entries.reduce((sum, entry) => sum + entry.row_count, 0));
      cacheGauges.bytes.set(entries.reduce((sum, entry) => sum + entry.size_bytes, 0));
    }
  };
}

/** The recovery metrics' families, fed with the samples recorded since the last scrape. */
function recoveryFamilies(store: Store, registers: Registry[]): () => Promise<void> {
  const recovery = new Summary({
    name: "tradelite_recovery",
    help: "Recovery metric samples recorded since this server started (_count) and their values' total (_sum), by metric name",
    labelNames: ["name", ...RECOVERY_LABELS],
    percentiles: [],
    registers,
  });
  const recoveryLast = new Gauge({
    name: "tradelite_recovery_last",
    help: "The newest value of each recovery metric recorded since this server started",
    labelNames: ["name"],
    registers,
  });
  // A sample committed late may be older than one already shown: the newest stays the last.
  const newest = new Map<string, number>();
  return recoveryReader(store, (sample) => {
    const labels: Record<string, string> = { name: sample.name };
    for (const label of RECOVERY_METRICS[sample.name] ?? []) {
      const value = sample.labels[label];
      if (value !== undefined) labels[label] = value;
    }
    recovery.observe(labels, sample.value);
    if (sample.timestamp >= (newest.get(sample.name) ?? -Infinity)) {
      newest.set(sample.name, sample.timestamp);
      recoveryLast.set({ name: sample.name }, sample.value);
    }
  });
}

/** The sqlite-worker store's connections, or null on a backend without workers. */
function queuedConnections(store: Store): QueuedConnection[] | null {
  const workers = (store as { workers?: { writer?: unknown; readers?: unknown } }).workers;
  if (!workers || !isQueued(workers.writer) || !Array.isArray(workers.readers) || !workers.readers.every(isQueued)) return null;
  return [workers.writer, ...workers.readers];
}

function isQueued(value: unknown): value is QueuedConnection {
  const connection = value as Partial<QueuedConnection> | null;
  return typeof connection === "object" && connection !== null && typeof connection.queued === "number" && typeof connection.role === "string" && typeof connection.index === "number";
}

/**
 * Reads the recovery samples recorded since the last call (and since the server started) and
 * hands each to `count` once. Samples have no id in the Store, so a sample is known by its name,
 * timestamp, value and labels; those of the last LATE_COMMIT_MS are remembered (with how many
 * were alike) and read again, so a sample committed late is still counted and none twice.
 * Concurrent scrapes share one read.
 */
function recoveryReader(store: Store, count: (sample: Metric) => void): () => Promise<void> {
  const startedAt = Date.now();
  let seen = new Map<string, { timestamp: number; times: number }>();
  let reading: Promise<void> | undefined;
  const names = Object.keys(RECOVERY_METRICS);

  async function read(): Promise<void> {
    const now = Date.now();
    const since = Math.max(startedAt, now - LATE_COMMIT_MS);
    const samples = (await Promise.all(names.map((name) => store.metrics.query(name, { since })))).flat();
    const current = new Map<string, { timestamp: number; times: number }>();
    for (const sample of samples) {
      const key = `${sample.name}\n${sample.timestamp}\n${sample.value}\n${JSON.stringify(sample.labels)}`;
      const entry = current.get(key);
      const times = (entry?.times ?? 0) + 1;
      current.set(key, { timestamp: sample.timestamp, times });
      if (times > (seen.get(key)?.times ?? 0)) count(sample);
    }
    const keepFrom = now - LATE_COMMIT_MS;
    seen = new Map([...current].filter(([, entry]) => entry.timestamp >= keepFrom));
  }

  return () => (reading ??= read().finally(() => (reading = undefined)));
}

/**
 * The store with each operation timed, built once per view: the hot route pays two clock reads
 * and an observation. iterateBars is not timed: its time is the client's reading pace.
 */
function timedStore(store: Store, observer: (operation: string) => (seconds: number) => void): Store {
  const timed = <A extends unknown[], R>(operation: string, call: (...args: A) => R) => {
    const observe = observer(operation);
    return (...args: A): R => {
      const started = performance.now();
      const done = () => observe((performance.now() - started) / 1000);
      const result = call(...args);
      if (result instanceof Promise) result.then(done, done);
      else done();
      return result;
    };
  };
  const group = <T extends object>(prefix: string, methods: T): T => {
    const timedMethods: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(methods)) {
      timedMethods[name] = typeof value === "function" ? timed(`${prefix}.${name}`, value.bind(methods)) : value;
    }
    return timedMethods as T;
  };
  const timedView: Partial<Store> = {
    withActor: (actor) => timedStore(store.withActor(actor), observer),
    updateSettings: timed("updateSettings", store.updateSettings.bind(store)),
    insertBars: timed("insertBars", store.insertBars.bind(store)),
    getBars: timed("getBars", store.getBars.bind(store)),
    latestBar: timed("latestBar", store.latestBar.bind(store)),
    deleteBars: timed("deleteBars", store.deleteBars.bind(store)),
    getCrossSection: timed("getCrossSection", store.getCrossSection.bind(store)),
    overview: timed("overview", store.overview.bind(store)),
    completeness: timed("completeness", store.completeness.bind(store)),
    insertQuotes: timed("insertQuotes", store.insertQuotes.bind(store)),
    getQuotes: timed("getQuotes", store.getQuotes.bind(store)),
    metrics: group("metrics", store.metrics),
    prefs: group("prefs", store.prefs),
    audit: group("audit", store.audit),
    artifacts: group("artifacts", store.artifacts),
    maintenance: group("maintenance", store.maintenance),
    calendars: group("calendars", store.calendars),
    adjustments: group("adjustments", store.adjustments),
    instruments: group("instruments", store.instruments),
  };
  // The rest is the store's own, reached through the prototype: the settings' getters (a change
  // shows through), iterateBars, close, and what a backend adds (the worker store's `workers`).
  // A worker store's answers in bytes (bar-text.ts) are its getBars, timed as such.
  const text = barTextOf(store);
  const timedText: Partial<Record<typeof BAR_TEXT, BarText>> = text ? { [BAR_TEXT]: { json: timed("getBars", text.json.bind(text)), iterate: text.iterate.bind(text) } } : {};
  return Object.create(store, Object.getOwnPropertyDescriptors({ ...timedView, ...timedText })) as Store;
}

/** GET /metrics; answers 501 when the app was created with `metrics: false`. */
export function prometheusRoutes(app: Api, metrics: ApiMetrics | null): void {
  app.openapi(
    route({
      method: "get",
      path: "/metrics",
      summary: "The server's metrics in the Prometheus text format (requests, store operations, recovery metrics, sizes, queues)",
      responses: {
        200: { description: "the exposition, text/plain; version=0.0.4", content: { "text/plain": { schema: z.string() } } },
        ...errorResponses(501),
      },
    }),
    async (c) => {
      if (!metrics) throw new ApiError(501, "metrics are switched off on this server");
      await metrics.refresh();
      return c.text(await metrics.registry.metrics(), 200, { "Content-Type": metrics.registry.contentType });
    },
  );
}

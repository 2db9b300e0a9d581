/**
 * The HTTP API in process: an app over a real SQLite file in a fresh temp dir (and, when asked,
 * a real SessionCache beside it), a small request helper around `app.request()`, the one error
 * shape checked, and a snapshot of what a store holds, to show a refused mutation wrote nothing.
 * Call closeApiFixtures() in afterEach.
 */
import { expect } from "bun:test";
import { createApp, type ApiOptions } from "../../src/api/app.ts";
import { createSqliteStore } from "../../src/sqlite/store.ts";
import { openDatabase, openStore, type Bar, type Database, type Store } from "../../src/mod.ts";
import { SessionCache, type SessionCacheOptions } from "../../src/cache/session-cache.ts";
import { tempDir } from "./files.ts";

export type App = ReturnType<typeof createApp>;

/** What a request body may be. */
export type Body = NonNullable<RequestInit["body"]>;

export interface ApiFixture {
  app: App;
  store: Store;
  /** The temp dir holding the database (and the cache and backup folders). */
  root: string;
  dbPath: string;
  /** Only with `withCache`. */
  db: Database | null;
  cache: SessionCache | null;
  cacheDir: string;
  backupDir: string;
  /** A second app over the same store with other options. */
  rebuild(options: ApiOptions): App;
}

export interface FixtureOptions {
  /** Open with openDatabase + createSqliteStore and give the app a SessionCache. */
  withCache?: boolean;
  /** SessionCache settings besides store and dir (with `withCache`). */
  cacheOptions?: Omit<SessionCacheOptions, "store" | "dir">;
  timezone?: string;
  api?: ApiOptions;
}

const live: { close(): Promise<void>; cleanup(): void }[] = [];

export async function openApiFixture(options: FixtureOptions = {}): Promise<ApiFixture> {
  const dir = tempDir("tradelite-api-");
  const dbPath = dir.file("trading.db");
  const cacheDir = dir.file("session_cache");
  const backupDir = dir.file("backups");
  const timezone = options.timezone ?? "UTC";
  let store: Store;
  let db: Database | null = null;
  let cache: SessionCache | null = null;
  if (options.withCache) {
    db = openDatabase({ path: dbPath, timezone });
    store = createSqliteStore(db);
    cache = new SessionCache({ ...options.cacheOptions, store, dir: cacheDir });
  } else {
    store = await openStore({ backend: "sqlite", path: dbPath, timezone });
  }
  live.push({ close: () => store.close(), cleanup: dir.cleanup });
  const base: ApiOptions = { backupDir, ...(cache ? { cache } : {}), logError: () => {} };
  const app = createApp(store, { ...base, ...options.api });
  return {
    app,
    store,
    root: dir.path,
    dbPath,
    db,
    cache,
    cacheDir,
    backupDir,
    rebuild: (api) => createApp(store, { ...base, ...api }),
  };
}

export async function closeApiFixtures(): Promise<void> {
  for (const { close, cleanup } of live.splice(0)) {
    try {
      await close();
    } catch {
      // already closed by the test
    }
    cleanup();
  }
}

export interface CallOptions {
  json?: unknown;
  csv?: string;
  body?: Body;
  headers?: Record<string, string>;
  token?: string;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON (throws when it is not JSON). */
  body: any;
}

/** One request through app.request(); the body is read to its end. */
export async function call(app: App, method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  let body: Body | undefined = options.body;
  if (options.json !== undefined) {
    headers["content-type"] ??= "application/json";
    body = JSON.stringify(options.json);
  }
  if (options.csv !== undefined) {
    headers["content-type"] ??= "text/csv";
    body = options.csv;
  }
  // As tradelite/client does: a body-less POST says application/json (src/api/security.ts).
  if (body === undefined && method === "POST") headers["content-type"] ??= "application/json";
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const init: RequestInit & { duplex?: "half" } = { method, headers };
  if (body !== undefined) {
    init.body = body;
    if (body instanceof ReadableStream) init.duplex = "half";
  }
  const response = await app.request(path, init);
  const text = await response.text();
  let parsed: unknown = undefined;
  let parseError: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    parseError = error;
  }
  return {
    status: response.status,
    headers: response.headers,
    text,
    get body() {
      if (parseError) throw new Error(`not JSON (status ${response.status}): ${text.slice(0, 200)}`);
      return parsed;
    },
  };
}

export interface ErrorShape {
  code: string;
  message: string;
  details: unknown;
}

/**
 * Checks the answer is `status` with exactly the one error shape `{ error: { code, message,
 * details } }` (and `code`, when given), and returns the error.
 */
export function expectError(answer: Answer, status: number, code?: string): ErrorShape {
  if (answer.status !== status) {
    expect({ status: answer.status, text: answer.text.slice(0, 500) }).toEqual({ status, text: expect.any(String) });
  }
  expect(answer.headers.get("content-type") ?? "").toStartWith("application/json");
  const body = answer.body;
  expect(Object.keys(body)).toEqual(["error"]);
  // `total` only when details lists fewer issues than were found (src/api/errors.ts).
  const { total, ...shape } = body.error as typeof body.error & { total?: unknown };
  expect(Object.keys(shape).sort()).toEqual(["code", "details", "message"]);
  if (total !== undefined) expect(total).toBeGreaterThan((body.error.details as unknown[]).length);
  expect(typeof body.error.code).toBe("string");
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message.length).toBeGreaterThan(0);
  if (code !== undefined) expect(body.error.code).toBe(code);
  return body.error as ErrorShape;
}

/** Everything a store holds that the API can change, to compare before and after a refusal. */
export async function snapshot(store: Store, symbols: readonly string[] = []) {
  return {
    overview: await store.overview(),
    bars: await Promise.all(symbols.map((symbol) => store.getBars(symbol))),
    quotes: await Promise.all(symbols.map((symbol) => store.getQuotes(symbol))),
    audit: await store.audit.query(),
    prefs: await store.prefs.all(),
    artifacts: await store.artifacts.list(),
  };
}

/** `count` one-minute bars from `start` (epoch ms), consistent (low <= open, close <= high). */
export function minuteBars(start: number, count: number, price = 10): Bar[] {
  return Array.from({ length: count }, (_, i) => {
    const open = price + i * 0.25;
    const close = open + (i % 3 === 0 ? 0.5 : -0.25);
    return {
      timestamp: start + i * 60_000,
      open,
      high: Math.max(open, close) + 0.125,
      low: Math.min(open, close) - 0.125,
      close,
      volume: 100 * (i + 1),
      amount: 1000 * (i + 1) + 0.5,
    };
  });
}

/**
 * Resampling computed here from bars alone (the README's rules, fixed-width buckets aligned on
 * UTC): "start" buckets are [start, end) labelled by start, "end" ones (start, end] labelled by end.
 */
export function resample(bars: readonly Bar[], widthMs: number, stamp: "start" | "end" = "start"): Bar[] {
  const buckets = new Map<number, Bar[]>();
  for (const bar of [...bars].sort((a, b) => a.timestamp - b.timestamp)) {
    const label = stamp === "start"
      ? Math.floor(bar.timestamp / widthMs) * widthMs
      : Math.ceil(bar.timestamp / widthMs) * widthMs;
    const list = buckets.get(label) ?? [];
    list.push(bar);
    buckets.set(label, list);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([timestamp, list]) => ({
      timestamp,
      open: list[0]!.open,
      high: Math.max(...list.map((bar) => bar.high!)),
      low: Math.min(...list.map((bar) => bar.low!)),
      close: list[list.length - 1]!.close,
      volume: list.reduce((sum, bar) => sum + bar.volume!, 0),
      amount: list.reduce((sum, bar) => sum + bar.amount!, 0),
    }));
}

/** A store whose `method` (and every view's) throws `error`, the rest being `real`'s. */
export function storeThrowing(real: Store, method: "getBars" | "iterateBars" | "insertBars" | "overview", error: Error): Store {
  const wrap = (inner: Store): Store => {
    const view: Store = {
      ...inner,
      withActor: (name) => wrap(inner.withActor(name)),
    };
    if (method === "iterateBars") {
      view.iterateBars = () => ({
        [Symbol.asyncIterator]: () => ({
          next: () => Promise.reject(error),
        }),
      });
    } else {
      (view as unknown as Record<string, unknown>)[method] = () => Promise.reject(error);
    }
    return view;
  };
  return wrap(real);
}

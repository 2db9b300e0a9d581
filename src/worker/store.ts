/**
 * openStore({ backend: "sqlite-worker" }): the Store over bun:sqlite in Workers, so storage never
 * holds the caller's event loop. One writer worker (every mutation, in order) and a pool of
 * read-only reader workers (WAL lets them read while the writer writes); each has its own bounded
 * queue, and a read goes to the least busy reader. Bars and quotes come back packed in one
 * transferred Float64Array and become objects here; the HTTP API's reads come back as the
 * answer's bytes instead (BAR_TEXT), made by the reader. A large insert is posted in slices, yielding
 * between them, and written by the worker in one transaction when the last slice arrives.
 */
import type { z } from "zod";
import { resolveDatabaseOptions, type DatabaseOptions } from "../config.ts";
import { checkArtifact } from "../domain/artifact.ts";
import { checkAuditInput } from "../domain/audit.ts";
import type { Bar } from "../domain/bar.ts";
import { BAR_TEXT, type BarText } from "../domain/bar-text.ts";
import type { CrossSection } from "../domain/cross-section.ts";
import { readSignal, type BarQuery } from "../domain/query.ts";
import { StorageError, ValidationError } from "../domain/errors.ts";
import { assertPreferenceKey, checkPreferenceSchema, preferenceJson } from "../domain/preference.ts";
import { BAR_VALUE_FIELDS } from "../domain/bar.ts";
import { QUOTE_VALUE_FIELDS } from "../domain/quote.ts";
import type { SettingsRequest, SettingsUpdateOptions, StoreSettings } from "../domain/settings.ts";
import type { Store } from "../domain/store.ts";
import { actorViews, closedError } from "../domain/store-view.ts";
import { CACHE_BACKEND, type CacheBackend, type CacheCapableStore } from "../domain/cache-backend.ts";
import { createCacheBackend } from "../sqlite/cache-backend.ts";
import { isMemoryPath } from "../sqlite/connection.ts";
import { openDatabase, type Database } from "../sqlite/database.ts";
import { WorkerConnection, type RestartEvent } from "./pool.ts";
import { DEFAULT_WORKER_NICENESS, MAX_WORKER_NICENESS } from "./priority.ts";
import { watchBars } from "../domain/watch.ts";
import { headPoller, type ChangedBar, type ChangeFeed, type ChangeLogState, type ChangeRow } from "../domain/change-feed.ts";

export interface WorkerStoreOptions extends DatabaseOptions {
  /** Read-only reader workers. Default 2; 0 sends reads to the writer. */
  readers?: number;
  /** Requests each worker may hold before new ones are refused with QUEUE_FULL. Default 1024. */
  maxQueue?: number;
  /**
   * How long a request may wait in a worker's queue before it starts; past it, it is refused
   * with QUEUE_TIMEOUT (the HTTP API's 503 with Retry-After). Default: no limit.
   */
  queueDeadlineMs?: number;
  /**
   * How far below the opening thread the workers run: each raises its thread's nice value by
   * this much (0-19; Linux; src/worker/priority.ts). Default 10; 0 keeps them level.
   */
  workerNiceness?: number;
}

/** The recovery metric recorded each time a worker is replaced (labels: role, index). */
export const WORKER_RESTART_METRIC = "sqlite_worker.restart";

/**
 * Inserts of more rows than this are posted in slices of this many. Posting clones an array of
 * objects on the caller's thread (~0.5-1 ms per 1,000 bars, measured), so object arrays go in
 * smaller slices than columns, whose typed-array slices are handed over without a copy.
 */
const SLICE_ROWS = 50_000;
const OBJECT_SLICE_ROWS = 10_000;
const MAX_READERS = 16;

/**
 * How long the session cache's connection waits for the write lock. It waits on the caller's
 * thread (SQLite's wait is synchronous): with the default busy_timeout (5 s) a cache write that
 * found the writer worker mid-import would hold the event loop, and every request of a server
 * with it, that long. After this it fails with SQLITE_BUSY (503 with Retry-After over HTTP) and
 * nothing is written.
 */
const CACHE_BUSY_TIMEOUT_MS = 100;

export async function createWorkerStore(options: WorkerStoreOptions = {}): Promise<Store> {
  const { readers = 2, maxQueue = 1024, queueDeadlineMs = Infinity, workerNiceness = DEFAULT_WORKER_NICENESS, ...databaseOptions } = options ?? {};
  if (!Number.isSafeInteger(readers) || readers < 0 || readers > MAX_READERS) {
    throw new ValidationError([{ field: "readers", message: `expected a whole number 0-${MAX_READERS}, got ${String(readers)}` }]);
  }
  if (!Number.isSafeInteger(maxQueue) || maxQueue < 1) {
    throw new ValidationError([{ field: "maxQueue", message: `expected a positive whole number, got ${String(maxQueue)}` }]);
  }
  if (typeof queueDeadlineMs !== "number" || !(queueDeadlineMs > 0)) {
    throw new ValidationError([{ field: "queueDeadlineMs", message: `expected a positive number of ms (or Infinity), got ${String(queueDeadlineMs)}` }]);
  }
  if (!Number.isSafeInteger(workerNiceness) || workerNiceness < 0 || workerNiceness > MAX_WORKER_NICENESS) {
    throw new ValidationError([{ field: "workerNiceness", message: `expected a whole number 0-${MAX_WORKER_NICENESS}, got ${String(workerNiceness)}` }]);
  }
  const tuning = { maxQueue, deadlineMs: queueDeadlineMs, niceness: workerNiceness };
  const resolved = resolveDatabaseOptions(databaseOptions);
  if (isMemoryPath(resolved.path)) {
    throw new ValidationError([{ field: "path", message: "an in-memory database cannot be shared between workers; use a file, or the sqlite backend" }]);
  }
  if (resolved.readonly) {
    throw new ValidationError([{ field: "readonly", message: "the sqlite-worker backend has a writer; open read-only with the sqlite backend" }]);
  }
  const { readonly: _readonly, ...shared } = resolved;

  let writer: WorkerConnection;
  const onRestart = (event: RestartEvent) => {
    // Recorded through the writer (itself restarted, when it was the one that died).
    writer
      .request("metrics.record", [WORKER_RESTART_METRIC, 1, { role: event.role, index: String(event.index) }])
      .catch(() => {});
  };
  writer = new WorkerConnection("writer", 0, shared, tuning, onRestart);
  const readerPool: WorkerConnection[] = [];
  try {
    // The writer creates and migrates the file before any reader opens it read-only.
    await writer.ready;
    for (let i = 0; i < readers; i++) readerPool.push(new WorkerConnection("reader", i, shared, tuning, onRestart));
    await Promise.all(readerPool.map((reader) => reader.ready));
  } catch (error) {
    await Promise.all([writer, ...readerPool].map((connection) => connection.close()));
    throw error;
  }
  // From here on every worker (a reader, a restarted one) opens with the settings the file
  // stores, so none contradicts it after a change.
  const settings = await writer.request<StoreSettings>("settings.get", []);
  Object.assign(shared, settings);
  return buildStore({ writer, readers: readerPool, options: shared, settings });
}

interface Shared {
  writer: WorkerConnection;
  readers: WorkerConnection[];
  /** The options every worker opens with (shared by reference with the WorkerConnections). */
  options: Record<string, unknown>;
  settings: StoreSettings;
  closed: boolean;
  closing?: Promise<void>;
  /** Settles when every mutation accepted so far has been posted; null when none is pending. */
  tail: Promise<void> | null;
  inFlight: Set<Promise<unknown>>;
  schemas: Map<string, z.ZodType>;
  nextId: number;
  /** withActor, shared by every view: one view per actor name. */
  withActor: (name: string) => Store;
  /** The session cache's in-thread connection, opened by the first SessionCache over the store. */
  cacheDb: Database | null;
  /** What every view's watch() reads, made by the first. */
  changeFeed?: ChangeFeed;
}

/**
 * How often a waiting watch reads the change log's head. The watch runs on the caller's thread
 * and reads the log and the bars through the readers, as getBars does: a watch inside a worker
 * would hold that worker's synchronous loop between its reads. The head itself is read on this
 * thread, over the in-thread connection the session cache uses (one indexed row, a few µs):
 * through a reader it was a round trip every 2 ms, the serve process's largest cost with 1,000
 * watchers (bench 24), and it does not grow with the watchers, who share the one poll.
 */
const CHANGE_POLL_MS = 2;

function buildStore(base: { writer: WorkerConnection; readers: WorkerConnection[]; options: Record<string, unknown>; settings: StoreSettings }): Store {
  // Called only after `shared` exists (by a view's withActor).
  const withActor = actorViews((name): Store => view(shared, name));
  const shared: Shared = { ...base, closed: false, tail: null, inFlight: new Set(), schemas: new Map(), nextId: 1, withActor, cacheDb: null };
  return view(shared, undefined);
}

function view(shared: Shared, actor: string | undefined): Store {
  const track = <T>(promise: Promise<T>): Promise<T> => {
    shared.inFlight.add(promise);
    const done = () => shared.inFlight.delete(promise);
    promise.then(done, done);
    return promise;
  };
  const closed = () => Promise.reject(closedError());
  const reader = (): WorkerConnection => {
    let best = shared.readers[0] ?? shared.writer;
    for (const candidate of shared.readers) if (candidate.queued < best.queued) best = candidate;
    return best;
  };
  const read = <T>(op: string, ...args: unknown[]): Promise<T> => readCancellable<T>(op, args);
  function readCancellable<T>(op: string, args: unknown[], signal?: AbortSignal): Promise<T> {
    if (shared.closed) return closed();
    return track(reader().request<T>(op, args, { signal }).catch((error: unknown) => {
      throw cloneFailure(error) ?? error;
    }));
  }
  const write = <T>(op: string, ...args: unknown[]): Promise<T> =>
    shared.closed ? closed() : track(ordered(() => ({ result: sendWrite<T>(op, args) })));

  /** A mutation: a value that cannot be posted (a function, say) is bad input, not a crash. */
  async function sendWrite<T>(op: string, args: unknown[], admitted = false, transfer: ArrayBuffer[] = []): Promise<T> {
    try {
      return await shared.writer.request<T>(op, args, { actor, transfer, admitted });
    } catch (error) {
      throw cloneFailure(error) ?? error;
    }
  }

  /**
   * Keeps mutations in call order. A mutation is posted at once, unless an earlier one is still
   * being posted (a large insert goes in slices over several turns of the event loop): then it
   * waits for that one's last message, so a delete issued after an insert is never written first.
   */
  function ordered<T>(send: () => { posted?: Promise<unknown>; result: Promise<T> }): Promise<T> {
    const setTail = (posted: Promise<unknown>) => {
      const settled = posted.then(() => {}, () => {});
      shared.tail = settled;
      settled.then(() => {
        if (shared.tail === settled) shared.tail = null;
      });
    };
    if (shared.tail === null) {
      const { posted, result } = send();
      if (posted) setTail(posted);
      return result;
    }
    const started = shared.tail.then(send);
    setTail(started.then((sent) => sent.posted));
    return started.then((sent) => sent.result);
  }

  /**
   * Bars or quotes: posted whole, or (past a slice's worth of rows, in a real array or in columns
   * of one length) in slices that the worker joins and writes in one go. A large input is read
   * slice by slice over several turns of the event loop (copying it all at the call would hold
   * the loop for tens of ms per million rows), so, as with a buffer given to an asynchronous
   * file write, it must not be changed until the promise settles. Rows that are not plain
   * objects are copied into plain ones holding what validation would read from them.
   */
  function insert(op: "insertBars" | "insertQuotes", symbol: string, rows: unknown, options?: unknown): Promise<number> {
    // The series options travel after the rows (only when given: a quote insert takes none).
    const extra = options === undefined ? [] : [options];
    const fields = op === "insertBars" ? BAR_VALUE_FIELDS : QUOTE_VALUE_FIELDS;
    const length = stagedLength(rows);
    const input = rows;
    const whole = (value: unknown, transfer: ArrayBuffer[] = []) =>
      ordered(() => ({ result: sendWrite<number>(op, [symbol, value, ...extra], false, transfer) }));
    if (length === null) return whole(input);
    if (Array.isArray(input)) {
      if (length <= SLICE_ROWS && isPlainNumeric(input, fields, 0, length)) {
        const packed = packRows(input as Record<string, unknown>[], fields, 0, length);
        return whole(packed.value, packed.transfer);
      }
      if (length <= OBJECT_SLICE_ROWS) return whole(plainRows(input, fields, 0, length));
    } else if (length <= SLICE_ROWS) {
      return whole(input);
    }
    let markPosted!: () => void;
    const posted = new Promise<void>((resolve) => (markPosted = resolve));
    return ordered(() => ({ posted, result: sendStaged(op, symbol, input, length, fields, extra).finally(markPosted) }));
  }

  async function sendStaged(op: string, symbol: string, input: unknown, length: number, fields: readonly string[], extra: unknown[]): Promise<number> {
    // Objects of plain numbers (nearly every real batch) are packed into columns: posting columns
    // costs a copy of their bytes, posting objects a structured clone of every one.
    const packable = Array.isArray(input) && (await isPlainNumericInSteps(input, fields));
    const sliceRows = Array.isArray(input) && !packable ? OBJECT_SLICE_ROWS : SLICE_ROWS;
    const id = shared.nextId++;
    const writer = shared.writer;
    // Every slice must reach the same worker: one replaced half-way holds only the later ones.
    const generation = writer.generation;
    const sameWorker = () => {
      if (writer.generation !== generation) {
        throw new StorageError("WORKER_DIED", "the writer worker stopped while this insert was being sent; nothing of it was written");
      }
    };
    // The first slice is admitted like any request (or refused with QUEUE_FULL); the rest of the
    // operation, its final write and any cleanup, then go through whatever the queue holds.
    let admitted = false;
    let parts = 0;
    try {
      for (let start = 0; start < length; start += sliceRows) {
        const end = Math.min(length, start + sliceRows);
        const part = packable
          ? packRows(input as Record<string, unknown>[], fields, start, end)
          : Array.isArray(input)
            ? { value: plainRows(input, fields, start, end), transfer: [] }
            : slice(input, start, end);
        sameWorker();
        // A typed-array slice is a fresh copy of ours: hand its buffer over instead of cloning it.
        await writer.request("stage", [id, part.value], { transfer: part.transfer, admitted });
        admitted = true;
        parts++;
        // Let the caller's event loop turn between slices: posting clones each one here.
        await new Promise((resolve) => setImmediate(resolve));
      }
      sameWorker();
      return await sendWrite<number>(op, [symbol, { staged: id, parts }, ...extra], true);
    } catch (error) {
      // Whatever the worker still holds of this upload is let go (the write takes it, when it ran).
      if (admitted) await writer.request("unstage", [id], { admitted: true }).catch(() => {});
      throw cloneFailure(error) ?? error;
    }
  }

  /**
   * An iteration held by one reader worker, page by page: `op` asks for the next page (rows, or
   * their text), `args` follow the iteration's id.
   */
  async function* pages<P extends { done: boolean }>(symbol: string, query: BarQuery | undefined, op: string, args: unknown[]): AsyncGenerator<P> {
    if (shared.closed) await closed();
    readSignal(query);
    const { signal, posted } = withoutSignal(query);
    const connection = reader();
    const id = shared.nextId++;
    await track(connection.request("iterOpen", [id, symbol, posted], { signal }));
    // The iteration lives in that worker: if it is replaced, the iteration is gone with it.
    const generation = connection.generation;
    let done = false;
    try {
      while (!done) {
        if (shared.closed) throw closedError("iteration");
        if (connection.generation !== generation) {
          throw new StorageError("WORKER_DIED", "the reader worker holding this iteration stopped; it has been restarted");
        }
        const next = await track(connection.request<P>(op, [id, ...args], { signal }));
        done = next.done;
        yield next;
      }
    } finally {
      // Admitted whatever the queue holds, so an abandoned iteration never stays in the worker.
      if (!done) await connection.request("iterClose", [id], { admitted: true }).catch(() => {});
    }
  }

  /** Answers' bytes made by the readers (src/domain/bar-text.ts). */
  const barText: BarText = {
    json(symbol, query, wholeRows) {
      return guardInput(
        () => readSignal(query),
        () => {
          const { signal, posted } = withoutSignal(query);
          return readCancellable<Uint8Array | null>("getBarsText", [symbol, posted, wholeRows], signal);
        },
      );
    },
    async *iterate(symbol, query, format) {
      for await (const page of pages<{ bytes: Uint8Array; done: boolean }>(symbol, query, "iterNextText", [format])) {
        if (page.bytes.byteLength > 0) yield page.bytes;
      }
    },
  };

  /**
   * The session cache needs a synchronous transaction around its file work (bun:sqlite runs a
   * transaction's callback to completion; a worker round-trip cannot sit inside one), so it runs
   * over a connection of its own on this thread, to the same file. Its BEGIN IMMEDIATE is the
   * same cross-process lock the writer worker takes, so a cache write and a store write never
   * interleave, here or in another process.
   */
  function cacheBackend(): CacheBackend {
    if (shared.closed) throw closedError();
    return createCacheBackend(inThread(), actor);
  }

  /** The connection on this thread: the session cache's, and the watches' head poll. */
  function inThread(): Database {
    shared.cacheDb ??= openDatabase({ ...(shared.options as DatabaseOptions), busyTimeoutMs: CACHE_BUSY_TIMEOUT_MS });
    return shared.cacheDb;
  }

  const store: CacheCapableStore & { readonly [BAR_TEXT]: BarText } = {
    backend: "sqlite-worker",
    get timezone() {
      return shared.settings.timezone;
    },
    get barTimestamp() {
      return shared.settings.barTimestamp;
    },
    get calendar() {
      return shared.settings.calendar;
    },
    get normalizeSymbols() {
      return shared.settings.normalizeSymbols;
    },
    async updateSettings(change: SettingsRequest, options?: SettingsUpdateOptions) {
      const settings = await write<StoreSettings>("settings.update", change, options);
      shared.settings = settings;
      Object.assign(shared.options, settings);
      // Readers and the cache's connection hold their own copy of the settings.
      shared.cacheDb?.reloadSettings();
      await Promise.all(shared.readers.map((connection) => track(connection.request("settings.reload", []))));
      return settings;
    },
    withActor: (name) => shared.withActor(name),
    insertBars: (symbol, bars, options) => (shared.closed ? closed() : track(insert("insertBars", symbol, bars, options))),
    getBars(symbol, query) {
      return guardInput(
        () => readSignal(query),
        () => {
          const { signal, posted } = withoutSignal(query);
          return readCancellable<Bar[]>("getBars", [symbol, posted], signal);
        },
      );
    },
    async *iterateBars(symbol, query) {
      for await (const page of pages<{ page: Bar[]; done: boolean }>(symbol, query, "iterNext", [])) yield* page.page;
    },
    latestBar: (symbol) => read("latestBar", symbol),
    deleteBars: (symbol, range, options) => write("deleteBars", symbol, range, ...(options === undefined ? [] : [options])),
    getCrossSection(query) {
      return guardInput(
        () => readSignal(query),
        () => {
          const { signal, posted } = withoutSignal(query);
          return readCancellable<CrossSection>("getCrossSection", [posted], signal);
        },
      );
    },
    overview: (options) => read("overview", options),
    buildDerivedDays: () => write("buildDerivedDays"),
    completeness: (symbol, query) => read("completeness", symbol, query),
    calendars: {
      list: () => read("calendars.list"),
      get: (name) => read("calendars.get", name),
      put: (data) => write("calendars.put", data),
      replaceYear: (name, year, days) => write("calendars.replaceYear", name, year, days),
      of: (symbol) => read("calendars.of", symbol),
      assign: (symbol, name) => write("calendars.assign", symbol, name),
    },
    instruments: {
      put: (rows) => write("instruments.put", rows),
      get: (symbol) => read("instruments.get", symbol),
      has: (symbol) => read("instruments.has", symbol),
      list: (query) => read("instruments.list", query),
      setStatus: (symbol, rows) => write("instruments.setStatus", symbol, rows),
      statusHistory: (symbol) => read("instruments.statusHistory", symbol),
    },
    insertQuotes: (symbol, quotes) => (shared.closed ? closed() : track(insert("insertQuotes", symbol, quotes))),
    getQuotes: (symbol, query) => read("getQuotes", symbol, query),
    metrics: {
      record: (name, value, labels) => write("metrics.record", name, value, labels),
      query: (name, query) => read("metrics.query", name, query),
      summary: (name) => read("metrics.summary", name),
    },
    prefs: {
      define(key, schema) {
        if (shared.closed) throw closedError();
        assertPreferenceKey(key);
        shared.schemas.set(key, checkPreferenceSchema(schema));
      },
      get: (key) => read("prefs.get", key),
      async set(key, value) {
        if (shared.closed) return closed();
        // Schemas live in this process (a zod schema cannot be posted), so they are checked here,
        // with the same issues the in-thread store reports; the JSON rules too, before posting.
        assertPreferenceKey(key);
        const schema = shared.schemas.get(key);
        if (schema) {
          const parsed = schema.safeParse(value);
          if (!parsed.success) {
            throw new ValidationError(parsed.error.issues.map((issue) => ({ field: ["value", ...issue.path].join("."), message: issue.message })));
          }
        }
        return write("prefs.set", key, JSON.parse(preferenceJson(value)));
      },
      delete: (key) => write("prefs.delete", key),
      all: () => read("prefs.all"),
    },
    audit: {
      // Checked here too: posting would turn a class instance in details into a plain object the
      // in-thread store refuses ("no faithful JSON form").
      append: (input) => (shared.closed ? closed() : guardInput(() => checkAuditInput(input), () => write("audit.append", input))),
      query: (query) => read("audit.query", query),
      head: () => read("audit.head"),
      verify: (options) => read("audit.verify", options),
      rollUp: (options) => write("audit.rollUp", options),
      verifyRollups: () => read("audit.verifyRollups"),
    },
    adjustments: {
      insert: (symbol, rows) => write("adjustments.insert", symbol, rows),
      list: (symbol, options) => read("adjustments.list", symbol, options),
      insertActions: (symbol, actions, options) => write("adjustments.insertActions", symbol, actions, options),
      listActions: (symbol) => read("adjustments.listActions", symbol),
    },
    artifacts: {
      register: (input, options) => (shared.closed ? closed() : guardInput(() => checkArtifact(input), () => write("artifacts.register", input, options))),
      get: (name, version) => read("artifacts.get", name, version),
      list: (query) => read("artifacts.list", query),
      remove: (name, version) => write("artifacts.remove", name, version),
    },
    maintenance: {
      checkpoint: (mode) => write("maintenance.checkpoint", mode),
      optimize: () => write("maintenance.optimize"),
      vacuum: (options) => write("maintenance.vacuum", options),
      // A check records its duration (a metric and an audit entry): the writer runs it.
      integrityCheck: (options) => write("maintenance.integrityCheck", options),
      backup: (toPath) => write("maintenance.backup", toPath),
      info: () => read("maintenance.info"),
      stats: () => read("maintenance.stats"),
    },
    watch(options) {
      shared.changeFeed ??= workerChangeFeed(read, () => {
        if (shared.closed) throw closedError();
        return inThread().changeLog.head();
      });
      return watchBars(store, shared.changeFeed, options);
    },
    [CACHE_BACKEND]: cacheBackend,
    [BAR_TEXT]: barText,
    close() {
      // Every call, the first and any made while it runs, resolves when the store is closed.
      shared.closing ??= (async () => {
        shared.closed = true;
        // Drain: every request already accepted finishes (or fails) before the workers go.
        await Promise.allSettled([...shared.inFlight]);
        // Readers and the cache's connection first, so the writer's closing checkpoint (TRUNCATE)
        // is not held back by them.
        await Promise.all(shared.readers.map((connection) => connection.close()));
        shared.cacheDb?.close();
        await shared.writer.close();
      })();
      return shared.closing;
    },
  };
  Object.defineProperty(store, "workers", {
    enumerable: false,
    value: { writer: shared.writer, readers: shared.readers },
  });
  return store;
}

/** The change log read through the reader workers, its head polled on this thread by one shared timer. */
function workerChangeFeed(read: <T>(op: string, ...args: unknown[]) => Promise<T>, readHead: () => number): ChangeFeed {
  const poller = headPoller(readHead, CHANGE_POLL_MS);
  return {
    state: () => read<ChangeLogState>("changes.state"),
    read: (after, limit) => read<ChangeRow[]>("changes.rows", after, limit),
    bars: (ranges, limit) => read<ChangedBar[]>("changes.bars", JSON.stringify(ranges), limit),
    wait: (after, signal) => poller.wait(after, signal),
  };
}

/**
 * A bar query split for posting: a signal cannot be cloned, so it stays here (the connection
 * turns its abort into the worker's shared flag) and the rest of the query goes to the worker.
 * Callers check it first with readSignal, so a wrong one is the in-thread store's ValidationError.
 */
function withoutSignal<Q extends { signal?: AbortSignal }>(query: Q | undefined): { signal: AbortSignal | undefined; posted: Q | undefined } {
  if (query === null || typeof query !== "object" || !("signal" in query)) return { signal: undefined, posted: query };
  const { signal, ...posted } = query;
  return { signal, posted: posted as Q };
}

/** Runs `check` (the in-thread store's own input check) before `send`; its error is the answer. */
function guardInput<T>(check: () => unknown, send: () => Promise<T>): Promise<T> {
  try {
    check();
  } catch (error) {
    return Promise.reject(error);
  }
  return send();
}

/** The worker connections of a sqlite-worker store: for diagnostics and fault tests. */
export function workersOf(store: Store): { writer: WorkerConnection; readers: WorkerConnection[] } {
  const workers = (store as unknown as { workers?: { writer: WorkerConnection; readers: WorkerConnection[] } }).workers;
  if (!workers) throw new TypeError("not a sqlite-worker store");
  return workers;
}

/**
 * How many rows an insert's input has, when it is a shape that can be sent in slices: a real
 * array, or columns that are all arrays or typed arrays of the timestamp's length. Otherwise
 * null: the input is posted whole, and the worker's validation answers as the in-thread one.
 */
function stagedLength(rows: unknown): number | null {
  if (Array.isArray(rows)) return rows.length;
  return isUniformColumns(rows) ? (rows as { timestamp: ArrayLike<unknown> }).timestamp.length : null;
}

function isColumn(value: unknown): value is ArrayLike<unknown> {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

function isUniformColumns(rows: unknown): rows is Record<string, ArrayLike<unknown>> {
  if (typeof rows !== "object" || rows === null || Array.isArray(rows) || ArrayBuffer.isView(rows)) return false;
  const columns = Object.values(rows as Record<string, unknown>);
  const timestamp = (rows as Record<string, unknown>).timestamp;
  if (!isColumn(timestamp)) return false;
  return columns.every((column) => isColumn(column) && column.length === timestamp.length);
}

/**
 * Rows [start, end) as plain data: a hole is undefined (as validation reads it), and a
 * row that is not a plain object becomes one holding what validation would read from it (its
 * enumerable keys, inherited too, and the record's fields, getters included), since posting
 * would drop getters and prototypes.
 */
function plainRows(rows: readonly unknown[], fields: readonly string[], start: number, end: number): unknown[] {
  const copy = new Array<unknown>(end - start);
  for (let i = 0; i < end - start; i++) {
    const row = rows[start + i];
    if (typeof row !== "object" || row === null || Array.isArray(row) || Object.getPrototypeOf(row) === Object.prototype) {
      copy[i] = row;
      continue;
    }
    const plain: Record<string, unknown> = {};
    for (const key in row) plain[key] = (row as Record<string, unknown>)[key];
    for (const field of ["timestamp", ...fields]) {
      const value = (row as Record<string, unknown>)[field];
      if (value !== undefined) plain[field] = value;
    }
    copy[i] = plain;
  }
  return copy;
}

/**
 * Rows [start, end) of an array or of every column. Typed arrays are sliced (copied), so the
 * caller's arrays are never shared or detached; the copies' buffers are listed for transfer.
 */
function slice(rows: unknown, start: number, end: number): { value: unknown; transfer: ArrayBuffer[] } {
  if (Array.isArray(rows)) return { value: rows.slice(start, end), transfer: [] };
  const part: Record<string, unknown> = {};
  const transfer: ArrayBuffer[] = [];
  for (const [key, column] of Object.entries(rows as Record<string, unknown>)) {
    if (ArrayBuffer.isView(column)) {
      const copy = (column as unknown as { slice(a: number, b: number): ArrayBufferView }).slice(start, end);
      transfer.push(copy.buffer as ArrayBuffer);
      part[key] = copy;
    } else {
      part[key] = Array.isArray(column) ? column.slice(start, end) : column;
    }
  }
  return { value: part, transfer };
}

/**
 * Whether every row is a plain object whose keys are the record's fields and whose values are
 * numbers (not NaN) or null/undefined, the timestamp a number: then NaN can stand for NULL in
 * packed columns without ambiguity. Anything else is posted as it is, for the worker's own
 * validation to report exactly.
 */
function isPlainNumeric(rows: readonly unknown[], fields: readonly string[], start: number, end: number): boolean {
  const allowed = new Set(["timestamp", ...fields]);
  for (let index = start; index < end; index++) {
    const row = rows[index];
    if (typeof row !== "object" || row === null || Array.isArray(row) || Object.getPrototypeOf(row) !== Object.prototype) return false;
    const record = row as Record<string, unknown>;
    if (typeof record.timestamp !== "number" || record.timestamp !== record.timestamp) return false;
    for (const key in record) {
      if (!allowed.has(key)) return false;
      const value = record[key];
      if (value !== null && value !== undefined && (typeof value !== "number" || value !== value)) return false;
    }
  }
  return true;
}

/** The same check over a long batch, in steps, letting the caller's event loop turn between them. */
async function isPlainNumericInSteps(rows: readonly unknown[], fields: readonly string[]): Promise<boolean> {
  for (let start = 0; start < rows.length; start += SLICE_ROWS) {
    if (!isPlainNumeric(rows, fields, start, Math.min(rows.length, start + SLICE_ROWS))) return false;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return true;
}

/** Rows [start, end) as Float64Array columns with NaN for NULL, flagged for the worker. */
function packRows(rows: readonly Record<string, unknown>[], fields: readonly string[], start: number, end: number): { value: unknown; transfer: ArrayBuffer[] } {
  const n = end - start;
  const columns: Record<string, Float64Array> = {};
  for (const field of ["timestamp", ...fields]) {
    const column = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const value = rows[start + i]![field];
      column[i] = value === null || value === undefined ? Number.NaN : (value as number);
    }
    columns[field] = column;
  }
  return { value: { packedColumns: columns }, transfer: Object.values(columns).map((column) => column.buffer as ArrayBuffer) };
}

function cloneFailure(error: unknown): ValidationError | undefined {
  if (error instanceof Error && (error.name === "DataCloneError" || /could not be cloned|DataCloneError/i.test(error.message))) {
    return new ValidationError([{ message: `the input holds a value that is not data (${error.message})` }]);
  }
  return undefined;
}

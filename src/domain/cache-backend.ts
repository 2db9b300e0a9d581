/**
 * What the SessionCache needs of a database, so one cache runs over SQLite or PostgreSQL: its
 * metadata rows, market_data, the audit log and the recovery metric, all inside one lock that
 * every process shares, and a few reads outside it. Types and the generator drivers only: each
 * backend's adapter lives in its own folder (src/sqlite/cache-backend.ts,
 * src/postgres/cache-backend.ts), and a Store carries its adapter under CACHE_BACKEND.
 *
 * SQLite's transactions are synchronous (bun:sqlite runs the callback to completion; an await
 * inside would let other calls on the connection into the transaction), PostgreSQL's are not.
 * The cache's logic is therefore written once, as generators that yield each database call's
 * result (`yield* wait(tx.entry(symbol))`), and driven by `runSync` inside a SQLite transaction
 * or by `runAsync` inside a PostgreSQL one. The file work between the calls is the same
 * synchronous node:fs code on both.
 */
import type { Bar, BarColumns, BarInput } from "./bar.ts";
import type { CacheEntry } from "./cache.ts";
import type { JsonValue } from "./json.ts";
import type { RollupDetails } from "./audit-rollup.ts";
import type { MetricLabels } from "./metric.ts";
import type { Store } from "./store.ts";

/**
 * Where a Store keeps the factory of its cache backend. A symbol, not a Store method: the cache
 * is not part of the Store's public method set, and a symbol-keyed property stays out of
 * JSON, spreads of the store's keys and the HTTP API's view of it.
 */
export const CACHE_BACKEND: unique symbol = Symbol.for("tradelite.cacheBackend");

/** A database call's result: a value on SQLite, a promise of one on PostgreSQL. */
export type Maybe<T> = T | Promise<T>;

/** The calls the cache makes inside its lock (one transaction) or, for reads, outside it. */
export interface CacheTx {
  entry(symbol: string): Maybe<CacheEntry | null>;
  put(entry: CacheEntry): Maybe<void>;
  insertBars(symbol: string, bars: readonly BarInput[] | BarColumns): Maybe<number>;
  latestBar(symbol: string): Maybe<Bar | null>;
  /** Stored bars only: the cache never resamples. */
  getBars(symbol: string, query: { start?: number; end?: number; order?: "asc" | "desc"; limit?: number }): Maybe<Bar[]>;
  /**
   * The symbol's rollup of live appends (src/domain/audit-rollup.ts) closed for the compaction's
   * entry to carry, or null when none is open under the lock's actor.
   */
  takeRollup(symbol: string): Maybe<RollupDetails | null>;
  /** An audit entry naming the lock's actor, committed with the transaction. */
  audit(action: string, entity: string, details: JsonValue): Maybe<unknown>;
  metric(name: string, value: number, labels: MetricLabels): Maybe<unknown>;
}

export interface CacheReads {
  entry(symbol: string): Promise<CacheEntry | null>;
  list(): Promise<CacheEntry[]>;
  getBars(symbol: string, range: { start: number; end: number }): Promise<Bar[]>;
}

/** The cache's logic under the lock: a generator over the database calls it makes. */
export type CacheWork<T> = (tx: CacheTx) => Generator<unknown, T, unknown>;

export interface CacheBackend {
  readonly name: "sqlite" | "postgres";
  /** The zone naive timestamps are read in (the store's). */
  readonly timezone: string;
  /** A read-only database: the cache serves what verifies and repairs nothing. */
  readonly readonly: boolean;
  readonly reads: CacheReads;
  /**
   * Runs `work` in one transaction holding the database's cross-process write lock (SQLite's
   * BEGIN IMMEDIATE; PostgreSQL's audit-chain advisory lock, which every audited mutation takes
   * first), with audit entries naming `actor` (default: the store's). All or nothing.
   */
  locked<T>(work: CacheWork<T>, actor?: string): Promise<T>;
}

/** A Store that can carry a session cache: each backend's store sets CACHE_BACKEND. */
export type CacheCapableStore = Store & { readonly [CACHE_BACKEND]: () => CacheBackend };

/** The cache backend of `store`, or undefined when the store carries none (a hand-made Store). */
export function cacheBackendOf(store: Store): CacheBackend | undefined {
  const factory = (store as Partial<CacheCapableStore>)[CACHE_BACKEND];
  return typeof factory === "function" ? factory.call(store) : undefined;
}

/** One database call inside cache work: `const entry = yield* wait(tx.entry(symbol))`. */
export function* wait<T>(value: Maybe<T>): Generator<Maybe<T>, T, unknown> {
  return (yield value) as T;
}

/** Drives cache work whose calls all answer synchronously (SQLite), inside its transaction. */
export function runSync<T>(steps: Generator<unknown, T, unknown>): T {
  let step = steps.next();
  while (!step.done) {
    // Thrown into the work, so its catch blocks (the append's truncation) still run.
    step =
      step.value instanceof Promise
        ? steps.throw(new Error("internal: an asynchronous database call inside a synchronous transaction"))
        : steps.next(step.value);
  }
  return step.value;
}

/** Drives cache work whose calls answer with promises (PostgreSQL); a rejection is thrown into it. */
export async function runAsync<T>(steps: Generator<unknown, T, unknown>): Promise<T> {
  let step = steps.next();
  while (!step.done) {
    let value: unknown;
    try {
      value = await step.value;
    } catch (error) {
      step = steps.throw(error);
      continue;
    }
    step = steps.next(value);
  }
  return step.value;
}

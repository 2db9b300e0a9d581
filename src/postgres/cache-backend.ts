/**
 * The session cache over PostgreSQL: the CacheBackend a SessionCache runs on
 * (src/domain/cache-backend.ts), as src/sqlite/cache-backend.ts is on SQLite. The cache files stay
 * on the machine that writes them; the rows (src/postgres/cache-meta.ts), market_data, the audit
 * entries and the lock are the server's.
 *
 * The lock is the audit chain's advisory lock, taken first in the cache's transaction, as every
 * audited mutation of the store takes it first: cache writers in every process and the store's
 * own inserts and deletes queue on it, as they queue on SQLite's BEGIN IMMEDIATE, and a
 * transaction holding it never waits for another that waits for it. A cache write is one
 * transaction: the append's row, the bars written through, the audit entry and any repair's
 * metric commit together or not at all.
 */
import type { CacheBackend, CacheTx } from "../domain/cache-backend.ts";
import { runAsync } from "../domain/cache-backend.ts";
import { checkActor } from "../domain/audit.ts";
import { closedError, whenOpen } from "../domain/store-view.ts";
import { MAX_TIMESTAMP, MIN_TIMESTAMP } from "../domain/time.ts";
import { lockAuditChain, type AuditRecorder } from "./audit.ts";
import type { BarRepository } from "./bars.ts";
import { createCacheMetaRepository } from "./cache-meta.ts";
import { READ_COMMITTED, toStorageError, type PostgresPool } from "./connection.ts";
import { recordIn } from "./metrics.ts";

export interface CacheBackendParts {
  pool: PostgresPool;
  bars: BarRepository;
  audit: AuditRecorder;
  /** The store's live settings: the zone is read at each call (updateSettings may change it). */
  settings: { readonly timezone: string };
  /** The actor of the store view the cache was made from; undefined: the store's. */
  actor: string | undefined;
  /** Whether the store was closed: every call is then refused with CLOSED, as the store's are. */
  closed(): boolean;
}

export function createCacheBackend(parts: CacheBackendParts): CacheBackend {
  const { pool, bars, audit, settings } = parts;
  const meta = createCacheMetaRepository(pool);
  const open = <T>(work: () => Promise<T>): Promise<T> => whenOpen(parts.closed(), work);
  return {
    name: "postgres",
    get timezone() {
      return settings.timezone;
    },
    readonly: false,
    reads: {
      entry: (symbol) => open(() => meta.get(symbol)),
      list: () => open(() => meta.list()),
      getBars: (symbol, range) => open(() => bars.getBars(symbol, range)),
    },
    async locked(work, actor) {
      if (parts.closed()) throw closedError();
      // Read before any await: the actor of this call.
      const who = actor === undefined ? (parts.actor ?? audit.actor()) : checkActor(actor);
      try {
        return await pool.sql.begin(READ_COMMITTED, async (sql) => {
          await lockAuditChain(sql);
          const tx: CacheTx = {
            entry: (symbol) => meta.getIn(sql, symbol),
            put: (entry) => meta.putIn(sql, entry),
            insertBars: (symbol, input) => bars.insertIn(sql, symbol, input, who),
            latestBar: async (symbol) => (await bars.storedIn(sql, symbol, { start: MIN_TIMESTAMP, end: MAX_TIMESTAMP, order: "desc", limit: 1 }))[0] ?? null,
            getBars: (symbol, query) => bars.storedIn(sql, symbol, query),
            takeRollup: (symbol) => audit.takeRollup(sql, who, symbol),
            audit: (action, entity, details) => audit(sql, who, action, entity, details),
            metric: (name, value, labels) => recordIn(sql, name, value, labels),
          };
          return runAsync(work(tx));
        });
      } catch (error) {
        // The cache's file errors (ENOSPC, ...) are the cache's to name; the server's are ours.
        if ((error as { syscall?: unknown }).syscall !== undefined) throw error;
        throw toStorageError(error, pool.url);
      }
    },
  };
}

/**
 * The session cache over PostgreSQL: its metadata rows (session_cache) and the CacheBackend a
 * SessionCache runs on (src/cache/backend.ts). The cache files stay on the machine that writes
 * them; the rows, market_data, the audit entries and the lock are the server's.
 *
 * The lock is the audit chain's advisory lock, taken first in the cache's transaction, as every
 * audited mutation of the store takes it first: cache writers in every process and the store's
 * own inserts and deletes queue on it, as they queue on SQLite's BEGIN IMMEDIATE, and a
 * transaction holding it never waits for another that waits for it. A cache write is one
 * transaction: the append's row, the bars written through, the audit entry and any repair's
 * metric commit together or not at all.
 */
import type { SQL } from "bun";
import type { CacheBackend, CacheTx } from "../cache/backend.ts";
import { runAsync } from "../cache/backend.ts";
import { checkActor } from "../domain/audit.ts";
import type { CacheEntry } from "../domain/cache.ts";
import { StorageError } from "../domain/errors.ts";
import { MAX_TIMESTAMP, MIN_TIMESTAMP } from "../domain/time.ts";
import { lockAuditChain, type PgAuditRecorder } from "./audit.ts";
import type { createPgBars } from "./bars.ts";
import { READ_COMMITTED, storageErrorOf, type PostgresPool } from "./connection.ts";
import { recordIn } from "./metrics.ts";

const COLUMNS = [
  "symbol", "last_updated", "row_count", "file_path", "checksum", "size_bytes", "writes_since_compaction",
  "last_compacted", "first_timestamp", "last_timestamp", "covered_from", "market_version", "file_version",
] as const;

/** bigint columns read as float8 (exact for every value the cache stores), so rows hold numbers as SQLite's. */
const SELECT = COLUMNS.map((name) => (name === "symbol" || name === "file_path" || name === "checksum" ? name : `${name}::float8 AS ${name}`)).join(", ");

async function entryOn(sql: SQL, symbol: string): Promise<CacheEntry | null> {
  const rows = (await sql.unsafe(`SELECT ${SELECT} FROM session_cache WHERE symbol = $1`, [symbol])) as CacheEntry[];
  return rows[0] ? { ...rows[0] } : null;
}

async function putOn(sql: SQL, entry: CacheEntry): Promise<void> {
  await sql`
    INSERT INTO session_cache (symbol, last_updated, row_count, file_path, checksum, size_bytes, writes_since_compaction,
                               last_compacted, first_timestamp, last_timestamp, covered_from, market_version, file_version)
    VALUES (${entry.symbol}, ${entry.last_updated}::bigint, ${entry.row_count}::bigint, ${entry.file_path}, ${entry.checksum},
            ${entry.size_bytes}::bigint, ${entry.writes_since_compaction}::bigint, ${entry.last_compacted}::bigint,
            ${entry.first_timestamp}::bigint, ${entry.last_timestamp}::bigint, ${entry.covered_from}::bigint,
            ${entry.market_version}::bigint, ${entry.file_version}::bigint)
    ON CONFLICT (symbol) DO UPDATE SET
      last_updated = excluded.last_updated, row_count = excluded.row_count, file_path = excluded.file_path,
      checksum = excluded.checksum, size_bytes = excluded.size_bytes, writes_since_compaction = excluded.writes_since_compaction,
      last_compacted = excluded.last_compacted, first_timestamp = excluded.first_timestamp, last_timestamp = excluded.last_timestamp,
      covered_from = excluded.covered_from, market_version = excluded.market_version, file_version = excluded.file_version`;
}

export interface PgCacheParts {
  pool: PostgresPool;
  bars: ReturnType<typeof createPgBars>;
  audit: PgAuditRecorder;
  /** The store's live settings: the zone is read at each call (updateSettings may change it). */
  settings: { readonly timezone: string };
  /** The actor of the store view the cache was made from; undefined: the store's. */
  actor: string | undefined;
  /** Whether the store was closed: every call is then refused with CLOSED, as the store's are. */
  closed(): boolean;
}

export function createPgCacheBackend(parts: PgCacheParts): CacheBackend {
  const { pool, bars, audit, settings } = parts;
  const open = <T>(work: () => Promise<T>): Promise<T> =>
    parts.closed() ? Promise.reject(new StorageError("CLOSED", "the store is closed")) : work();
  return {
    name: "postgres",
    get timezone() {
      return settings.timezone;
    },
    readonly: false,
    reads: {
      entry: (symbol) => open(() => pool.run((sql) => entryOn(sql, symbol))),
      list: () =>
        open(() =>
          pool.run(async (sql) => {
            const rows = (await sql.unsafe(`SELECT ${SELECT} FROM session_cache ORDER BY symbol COLLATE "C"`)) as CacheEntry[];
            return rows.map((row) => ({ ...row }));
          }),
        ),
      getBars: (symbol, range) => open(() => bars.getBars(symbol, range)),
    },
    async locked(work, actor) {
      if (parts.closed()) throw new StorageError("CLOSED", "the store is closed");
      // Read before any await: the actor of this call.
      const who = actor === undefined ? (parts.actor ?? audit.actor()) : checkActor(actor);
      try {
        return await pool.sql.begin(READ_COMMITTED, async (sql) => {
          await lockAuditChain(sql);
          const tx: CacheTx = {
            entry: (symbol) => entryOn(sql, symbol),
            put: (entry) => putOn(sql, entry),
            insertBars: (symbol, input) => bars.insertIn(sql, symbol, input, who),
            latestBar: async (symbol) => (await bars.storedIn(sql, symbol, { start: MIN_TIMESTAMP, end: MAX_TIMESTAMP, order: "desc", limit: 1 }))[0] ?? null,
            getBars: (symbol, query) => bars.storedIn(sql, symbol, query),
            audit: (action, entity, details) => audit(sql, who, action, entity, details),
            metric: (name, value, labels) => recordIn(sql, name, value, labels),
          };
          return runAsync(work(tx));
        });
      } catch (error) {
        // The cache's file errors (ENOSPC, ...) are the cache's to name; the server's are ours.
        if ((error as { syscall?: unknown }).syscall !== undefined) throw error;
        throw storageErrorOf(error, pool.url);
      }
    },
  };
}

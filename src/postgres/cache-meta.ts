/**
 * session_cache over PostgreSQL: the metadata row of each symbol's cache file, read and written
 * by the SessionCache inside its locked transaction (src/postgres/cache-backend.ts), as
 * src/sqlite/cache-meta.ts is on SQLite.
 */
import type { SQL } from "bun";
import type { CacheEntry } from "../domain/cache.ts";
import type { PostgresPool } from "./connection.ts";

const COLUMNS = [
  "symbol", "last_updated", "row_count", "file_path", "checksum", "size_bytes", "writes_since_compaction",
  "last_compacted", "first_timestamp", "last_timestamp", "covered_from", "market_version", "file_version",
] as const;

/** bigint columns read as float8 (exact for every value the cache stores), so rows hold numbers as SQLite's. */
const SELECT = COLUMNS.map((name) => (name === "symbol" || name === "file_path" || name === "checksum" ? name : `${name}::float8 AS ${name}`)).join(", ");

async function getIn(sql: SQL, symbol: string): Promise<CacheEntry | null> {
  const rows = (await sql.unsafe(`SELECT ${SELECT} FROM session_cache WHERE symbol = $1`, [symbol])) as CacheEntry[];
  return rows[0] ? { ...rows[0] } : null;
}

async function putIn(sql: SQL, entry: CacheEntry): Promise<void> {
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

export function createCacheMetaRepository(pool: PostgresPool) {
  return {
    get: (symbol: string): Promise<CacheEntry | null> => pool.run((sql) => getIn(sql, symbol)),
    list: (): Promise<CacheEntry[]> =>
      pool.run(async (sql) => {
        const rows = (await sql.unsafe(`SELECT ${SELECT} FROM session_cache ORDER BY symbol COLLATE "C"`)) as CacheEntry[];
        return rows.map((row) => ({ ...row }));
      }),
    /** Inside the cache's locked transaction `sql`. */
    getIn,
    /** Inserts or replaces the whole row; inside the cache's locked transaction `sql`. */
    putIn,
  };
}

export type CacheMetaRepository = ReturnType<typeof createCacheMetaRepository>;

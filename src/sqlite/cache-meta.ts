/**
 * session_cache: the metadata row of each symbol's cache file, read and written by the
 * SessionCache inside its write transactions.
 */
import type { CacheEntry } from "../domain/cache.ts";
import { guard, type Connection } from "./connection.ts";

const COLUMNS =
  "symbol, last_updated, row_count, file_path, checksum, size_bytes, writes_since_compaction, " +
  "last_compacted, first_timestamp, last_timestamp, covered_from, market_version, file_version";

export function createCacheMetaRepository(conn: Connection) {
  const selectOne = conn.prepare<CacheEntry>(`SELECT ${COLUMNS} FROM session_cache WHERE symbol = ?`);
  const selectAll = conn.prepare<CacheEntry>(`SELECT ${COLUMNS} FROM session_cache ORDER BY symbol`);
  const upsert = conn.prepare(
    `INSERT INTO session_cache (${COLUMNS}) VALUES (${COLUMNS.split(", ").map((c) => `$${c}`).join(", ")}) ` +
      "ON CONFLICT (symbol) DO UPDATE SET " +
      COLUMNS.split(", ").filter((c) => c !== "symbol").map((c) => `${c} = excluded.${c}`).join(", "),
  );
  const remove = conn.prepare("DELETE FROM session_cache WHERE symbol = ?");
  return {
    get(symbol: string): CacheEntry | null {
      return guard(() => selectOne.get(symbol as never)) ?? null;
    },
    list(): CacheEntry[] {
      return guard(() => selectAll.all());
    },
    /** Inserts or replaces the whole row; run it inside the cache's write transaction. */
    put(entry: CacheEntry): void {
      guard(() => upsert.run(entry as never));
    },
    delete(symbol: string): boolean {
      return guard(() => remove.run(symbol as never)).changes > 0;
    },
  };
}

export type CacheMetaRepository = ReturnType<typeof createCacheMetaRepository>;

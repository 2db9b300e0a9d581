/**
 * The session cache over SQLite: the CacheBackend a SessionCache runs on (src/domain/cache-backend.ts),
 * over a Database's repositories, synchronously, inside its BEGIN IMMEDIATE transaction. The
 * metadata rows are src/sqlite/cache-meta.ts's; the file work is the cache's own.
 */
import type { CacheBackend, CacheTx } from "../domain/cache-backend.ts";
import { runSync } from "../domain/cache-backend.ts";
import type { Database } from "./database.ts";

/**
 * `actor`: the store view's (withActor), named by the audit entries of every locked call that
 * names none; undefined: the database's own.
 */
export function createCacheBackend(db: Database, actor?: string): CacheBackend {
  const tx: CacheTx = {
    entry: (symbol) => db.cacheEntries.get(symbol),
    put: (entry) => db.cacheEntries.put(entry),
    insertBars: (symbol, bars) => db.insertBars(symbol, bars),
    latestBar: (symbol) => db.latestBar(symbol),
    getBars: (symbol, query) => db.getBars(symbol, query),
    takeRollup: (symbol) => db.audit.takeRollup(symbol),
    audit: (action, entity, details) => db.audit.record(action, entity, details),
    metric: (name, value, labels) => db.metrics.record(name, value, labels),
  };
  return {
    name: "sqlite",
    // Read at each call: the database's zone may be changed (updateSettings) while the cache is open.
    get timezone() {
      return db.timezone;
    },
    readonly: db.readonly,
    reads: {
      entry: async (symbol) => db.cacheEntries.get(symbol),
      list: async () => db.cacheEntries.list(),
      getBars: async (symbol, range) => db.getBars(symbol, range),
    },
    // async: the transaction still runs to completion synchronously, when locked() is called.
    async locked(work, callActor) {
      const who = callActor ?? actor;
      const run = () => db.transaction(() => runSync(work(tx)));
      return who === undefined ? run() : db.asActor(who, run);
    },
  };
}

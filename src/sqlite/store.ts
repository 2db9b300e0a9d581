/**
 * The Store interface over an in-thread Database. Each call runs synchronously on the caller's
 * thread and settles its promise with the result or the error; the worker backend is the one
 * that keeps the event loop free.
 */
import type { Store } from "../domain/store.ts";
import type { Database } from "./database.ts";

export function createSqliteStore(db: Database): Store {
  const run = async <T>(work: () => T): Promise<T> => work();
  return {
    backend: "sqlite",
    insertBars: (symbol, bars) => run(() => db.insertBars(symbol, bars)),
    getBars: (symbol, query) => run(() => db.getBars(symbol, query)),
    async *iterateBars(symbol, query) {
      yield* db.iterateBars(symbol, query);
    },
    latestBar: (symbol) => run(() => db.latestBar(symbol)),
    deleteBars: (symbol, range) => run(() => db.deleteBars(symbol, range)),
    overview: () => run(() => db.overview()),
    insertQuotes: (symbol, quotes) => run(() => db.insertQuotes(symbol, quotes)),
    getQuotes: (symbol, query) => run(() => db.getQuotes(symbol, query)),
    prefs: {
      define: (key, schema) => db.prefs.define(key, schema),
      get: (key) => run(() => db.prefs.get(key)),
      set: (key, value) => run(() => db.prefs.set(key, value)),
      delete: (key) => run(() => db.prefs.delete(key)),
      all: () => run(() => db.prefs.all()),
    },
    maintenance: {
      checkpoint: (mode) => run(() => db.maintenance.checkpoint(mode)),
      optimize: () => run(() => db.maintenance.optimize()),
      vacuum: (options) => run(() => db.maintenance.vacuum(options)),
      integrityCheck: (options) => run(() => db.maintenance.integrityCheck(options)),
      backup: (toPath) => run(() => db.maintenance.backup(toPath)),
      stats: () => run(() => db.maintenance.stats()),
    },
    artifacts: {
      register: async (input) => db.artifacts.register(input),
      get: (name, version) => run(() => db.artifacts.get(name, version)),
      list: (query) => run(() => db.artifacts.list(query)),
      remove: (name, version) => run(() => db.artifacts.remove(name, version)),
    },
    audit: {
      append: (input) => run(() => db.audit.append(input)),
      query: (query) => run(() => db.audit.query(query)),
      head: () => run(() => db.audit.head()),
      verify: (options) => run(() => db.audit.verify(options)),
    },
    metrics: {
      record: (name, value, labels) => run(() => db.metrics.record(name, value, labels)),
      query: (name, query) => run(() => db.metrics.query(name, query)),
      summary: (name) => run(() => db.metrics.summary(name)),
    },
    close: () => run(() => db.close()),
  };
}

/**
 * The Store interface over an in-thread Database. Each call runs synchronously on the caller's
 * thread and settles its promise with the result or the error; the worker backend is the one
 * that keeps the event loop free.
 */
import { checkActor } from "../domain/audit.ts";
import { CACHE_BACKEND, type CacheCapableStore } from "../domain/cache-backend.ts";
import { actorViews } from "../domain/store-view.ts";
import { createCacheBackend } from "./cache-backend.ts";
import type { Database } from "./database.ts";
import { watchBars } from "../domain/watch.ts";

/** `actor`, when given, names who the audit log attributes this view's mutations to. */
export function createSqliteStore(db: Database, actor?: string): CacheCapableStore {
  if (actor !== undefined) checkActor(actor);
  /** Reads. */
  const run = async <T>(work: () => T): Promise<T> => work();
  /** Mutations: the audit entries they write name this view's actor. */
  const write =
    actor === undefined
      ? run
      : async <T>(work: () => T): Promise<T> => db.asActor(actor, work);
  const store: CacheCapableStore = {
    backend: "sqlite",
    get timezone() {
      return db.timezone;
    },
    get barTimestamp() {
      return db.barTimestamp;
    },
    get calendar() {
      return db.calendar;
    },
    get normalizeSymbols() {
      return db.normalizeSymbols;
    },
    updateSettings: (change, options) => write(() => db.updateSettings(change, options)),
    withActor: actorViews((name) => createSqliteStore(db, name)),
    insertBars: (symbol, bars, options) => write(() => db.insertBars(symbol, bars, options)),
    getBars: (symbol, query) => run(() => db.getBars(symbol, query)),
    async *iterateBars(symbol, query) {
      yield* db.iterateBars(symbol, query);
    },
    latestBar: (symbol) => run(() => db.latestBar(symbol)),
    deleteBars: (symbol, range, options) => write(() => db.deleteBars(symbol, range, options)),
    getCrossSection: (query) => run(() => db.getCrossSection(query)),
    overview: (options) => run(() => db.overview(options)),
    buildDerivedDays: () => write(() => db.buildDerivedDays()),
    completeness: (symbol, query) => run(() => db.completeness(symbol, query)),
    insertQuotes: (symbol, quotes) => write(() => db.insertQuotes(symbol, quotes)),
    getQuotes: (symbol, query) => run(() => db.getQuotes(symbol, query)),
    prefs: {
      define: (key, schema) => db.prefs.define(key, schema),
      get: (key) => run(() => db.prefs.get(key)),
      set: (key, value) => write(() => db.prefs.set(key, value)),
      delete: (key) => write(() => db.prefs.delete(key)),
      all: () => run(() => db.prefs.all()),
    },
    maintenance: {
      checkpoint: (mode) => write(() => db.maintenance.checkpoint(mode)),
      optimize: () => write(() => db.maintenance.optimize()),
      vacuum: (options) => write(() => db.maintenance.vacuum(options)),
      integrityCheck: (options) => write(() => db.maintenance.integrityCheck(options)),
      backup: (toPath) => write(() => db.maintenance.backup(toPath)),
      info: () => run(() => db.maintenance.info()),
      stats: () => run(() => db.maintenance.stats()),
    },
    artifacts: {
      register: (input, options) => db.artifacts.register(input, { ...options, ...(actor === undefined ? {} : { actor }) }),
      get: (name, version) => run(() => db.artifacts.get(name, version)),
      list: (query) => run(() => db.artifacts.list(query)),
      remove: (name, version) => write(() => db.artifacts.remove(name, version)),
    },
    audit: {
      append: (input) => write(() => db.audit.append(input)),
      query: (query) => run(() => db.audit.query(query)),
      head: () => run(() => db.audit.head()),
      verify: (options) => run(() => db.audit.verify(options)),
      rollUp: (options) => write(() => db.audit.rollUp(options)),
      verifyRollups: () => run(() => db.audit.verifyRollups()),
    },
    metrics: {
      record: (name, value, labels) => write(() => db.metrics.record(name, value, labels)),
      query: (name, query) => run(() => db.metrics.query(name, query)),
      summary: (name) => run(() => db.metrics.summary(name)),
    },
    calendars: {
      list: () => run(() => db.calendars.list()),
      get: (name) => run(() => db.calendars.get(name)),
      put: (data) => write(() => db.calendars.put(data)),
      replaceYear: (name, year, days) => write(() => db.calendars.replaceYear(name, year, days)),
      of: (symbol) => run(() => db.calendars.of(symbol)),
      assign: (symbol, name) => write(() => db.calendars.assign(symbol, name)),
    },
    adjustments: {
      insert: (symbol, rows) => write(() => db.adjustments.insert(symbol, rows)),
      list: (symbol, options) => run(() => db.adjustments.list(symbol, options)),
      insertActions: (symbol, actions, options) => write(() => db.adjustments.insertActions(symbol, actions, options)),
      listActions: (symbol) => run(() => db.adjustments.listActions(symbol)),
    },
    instruments: {
      put: (rows) => write(() => db.instruments.put(rows)),
      get: (symbol) => run(() => db.instruments.get(symbol)),
      has: (symbol) => run(() => db.instruments.has(symbol)),
      list: (query) => run(() => db.instruments.list(query)),
      setStatus: (symbol, rows) => write(() => db.instruments.setStatus(symbol, rows)),
      statusHistory: (symbol) => run(() => db.instruments.statusHistory(symbol)),
    },
    // What `new SessionCache({ store })` runs on: this Database, its transactions and its lock.
    [CACHE_BACKEND]: () => createCacheBackend(db, actor),
    watch: (options) => watchBars(store, db.changeFeed, options),
    close: () => run(() => db.close()),
  };
  return store;
}

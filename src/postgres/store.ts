/**
 * The Store interface over PostgreSQL: `openStore({ backend: "postgres", url })`. One pool, the
 * schema migrated on open, the repositories of src/postgres/ behind the same method set as the
 * SQLite store, every mutation and its audit entry in one transaction. `withActor(name)` gives a
 * view whose mutations the audit log attributes to `name` (AsyncLocalStorage carries it into the
 * call; each repository reads it before its first await). After close(), every call is refused
 * with StorageError CLOSED, as on SQLite.
 */
import { z } from "zod";
import { checkActor } from "../domain/audit.ts";
import { DEFAULT_AUDIT_ROLLUP_MS, MAX_AUDIT_ROLLUP_MS } from "../domain/audit-rollup.ts";
import { normalizeSymbol } from "../domain/instrument-symbol.ts";
import { ValidationError } from "../domain/errors.ts";
import { actorViews, closedError, whenOpen } from "../domain/store-view.ts";
import { watchBars } from "../domain/watch.ts";
import { createChangeFeed } from "./changes.ts";
import { CALENDAR_NAME } from "../domain/calendar.ts";
import { BAR_TIMESTAMPS, type BarQuery, type BarTimestamp } from "../domain/query.ts";
import { readInitialSettings } from "../config.ts";
import { withCalendars, type SettingsRequest } from "../domain/settings.ts";
import type { Store } from "../domain/store.ts";
import { assertTimeZone } from "../domain/time.ts";
import { createAdjustmentRepository } from "./adjustments.ts";
import { createArtifactRepository } from "./artifacts.ts";
import { createAuditRepository, lockAuditChain } from "./audit.ts";
import { createBarRepository } from "./bars.ts";
import { createCrossSectionReader } from "./cross-section.ts";
import { keyCrossSectionQuery } from "../domain/cross-section.ts";
import { assertCalendarStored, createCalendarRepository } from "./calendars.ts";
import { createCacheBackend } from "./cache-backend.ts";
import { CACHE_BACKEND, type CacheCapableStore } from "../domain/cache-backend.ts";
import { PostgresPool, READ_COMMITTED, type PostgresOptions } from "./connection.ts";
import { createMaintenance, type RunRecorder } from "./maintenance.ts";
import { createMetricRepository, recordIn } from "./metrics.ts";
import { migrate } from "./migrations.ts";
import { createPreferenceRepository } from "./prefs.ts";
import { createInstrumentRepository } from "./instruments.ts";
import { createQuoteRepository } from "./quotes.ts";
import { createSettingsRepository, openSettings, type LiveSettings } from "./settings.ts";

export interface PostgresStoreOptions extends PostgresOptions {
  /**
   * The database's IANA zone: stored by a new database (default UTC); an existing one must
   * store the same, or opening is refused naming both. Omit it to use what the database stores.
   */
  timezone?: string;
  /** Where stored bars are stamped within their interval (stored like `timezone`). Default "start". */
  barTimestamp?: BarTimestamp;
  /** The default calendar's name, or null (stored like `timezone`). Default null. */
  calendar?: string | null;
  /** Normalize symbols (`sh600519` -> `600519.SH`) on write and read (stored like `timezone`). Default false. */
  normalizeSymbols?: boolean;
  /** Settings a new database is created with where the options above say nothing; never compared. */
  initialSettings?: SettingsRequest;
  /** Accept numbers from 1e8 to 1e11 as epoch-ms timestamps (refused by default as probable epoch seconds). */
  allowSecondsLikeTimestamps?: boolean;
  /** Who the audit log names for the store's own mutations. Default "tradelite". */
  actor?: string;
  /** The audit grain of live appends, as SQLite's option (src/config.ts). Default one day. */
  auditRollupMs?: number;
}

const OptionsSchema = z.strictObject({
  url: z.string().optional(),
  max: z.number().optional(),
  idleTimeoutS: z.number().optional(),
  connectionTimeoutS: z.number().optional(),
  timezone: z.string().optional(),
  barTimestamp: z.enum(BAR_TIMESTAMPS).optional(),
  calendar: z.string().regex(CALENDAR_NAME, "expected a calendar name (a letter, then letters, digits, _ or -, at most 32)").nullable().optional(),
  normalizeSymbols: z.boolean().optional(),
  initialSettings: z.unknown().optional(),
  allowSecondsLikeTimestamps: z.boolean().optional(),
  actor: z.string().optional(),
  auditRollupMs: z.number().int().min(0).max(MAX_AUDIT_ROLLUP_MS).optional(),
});

export async function openPostgresStore(options: PostgresStoreOptions = {}): Promise<Store> {
  const parsed = OptionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    throw new ValidationError(
      parsed.error.issues.map((issue) => ({
        field: issue.code === "unrecognized_keys" ? issue.keys.join(", ") : issue.path.join(".") || undefined,
        message: issue.message,
      })),
    );
  }
  const given = parsed.data;
  const asked: SettingsRequest = {};
  if (given.timezone !== undefined) asked.timezone = assertTimeZone(given.timezone);
  if (given.barTimestamp !== undefined) asked.barTimestamp = given.barTimestamp;
  if (given.calendar !== undefined) asked.calendar = given.calendar;
  if (given.normalizeSymbols !== undefined) asked.normalizeSymbols = given.normalizeSymbols;
  const initial = readInitialSettings(given.initialSettings);
  const actor = checkActor(given.actor ?? "tradelite");
  const pool = new PostgresPool(given);
  let live: LiveSettings;
  try {
    await pool.run((sql) => migrate(sql));
    if (typeof asked.calendar === "string") await assertCalendarStored(pool, asked.calendar);
    live = await openSettings(pool, asked, initial, given.allowSecondsLikeTimestamps ?? false);
  } catch (error) {
    await pool.close();
    throw error;
  }

  const audit = createAuditRepository(pool, {
    get timezone() {
      return live.timezone;
    },
    allowSecondsLikeTimestamps: live.allowSecondsLikeTimestamps,
    actor,
    auditRollupMs: given.auditRollupMs ?? DEFAULT_AUDIT_ROLLUP_MS,
  });
  const recordRun: RunRecorder = async (action, durationMs, details) => {
    const who = audit.record.actor();
    await pool.run((sql) =>
      sql.begin(READ_COMMITTED, async (tx) => {
        await lockAuditChain(tx);
        await recordIn(tx, `postgres.${action}.ms`, durationMs);
        await audit.record(tx, who, `maintenance.${action}`, null, details);
      }),
    );
  };
  const key = (symbol: string) => keyOf(live, symbol);
  const calendars = createCalendarRepository(pool, audit.record, () => live.calendar, key);
  const adjustments = createAdjustmentRepository(pool, live, audit.record);
  const parts = {
    calendars,
    adjustments,
    instruments: createInstrumentRepository(pool, audit.record, () => live.normalizeSymbols),
    bars: createBarRepository(pool, withCalendars(live, calendars.calendarOf), audit.record, adjustments.factorsOf),
    crossSection: createCrossSectionReader(pool, live),
    quotes: createQuoteRepository(pool, live, audit.record),
    metrics: createMetricRepository(pool, live),
    settings: createSettingsRepository(pool, live, audit.record),
    prefs: createPreferenceRepository(pool, audit.record),
    artifacts: createArtifactRepository(pool, audit.record),
    maintenance: createMaintenance(pool, recordRun),
    changes: createChangeFeed(pool),
  };
  try {
    // Rollups a writer left open past their interval (one killed between rollups) close now.
    await audit.rollUpDue();
  } catch (error) {
    await pool.close();
    throw error;
  }
  const state = { closed: false };
  return view(parts, audit, pool, state, live, undefined);
}

/** Whether a read follows the symbol's calendar (session buckets, or a fill on its grid). */
function sessionAligned(query: BarQuery | undefined): boolean {
  return query?.align === "session" || query?.fill === "previous";
}

/** The key a method's symbol is stored under: normalized when the setting says so, else as given. */
function keyOf(settings: LiveSettings, symbol: string): string {
  // One boolean read when off: the bar methods' own symbol check runs as before.
  return settings.normalizeSymbols ? normalizeSymbol(symbol) : symbol;
}

type Parts = {
  calendars: ReturnType<typeof createCalendarRepository>;
  adjustments: ReturnType<typeof createAdjustmentRepository>;
  instruments: ReturnType<typeof createInstrumentRepository>;
  bars: ReturnType<typeof createBarRepository>;
  crossSection: ReturnType<typeof createCrossSectionReader>;
  quotes: ReturnType<typeof createQuoteRepository>;
  metrics: ReturnType<typeof createMetricRepository>;
  prefs: ReturnType<typeof createPreferenceRepository>;
  artifacts: ReturnType<typeof createArtifactRepository>;
  maintenance: ReturnType<typeof createMaintenance>;
  settings: ReturnType<typeof createSettingsRepository>;
  changes: ReturnType<typeof createChangeFeed>;
};

function view(
  parts: Parts,
  audit: ReturnType<typeof createAuditRepository>,
  pool: PostgresPool,
  state: { closed: boolean },
  settings: LiveSettings,
  actor: string | undefined,
): Store {
  /** Refuses calls after close(); runs the call as this view's actor. */
  const call = <T>(work: () => Promise<T>): Promise<T> =>
    whenOpen(state.closed, () => (actor === undefined ? work() : audit.record.as(actor, work)));
  const { bars, quotes, metrics, prefs, artifacts, maintenance, calendars, adjustments, instruments } = parts;
  /** Calls `work` with the symbol as stored; a refused symbol rejects the call's promise. */
  const keyed = <T>(symbol: string, work: (key: string) => Promise<T>): Promise<T> => call(async () => work(keyOf(settings, symbol)));
  const store: CacheCapableStore = {
    backend: "postgres",
    get timezone() {
      return settings.timezone;
    },
    get barTimestamp() {
      return settings.barTimestamp;
    },
    get calendar() {
      return settings.calendar;
    },
    get normalizeSymbols() {
      return settings.normalizeSymbols;
    },
    updateSettings: (change, options) =>
      call(async () => {
        if (typeof change?.calendar === "string") await assertCalendarStored(pool, change.calendar);
        return parts.settings.update(change, options);
      }),
    withActor: actorViews((name) => view(parts, audit, pool, state, settings, name)),
    insertBars: (symbol, input, options) => keyed(symbol, (key) => bars.insertBars(key, input, options)),
    // Session-aligned reads and completeness refresh the symbol's calendar first (one row; the
    // days only when another process changed them), so the synchronous lookup they make is
    // current.
    getBars: (symbol, query) =>
      keyed(symbol, async (key) => {
        if (sessionAligned(query)) await calendars.refresh(key);
        return bars.getBars(key, query);
      }),
    async *iterateBars(symbol, query) {
      if (state.closed) throw closedError();
      const key = keyOf(settings, symbol);
      // This body runs at the first next(), so it can refresh as getBars does. The repository's
      // own iterateBars checks its arguments when called and so cannot wait for the server:
      // called directly, it follows the calendar as this process last refreshed it (a change
      // made by another process since is seen at the next getBars, completeness or refresh).
      if (sessionAligned(query)) await calendars.refresh(key);
      for await (const bar of bars.iterateBars(key, query)) {
        yield bar;
        if (state.closed) throw closedError("iteration");
      }
    },
    latestBar: (symbol) => keyed(symbol, (key) => bars.latestBar(key)),
    deleteBars: (symbol, range, options) => keyed(symbol, (key) => bars.deleteBars(key, range, options)),
    getCrossSection: (query) => call(() => parts.crossSection(keyCrossSectionQuery(query, settings.normalizeSymbols ? (symbol) => keyOf(settings, symbol) : null))),
    overview: (options) => call(() => bars.overview(options)),
    buildDerivedDays: () => call(() => bars.buildDerivedDays()),
    completeness: (symbol, query) =>
      keyed(symbol, async (key) => {
        await calendars.refresh(key);
        return bars.completeness(key, query);
      }),
    insertQuotes: (symbol, input) => keyed(symbol, (key) => quotes.insertQuotes(key, input)),
    getQuotes: (symbol, query) => keyed(symbol, (key) => quotes.getQuotes(key, query)),
    instruments: {
      put: (rows) => call(() => instruments.put(rows)),
      get: (symbol) => call(() => instruments.get(symbol)),
      has: (symbol) => call(() => instruments.has(symbol)),
      list: (query) => call(() => instruments.list(query)),
      setStatus: (symbol, rows) => call(() => instruments.setStatus(symbol, rows)),
      statusHistory: (symbol) => call(() => instruments.statusHistory(symbol)),
    },
    metrics: {
      record: (name, value, labels) => call(() => metrics.record(name, value, labels)),
      query: (name, query) => call(() => metrics.query(name, query)),
      summary: (name) => call(() => metrics.summary(name)),
    },
    prefs: {
      define: (key, schema) => {
        if (state.closed) throw closedError();
        prefs.define(key, schema);
      },
      get: (key) => call(() => prefs.get(key)),
      set: (key, value) => call(() => prefs.set(key, value)),
      delete: (key) => call(() => prefs.delete(key)),
      all: () => call(() => prefs.all()),
    },
    audit: {
      append: (input) => call(() => audit.append(input)),
      query: (query) => call(() => audit.query(query)),
      head: () => call(() => audit.head()),
      verify: (options) => call(() => audit.verify(options)),
      rollUp: (options) => call(() => audit.rollUp(options)),
      verifyRollups: () => call(() => audit.verifyRollups()),
    },
    artifacts: {
      register: (input, options) => call(() => artifacts.register(input, { ...options, ...(actor === undefined ? {} : { actor }) })),
      get: (name, version) => call(() => artifacts.get(name, version)),
      list: (query) => call(() => artifacts.list(query)),
      remove: (name, version) => call(() => artifacts.remove(name, version)),
    },
    calendars: {
      list: () => call(() => calendars.list()),
      get: (name) => call(() => calendars.get(name)),
      put: (data) => call(() => calendars.put(data)),
      replaceYear: (name, year, days) => call(() => calendars.replaceYear(name, year, days)),
      of: (symbol) => call(() => calendars.of(symbol)),
      assign: (symbol, name) => call(() => calendars.assign(symbol, name)),
    },
    adjustments: {
      insert: (symbol, rows) => keyed(symbol, (key) => adjustments.insert(key, rows)),
      list: (symbol, options) => keyed(symbol, (key) => adjustments.list(key, options)),
      insertActions: (symbol, actions, options) => keyed(symbol, (key) => adjustments.insertActions(key, actions, options)),
      listActions: (symbol) => keyed(symbol, (key) => adjustments.listActions(key)),
    },
    maintenance: {
      checkpoint: (mode) => call(() => maintenance.checkpoint(mode)),
      optimize: () => call(() => maintenance.optimize()),
      vacuum: (options) => call(() => maintenance.vacuum(options)),
      integrityCheck: (options) => call(() => maintenance.integrityCheck(options)),
      backup: () => call(() => maintenance.backup()),
      info: () => call(() => maintenance.info()),
      stats: () => call(() => maintenance.stats()),
    },
    // What `new SessionCache({ store })` runs on (src/cache/session-cache.ts); not part of Store.
    [CACHE_BACKEND]: () => createCacheBackend({ pool, bars: bars, audit: audit.record, settings, actor, closed: () => state.closed }),
    watch: (options) => watchBars(store, parts.changes, options),
    async close() {
      if (state.closed) return;
      state.closed = true;
      await parts.changes.close();
      await pool.close();
    },
  };
  return store;
}

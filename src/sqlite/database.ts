/**
 * Database: the synchronous embedded API over one bun:sqlite connection, the ADR's
 * `get_database()`. `openDatabase(options)` opens a new one; `getDatabase()` returns the
 * process-wide default, created on first use.
 */
import { resolveDatabaseOptions, type DatabaseOptions } from "../config.ts";
import type { Bar, BarColumns, BarInput } from "../domain/bar.ts";
import type { BarQuery, BarTimestamp, RangeQuery, TimeRange } from "../domain/query.ts";
import type { Quote, QuoteColumns, QuoteInput } from "../domain/quote.ts";
import { normalizeSymbol } from "../domain/instrument-symbol.ts";
import { withCalendars, type SettingsUpdateOptions, type StoreSettings } from "../domain/settings.ts";
import type { CompletenessQuery, OverviewOptions, SymbolOverview } from "../domain/store.ts";
import type { Completeness } from "../domain/session.ts";
import type { SeriesOptions } from "../domain/daily.ts";
import type { InsertBarsOptions } from "../domain/audit-rollup.ts";
import { keyCrossSectionQuery, type CrossSection, type CrossSectionQuery } from "../domain/cross-section.ts";
import { keyedAdjustments } from "../domain/adjusted-reads.ts";
import { assertCalendarStored, createCalendarRepository, type CalendarRepository } from "./calendars.ts";
import { createAdjustmentRepository, type AdjustmentRepository } from "./adjustments.ts";
import { createArtifactRepository, type ArtifactRepository } from "./artifacts.ts";
import { createAuditRepository, type AuditRepository } from "./audit.ts";
import { createBarRepository, type BarRepository } from "./bars.ts";
import { createCacheMetaRepository, type CacheMetaRepository } from "./cache-meta.ts";
import { createCrossSectionReader } from "./cross-section.ts";
import { createMaintenance, type Maintenance } from "./maintenance.ts";
import { createMetricRepository, type MetricRepository } from "./metrics.ts";
import { createPreferenceRepository, type PreferenceRepository } from "./prefs.ts";
import { openConnection, type Connection, type ConnectionSettings } from "./connection.ts";
import { migrate } from "./migrations.ts";
import { createChangeFeed, prepareChangeLogReader, type ChangeLogReader } from "./changes.ts";
import { createSqliteStore } from "./store.ts";
import { watchBars, type BarWatch, type WatchOptions } from "../domain/watch.ts";
import type { ChangeFeed } from "../domain/change-feed.ts";
import { createInstrumentRepository, type InstrumentRepository } from "./instruments.ts";
import { createQuoteRepository } from "./quotes.ts";
import { createSettingsRepository, type LiveSettings, type SettingsRepository } from "./settings.ts";

export class Database {
  readonly path: string;
  readonly readonly: boolean;
  /** PRAGMA user_version after migrations. */
  readonly schemaVersion: number;
  readonly #conn: Connection;
  readonly #bars: BarRepository;
  readonly #crossSection: ReturnType<typeof createCrossSectionReader>;
  readonly #quotes: ReturnType<typeof createQuoteRepository>;
  readonly #cacheEntries: CacheMetaRepository;
  readonly #metrics: MetricRepository;
  readonly #prefs: PreferenceRepository;
  readonly #audit: AuditRepository;
  readonly #artifacts: ArtifactRepository;
  readonly #maintenance: Maintenance;
  readonly #calendars: CalendarRepository;
  readonly #adjustments: AdjustmentRepository;
  readonly #instruments: InstrumentRepository;
  readonly #settings: SettingsRepository;
  /** The stored settings, read by every repository at each call (updateSettings changes them). */
  readonly #live: LiveSettings;
  #changeFeed: ChangeFeed | undefined;
  #changeLog: ChangeLogReader | undefined;

  /** Same as openDatabase(options): options are checked and defaults filled in here. */
  constructor(given?: DatabaseOptions) {
    const options = resolveDatabaseOptions(given);
    this.path = options.path;
    this.readonly = options.readonly;
    const conn = openConnection(options);
    try {
      this.schemaVersion = migrate(conn);
      if (typeof options.calendar === "string") assertCalendarStored(conn, options.calendar);
      this.#settings = createSettingsRepository(conn, options);
      const live = (this.#live = this.#settings.open());
      conn.useWal();
      this.#audit = createAuditRepository(conn, {
        get timezone() {
          return live.timezone;
        },
        allowSecondsLikeTimestamps: live.allowSecondsLikeTimestamps,
        actor: options.actor,
        auditRollupMs: options.auditRollupMs,
      });
      const record = this.#audit.record;
      const calendars = createCalendarRepository(conn, record, () => live.calendar, (symbol) => this.#key(symbol));
      this.#instruments = createInstrumentRepository(conn, record, () => live.normalizeSymbols);
      this.#calendars = calendars;
      this.#adjustments = keyedAdjustments(createAdjustmentRepository(conn, live, record), (symbol) => this.#key(symbol));
      this.#bars = createBarRepository(conn, withCalendars(live, calendars.calendarOf), record, this.#adjustments.factorsOf);
      this.#crossSection = createCrossSectionReader(conn, live, this.#adjustments.factorsOf);
      this.#quotes = createQuoteRepository(conn, live, record);
      this.#cacheEntries = createCacheMetaRepository(conn);
      this.#metrics = createMetricRepository(conn, live);
      this.#prefs = createPreferenceRepository(conn, record);
      this.#artifacts = createArtifactRepository(conn, record);
      this.#maintenance = createMaintenance(conn, this.#metrics, record, this.#audit.rollUpDue);
      const metrics = this.#metrics;
      let reporting = false;
      conn.onBusyWait = (waitedMs) => {
        // Recording takes the lock too; a wait while recording is not reported again.
        if (reporting) return;
        reporting = true;
        try {
          metrics.record("sqlite.busy_wait.ms", waitedMs);
        } catch {
          // The write that waited has committed; losing its metric must not fail it.
        } finally {
          reporting = false;
        }
      };
      const settings = this.#settings;
      conn.onRollback = () => {
        // A settings change inside a transaction that rolled back is gone from the table: the
        // live copy every repository reads must not keep it.
        try {
          settings.reload(live);
        } catch {
          // The rollback's own error is the one the caller gets; the next opening reads again.
        }
      };
      // Rollups a writer left open past their interval (one killed between rollups) close now.
      if (!options.readonly) this.#audit.rollUpDue();
    } catch (error) {
      conn.abandon();
      throw error;
    }
    this.#conn = conn;
  }

  /** The database's time zone, as stored (naive timestamps, date-only bounds, day buckets). */
  get timezone(): string {
    return this.#live.timezone;
  }

  /** Where the stored bars are stamped within their interval, as stored. */
  get barTimestamp(): BarTimestamp {
    return this.#live.barTimestamp;
  }

  /** The default calendar's name, as stored, or null. */
  get calendar(): string | null {
    return this.#live.calendar;
  }

  /** The stored settings: time zone, bar stamping, default calendar. */
  get storedSettings(): StoreSettings {
    const { timezone, barTimestamp, calendar, normalizeSymbols } = this.#live;
    return { timezone, barTimestamp, calendar, normalizeSymbols };
  }

  /** Whether symbols are normalized (`sh600519` -> `600519.SH`) on write and read, as stored. */
  get normalizeSymbols(): boolean {
    return this.#live.normalizeSymbols;
  }

  /** The key a method's symbol is stored under: normalized when the setting says so, else as given. */
  #key(symbol: string): string {
    // One boolean read when off: the bar methods' own symbol check runs as before.
    return this.#live.normalizeSymbols ? normalizeSymbol(symbol) : symbol;
  }

  /**
   * Changes stored settings, one audit entry per change, in one transaction. A change of bar
   * stamping is refused while bars are stored unless `options.restamp` names the interval they
   * cover (then they move by it, in the same transaction). Other connections open on the file
   * see the change when they reopen (or call reloadSettings()).
   */
  updateSettings(change: Partial<StoreSettings>, options?: SettingsUpdateOptions): StoreSettings {
    this.#open();
    if (typeof change?.calendar === "string") assertCalendarStored(this.#conn, change.calendar);
    return this.#settings.update(this.#live, change, this.#audit.record, options);
  }

  /** Reads the stored settings again (another connection may have changed them). */
  reloadSettings(): StoreSettings {
    this.#open();
    return this.#settings.reload(this.#live);
  }

  get closed(): boolean {
    return this.#conn.closed;
  }

  /**
   * Upserts bars on (symbol, timestamp) in one transaction; returns the rows written (distinct
   * timestamps). `{ interval: "1d" }` writes the stored daily series (market_data_daily): each
   * bar stamped at its date's local midnight, e.g. the date string "2024-01-15".
   */
  insertBars(symbol: string, bars: readonly BarInput[] | BarColumns, options?: InsertBarsOptions): number {
    return this.#open().insert(this.#key(symbol), bars, options);
  }

  getBars(symbol: string, query?: BarQuery): Bar[] {
    return this.#open().get(this.#key(symbol), query);
  }

  iterateBars(symbol: string, query?: BarQuery): Generator<Bar> {
    return this.#open().iterate(this.#key(symbol), query);
  }

  /**
   * Bars as they are stored, by this or any other program, from `options.since` on; the same
   * engine as every Store's watch() (src/domain/watch.ts), reading this connection.
   */
  watch(options?: WatchOptions): BarWatch {
    return watchBars(createSqliteStore(this), this.changeFeed, options);
  }

  /** The change log watch() reads (one head poller per connection), made on first use. */
  get changeFeed(): ChangeFeed {
    this.#changeFeed ??= createChangeFeed(this.changeLog);
    return this.#changeFeed;
  }

  /** The change log read synchronously (a store worker's answers). */
  get changeLog(): ChangeLogReader {
    this.#changeLog ??= prepareChangeLogReader(this.#conn);
    return this.#changeLog;
  }

  latestBar(symbol: string): Bar | null {
    return this.#open().latest(this.#key(symbol));
  }

  /**
   * Deletes bars in the inclusive range (all of the symbol's bars when no range is given);
   * `{ interval: "1d" }` from the stored daily series.
   */
  deleteBars(symbol: string, range?: TimeRange, options?: SeriesOptions): number {
    return this.#open().delete(this.#key(symbol), range, options);
  }

  /**
   * Each symbol's latest bar at or before `query.at` (every stored symbol, or `query.symbols`),
   * sorted by symbol, with the symbols asked for that have none: one statement of index seeks.
   */
  getCrossSection(query: CrossSectionQuery): CrossSection {
    this.#open();
    return this.#crossSection(keyCrossSectionQuery(query, this.#live.normalizeSymbols ? (symbol) => this.#key(symbol) : null));
  }

  /** Every symbol's stored series; `{ completeness: true }` adds expected and missing minutes. */
  overview(options?: OverviewOptions): SymbolOverview[] {
    return this.#open().overview(options);
  }

  /**
   * Builds the derived days (the daily aggregates `1d`, `1w` and `1M` reads take) of every symbol
   * not built yet, one symbol per transaction: after the migration that added them, a symbol is
   * otherwise built at its first insertBars. Returns the symbols built.
   */
  buildDerivedDays(): number {
    return this.#open().buildDerivedDays();
  }

  /** Which of a symbol's one-minute bars its calendar's sessions call for, and which are missing. */
  completeness(symbol: string, query?: CompletenessQuery): Completeness {
    return this.#open().completeness(this.#key(symbol), query);
  }

  /** Exchange calendars: list(), get(name), put(data), replaceYear(name, year, days), of(symbol), assign(symbol, name). */
  get calendars(): CalendarRepository {
    this.#open();
    return this.#calendars;
  }

  /**
   * Adjustment factors and corporate actions: insert(symbol, rows), list(symbol, { asOf }),
   * insertActions(symbol, actions, options), listActions(symbol). Reads adjust with them
   * (`getBars(symbol, { adjust: "qfq" })`).
   */
  get adjustments(): AdjustmentRepository {
    this.#open();
    return this.#adjustments;
  }

  /** Instruments: put(rows), get(symbol), has(symbol), list(query), setStatus(symbol, rows), statusHistory(symbol). */
  get instruments(): InstrumentRepository {
    this.#open();
    return this.#instruments;
  }

  insertQuotes(symbol: string, quotes: readonly QuoteInput[] | QuoteColumns): number {
    this.#open();
    return this.#quotes.insert(this.#key(symbol), quotes);
  }

  getQuotes(symbol: string, query?: RangeQuery): Quote[] {
    this.#open();
    return this.#quotes.get(this.#key(symbol), query);
  }

  /**
   * Runs `work` in one BEGIN IMMEDIATE transaction: the write lock is taken up front, so other
   * connections and processes wait (busy_timeout) rather than interleave. Store calls made
   * inside join it (as savepoints) and commit or roll back with it. `work` must be synchronous.
   */
  transaction<T>(work: () => T): T {
    this.#open();
    return this.#conn.writeTransaction(work);
  }

  /**
   * Runs synchronous `work` with the audit log naming `actor` for the mutations it makes, instead
   * of the `actor` option (the HTTP API passes the caller's token name this way).
   */
  asActor<T>(actor: string, work: () => T): T {
    this.#open();
    return this.#audit.record.as(actor, work);
  }

  /** Recovery metrics: record(name, value, labels?), query(name, { since, until, labels }), summary(name). */
  get metrics(): MetricRepository {
    this.#open();
    return this.#metrics;
  }

  /**
   * checkpoint(mode), optimize(), vacuum({ incremental }), integrityCheck({ quick }),
   * backup(toPath), stats(), startMaintenance({ everyMs }) / stopMaintenance().
   */
  get maintenance(): Maintenance {
    this.#open();
    return this.#maintenance;
  }

  /** Model artifacts: register(input) (async: it may hash the file), get, list, remove. */
  get artifacts(): ArtifactRepository {
    this.#open();
    return this.#artifacts;
  }

  /** The audit log: append(entry), query({ since, until, actor, action, limit }), verify(). */
  get audit(): AuditRepository {
    this.#open();
    return this.#audit;
  }

  /** User preferences: get(key), set(key, value), delete(key), all(), define(key, zodSchema). */
  get prefs(): PreferenceRepository {
    this.#open();
    return this.#prefs;
  }

  /** The session_cache rows (the SessionCache's metadata); writes belong inside transaction(). */
  get cacheEntries(): CacheMetaRepository {
    this.#open();
    return this.#cacheEntries;
  }

  /** The connection's pragmas as SQLite reports them (journal mode, synchronous, busy timeout ...). */
  settings(): ConnectionSettings {
    this.#open();
    return this.#conn.settings();
  }

  /** Optimizes, checkpoints the WAL away, finalizes every statement and closes. Idempotent. */
  close(): void {
    if (defaultDatabase === this) defaultDatabase = undefined;
    this.#maintenance?.stopMaintenance();
    this.#conn.close();
  }

  #open(): BarRepository {
    this.#conn.assertOpen();
    return this.#bars;
  }
}

export function openDatabase(options?: DatabaseOptions): Database {
  return new Database(options);
}

let defaultDatabase: Database | undefined;

/** The process-wide default database ($TRADELITE_DB, else ./data/trading.db), opened on first use. */
export function getDatabase(): Database {
  defaultDatabase ??= openDatabase();
  return defaultDatabase;
}

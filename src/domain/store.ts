/**
 * The backend-neutral Store: the embedded Database's method set, promise-returning. The HTTP API
 * and the scripts are written against this, so they run on any backend. Types only.
 */
import type { Bar, BarColumns, BarInput } from "./bar.ts";
import type { BarQuery, BarTimestamp, RangeQuery, TimeRange } from "./query.ts";
import type { z } from "zod";
import type { Artifact, ArtifactInput } from "./artifact.ts";
import type { AuditEntry, AuditInput, AuditVerification } from "./audit.ts";
import type { InsertBarsOptions, RollUpOptions, RollupVerification } from "./audit-rollup.ts";
import type { CheckpointMode, CheckpointResult, IntegrityResult, MaintenanceStats, StorageInfo } from "./maintenance.ts";
import type { Metric, MetricLabels, MetricSummary } from "./metric.ts";
import type { Preference } from "./preference.ts";
import type { Quote, QuoteColumns, QuoteInput } from "./quote.ts";
import type { SettingsRequest, SettingsUpdateOptions, StoreSettings } from "./settings.ts";
import type { TimestampInput } from "./time.ts";
import type { CalendarData, CalendarDay, CalendarSummary } from "./calendar.ts";
import type { Completeness } from "./session.ts";
import type { SeriesOptions } from "./daily.ts";
import type { CrossSection, CrossSectionQuery } from "./cross-section.ts";
import type { AdjustmentFactor } from "./adjustment.ts";
import type { CorporateAction } from "./corporate-action.ts";
import type { AdjustmentFactorRow, InsertActionsOptions, StoredCorporateAction } from "./adjustment-writes.ts";
import type { BarWatch, WatchOptions } from "./watch.ts";
import type { Instrument, InstrumentInput, InstrumentQuery, InstrumentStatusRow } from "./instrument.ts";

/** One stored series of a symbol: its bar count and the epoch ms of its first and last bar. */
export interface SeriesOverview {
  count: number;
  start: number;
  end: number;
}

/**
 * What the store holds for one symbol. `count`, `start` and `end` describe the bars as written
 * (market_data: minutes), as they always have; `daily` is there when the symbol has stored daily
 * bars. A symbol with daily bars only has count 0 and start and end null.
 */
export interface SymbolOverview {
  symbol: string;
  count: number;
  start: number | null;
  end: number | null;
  daily?: SeriesOverview;
  /**
   * With `overview({ completeness: true })`, for a symbol that has a calendar: the one-minute
   * bars its sessions call for from its first stored bar's trading day to its last's, and how
   * many of those are not stored (what completeness() reports, summed over the days).
   */
  expected?: number;
  missing?: number;
}

/** What overview() is asked for besides the stored series. */
export interface OverviewOptions {
  /**
   * Adds `expected` and `missing` to every symbol with a calendar. It reads every stored minute
   * of every symbol (completeness() per symbol), so it costs what `tradelite gaps --all` does;
   * without it, overview reads what it always read.
   */
  completeness?: boolean;
}

export interface MetricQuery {
  since?: TimestampInput;
  until?: TimestampInput;
  labels?: MetricLabels;
}

/** Recovery metrics, the same on every backend. */
export interface MetricStore {
  record(name: string, value: number, labels?: MetricLabels): Promise<Metric>;
  query(name: string, query?: MetricQuery): Promise<Metric[]>;
  summary(name: string): Promise<MetricSummary>;
}

/** User preferences, the same on every backend. */
export interface PreferenceStore {
  /** Registers a zod schema that set(key, ...) validates against, in this process. */
  define(key: string, schema: z.ZodType): void;
  get(key: string): Promise<Preference | null>;
  set(key: string, value: unknown): Promise<Preference>;
  delete(key: string): Promise<boolean>;
  all(): Promise<Preference[]>;
}

export interface AuditQuery {
  since?: TimestampInput;
  until?: TimestampInput;
  actor?: string;
  action?: string;
  limit?: number;
}

/** The audit log, the same on every backend. */
export interface AuditStore {
  append(input: AuditInput): Promise<AuditEntry>;
  query(query?: AuditQuery): Promise<AuditEntry[]>;
  /** The newest entry's id and hash; pass it to a later verify() to catch a truncation. */
  head(): Promise<{ id: number; hash: string } | null>;
  verify(options?: { head?: { id: number; hash: string } }): Promise<AuditVerification>;
  /**
   * Closes the open rollup of live appends (src/domain/audit-rollup.ts) of `symbol`, or of every
   * symbol, into entries now; `due: true` only those open for the store's auditRollupMs or longer
   * (what maintenance closes). Resolves with how many were written.
   */
  rollUp(options?: RollUpOptions): Promise<number>;
  /** Re-digests the bars every rollup recorded: with verify(), the stored bars are the ones recorded. */
  verifyRollups(): Promise<RollupVerification>;
}

/** Model artifact metadata, the same on every backend. */
export interface ArtifactStore {
  /** `{ readFile: false }` records the metadata as given without touching the file. */
  register(input: ArtifactInput, options?: { readFile?: boolean }): Promise<Artifact>;
  get(name: string, version?: string): Promise<Artifact | null>;
  list(query?: { name?: string; tag?: string }): Promise<Artifact[]>;
  remove(name: string, version: string): Promise<boolean>;
}

/** Maintenance, the same on every backend (a backend answers what it cannot do with a clear error). */
export interface MaintenanceStore {
  checkpoint(mode?: CheckpointMode): Promise<CheckpointResult>;
  optimize(): Promise<{ durationMs: number }>;
  vacuum(options?: { incremental?: boolean }): Promise<{ freedPages: number; durationMs: number }>;
  integrityCheck(options?: { quick?: boolean }): Promise<IntegrityResult>;
  backup(toPath: string): Promise<{ path: string; bytes: number; durationMs: number }>;
  /** Path, journal mode and size, without counting rows (what a health check reads). */
  info(): Promise<StorageInfo>;
  stats(): Promise<MaintenanceStats>;
}

/** Exchange calendars as stored (XSHG and XSHE are loaded when a database is created). */
export interface CalendarStore {
  list(): Promise<CalendarSummary[]>;
  get(name: string): Promise<CalendarData | null>;
  /** Creates or replaces a whole calendar; audited. */
  put(data: CalendarData): Promise<CalendarSummary>;
  /** Replaces one year's trading days of a stored calendar (next year's holidays); audited. */
  replaceYear(name: string, year: number, days: readonly CalendarDay[]): Promise<CalendarSummary>;
  /** The calendar a symbol follows: its own entry, else the database's default; null when neither. */
  of(symbol: string): Promise<string | null>;
  /** Gives a symbol its own calendar, or (null) takes it away; audited. */
  assign(symbol: string, name: string | null): Promise<void>;
}

/**
 * Adjustment factors and corporate actions, the same on every backend (src/domain/adjusted-reads.ts
 * holds their rules). Rows are never changed: a correction is a row with a later knownAt.
 */
export interface AdjustmentStore {
  /**
   * Writes factor rows (knownAt defaults to the date's local midnight, source to "manual") in one
   * transaction with one audit entry; resolves with the rows written. A row identical to a stored
   * one is skipped; one with a stored row's date and knownAt but another factor is refused.
   */
  insert(symbol: string, rows: readonly AdjustmentFactorRow[]): Promise<number>;
  /** The symbol's rows ascending by (date, knownAt); with `asOf`, only those known by then. */
  list(symbol: string, options?: { asOf?: TimestampInput }): Promise<AdjustmentFactor[]>;
  /**
   * Stores corporate actions and the factors computed from every action in force with the raw
   * close the store holds before each ex-date; resolves with the computed factors. Audited;
   * nothing written on any error.
   */
  insertActions(symbol: string, actions: readonly CorporateAction[], options?: InsertActionsOptions): Promise<AdjustmentFactor[]>;
  /** The symbol's stored actions ascending by (date, knownAt). */
  listActions(symbol: string): Promise<StoredCorporateAction[]>;
}

/**
 * Instruments and their status history (src/domain/instrument.ts holds the rules), the same on
 * every backend. Symbols are read by the store's symbol rule (normalized when the database's
 * normalizeSymbols setting is on).
 */
export interface InstrumentStore {
  /**
   * Upserts whole rows on symbol (a field left out takes its default from the board and
   * exchange); all or nothing, one audit entry per call. Resolves with the rows as stored.
   */
  put(rows: readonly InstrumentInput[]): Promise<Instrument[]>;
  get(symbol: string): Promise<Instrument | null>;
  /** Whether an instrument is stored for the symbol (what an importer asks before writing). */
  has(symbol: string): Promise<boolean>;
  /** Sorted by symbol; `status` filters on the status in force at `asOf` (default today). */
  list(query?: InstrumentQuery): Promise<Instrument[]>;
  /**
   * Upserts status rows on date for a stored instrument (NotFoundError otherwise); one audit
   * entry. Resolves with the symbol's whole history, by date.
   */
  setStatus(symbol: string, rows: readonly InstrumentStatusRow[]): Promise<InstrumentStatusRow[]>;
  /** The symbol's status history by date (NotFoundError for a symbol with no instrument). */
  statusHistory(symbol: string): Promise<InstrumentStatusRow[]>;
}

export interface CompletenessQuery {
  /** Inclusive; the first stored bar's day when omitted. */
  start?: TimestampInput;
  /** Inclusive; the last stored bar's day when omitted. */
  end?: TimestampInput;
}

export type BackendName = "sqlite" | "sqlite-worker" | "postgres";

export interface Store {
  readonly backend: BackendName;
  /**
   * The IANA zone the database stores: naive timestamps and date-only bounds are read in it, and
   * day/week buckets follow it.
   */
  readonly timezone: string;
  /** Where the stored bars are stamped within their interval, as the database stores it. */
  readonly barTimestamp: BarTimestamp;
  /** The database's default calendar, or null. */
  readonly calendar: string | null;
  /** Whether every method's symbol is normalized (`sh600519` -> `600519.SH`), as stored. */
  readonly normalizeSymbols: boolean;
  /**
   * Changes stored settings: one audit entry per changed setting, in one transaction; resolves
   * with the settings now stored. A change of bar stamping is refused while bars are stored,
   * unless `options.restamp` names the interval they cover: then every bar in market_data moves
   * by it in the same transaction (one audit entry, which counts them), and write-through
   * session caches rebuild from the moved bars on their next use.
   */
  updateSettings(change: SettingsRequest, options?: SettingsUpdateOptions): Promise<StoreSettings>;
  /**
   * The same store (same connection, same data) whose mutations the audit log attributes to
   * `actor` instead of the store's `actor` option. Closing the view closes the store.
   */
  withActor(actor: string): Store;
  /**
   * Upserts bars on (symbol, timestamp) in one transaction; returns the rows written.
   * `{ interval: "1d" }` writes the stored daily series, each bar stamped at its date's local midnight.
   */
  insertBars(symbol: string, bars: readonly BarInput[] | BarColumns, options?: InsertBarsOptions): Promise<number>;
  getBars(symbol: string, query?: BarQuery): Promise<Bar[]>;
  /** The same rows as getBars, streamed in pages instead of materialised. */
  iterateBars(symbol: string, query?: BarQuery): AsyncIterable<Bar>;
  latestBar(symbol: string): Promise<Bar | null>;
  /** Deletes bars in the inclusive range; `{ interval: "1d" }` from the stored daily series. */
  deleteBars(symbol: string, range?: TimeRange, options?: SeriesOptions): Promise<number>;
  /**
   * Each symbol's latest bar at or before `query.at` (every stored symbol, or `query.symbols`),
   * sorted by symbol, with the named symbols that have none listed as `missing`; one query of
   * index seeks per backend (src/domain/cross-section.ts).
   */
  getCrossSection(query: CrossSectionQuery): Promise<CrossSection>;
  overview(options?: OverviewOptions): Promise<SymbolOverview[]>;
  /**
   * Builds the derived days (what `1d`, `1w` and `1M` reads take: src/domain/derived-days.ts)
   * of every symbol with minutes whose days are not built yet, one symbol per transaction; a
   * database migrated to derived days otherwise builds a symbol at its first insertBars.
   * Resolves with the symbols built (0 when every one is).
   */
  buildDerivedDays(): Promise<number>;
  /** Which of a symbol's one-minute bars its calendar's sessions call for, and which are missing. */
  completeness(symbol: string, query?: CompletenessQuery): Promise<Completeness>;
  insertQuotes(symbol: string, quotes: readonly QuoteInput[] | QuoteColumns): Promise<number>;
  getQuotes(symbol: string, query?: RangeQuery): Promise<Quote[]>;
  /**
   * Bars as they are stored, by this store or any other writer of the same database, as an
   * async iterator of events (src/domain/watch.ts): each new or changed bar once, per change in
   * timestamp order; with `interval`, each resampled bar as it forms and once more when final.
   * `since` (an event's cursor) replays what was stored after it first, then goes live.
   * Options are checked when it is called; `since` when it starts (`ready`).
   */
  watch(options?: WatchOptions): BarWatch;
  readonly metrics: MetricStore;
  readonly prefs: PreferenceStore;
  readonly audit: AuditStore;
  readonly artifacts: ArtifactStore;
  readonly maintenance: MaintenanceStore;
  readonly calendars: CalendarStore;
  readonly adjustments: AdjustmentStore;
  readonly instruments: InstrumentStore;
  close(): Promise<void>;
}

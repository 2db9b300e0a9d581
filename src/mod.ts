/**
 * tradelite: Bun-native persistence for trading systems (ADR 0001). The package root
 * (`tradelite`): the store, its types and its errors, what an app needs to read and write. The
 * rest has its own door (src/entries/: tradelite/api, /cache, /postgres, /import, /migrate,
 * /client), the way Hono keeps two names at its root. Re-exports only.
 */
export { openDatabase, getDatabase, Database } from "./sqlite/database.ts";
export { openStore, type StoreOptions } from "./store.ts";
export type { DatabaseOptions } from "./config.ts";
export type { ConnectionSettings } from "./sqlite/connection.ts";
export type { WorkerStoreOptions } from "./worker/store.ts";
export {
  TradeliteError,
  ValidationError,
  NotFoundError,
  ConflictError,
  StorageError,
  type Issue,
  type StorageErrorCode,
} from "./domain/errors.ts";
export type {
  Store,
  CalendarStore,
  CompletenessQuery,
  SymbolOverview,
  SeriesOverview,
  OverviewOptions,
  BackendName,
  MetricStore,
  MetricQuery,
  PreferenceStore,
  AuditStore,
  AuditQuery,
  ArtifactStore,
  MaintenanceStore,
  AdjustmentStore,
} from "./domain/store.ts";
export type { BarEvent, BarWatch, WatchOptions } from "./domain/watch.ts";
export { adjustBars, ADJUST_MODES, type AdjustMode, type AdjustOptions } from "./domain/adjusted-bars.ts";
export { factorAt, validateFactors, type AdjustmentFactor } from "./domain/adjustment.ts";
export { factorsFromActions, type CorporateAction } from "./domain/corporate-action.ts";
export type { AdjustmentFactorRow, InsertActionsOptions, StoredCorporateAction } from "./domain/adjustment-writes.ts";
export { validateBars, type Bar, type BarInput, type BarColumns } from "./domain/bar.ts";
export { validateQuotes, type Quote, type QuoteInput, type QuoteColumns } from "./domain/quote.ts";
export {
  INTERVALS,
  ALIGNS,
  FILLS,
  BAR_SOURCES,
  type Interval,
  type Align,
  type Fill,
  type BarSource,
  type BarQuery,
  type RangeQuery,
  type TimeRange,
  type BarTimestamp,
  type Order,
} from "./domain/query.ts";
export {
  dailyDifferences,
  DAILY_DIFF_TOLERANCE,
  STORED_INTERVALS,
  type DailyDifference,
  type DailyDiffOptions,
  type DailyReader,
  type SeriesOptions,
  type StoredInterval,
} from "./domain/daily.ts";
export {
  CROSS_SECTION_INTERVALS,
  MAX_CROSS_SECTION_SYMBOLS,
  type CrossSection,
  type CrossSectionInterval,
  type CrossSectionQuery,
  type CrossSectionRow,
} from "./domain/cross-section.ts";
export type { Artifact, ArtifactInput, RegisterOptions } from "./domain/artifact.ts";
export type { AuditEntry, AuditInput, AuditVerification } from "./domain/audit.ts";
export { barsDigest, DEFAULT_AUDIT_ROLLUP_MS, LIVE_BATCH_MAX_ROWS, ROLLUP_ACTION } from "./domain/audit-rollup.ts";
export type { AuditGrain, InsertBarsOptions, RollUpOptions, RollupDetails, RollupMismatch, RollupVerification } from "./domain/audit-rollup.ts";
export type { Preference, JsonValue } from "./domain/preference.ts";
export type { Metric, MetricLabels, MetricSummary } from "./domain/metric.ts";
export { CHECKPOINT_MODES, type CheckpointMode, type CheckpointResult, type IntegrityResult, type MaintenanceStats, type StorageInfo } from "./domain/maintenance.ts";
export type { CalendarData, CalendarDay, CalendarSummary, Session, SessionRule } from "./domain/calendar.ts";
export type { Completeness, DayCompleteness, MissingRange } from "./domain/session.ts";
export {
  RESTAMP_INTERVALS,
  type RestampInterval,
  type SettingName,
  type SettingsRequest,
  type SettingsUpdateOptions,
  type StoreSettings,
} from "./domain/settings.ts";
export { assertSymbol, isSymbol, MAX_SYMBOL_LENGTH } from "./domain/symbol.ts";
export { BOARDS, INSTRUMENT_STATUSES, priceLimitOn, type Board, type Instrument, type InstrumentInput, type InstrumentQuery, type InstrumentStatus, type InstrumentStatusRow } from "./domain/instrument.ts";
export { EXCHANGES, normalizeSymbol, type Exchange, type NormalizeSymbolOptions } from "./domain/instrument-symbol.ts";
export { toEpochMs, type TimestampInput } from "./domain/time.ts";

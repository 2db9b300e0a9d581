/**
 * tradelite: Bun-native persistence for trading systems (ADR 0001). The public API; re-exports only.
 */
export { openDatabase, getDatabase, Database } from "./sqlite/database.ts";
export { openStore, type StoreOptions } from "./store.ts";
export { createApp, defaultBackupDir, type ApiOptions } from "./api/app.ts";
export { startServer, type ServerOptions, type RunningServer } from "./api/server.ts";
export { LOCAL_ACTOR, type ApiToken } from "./api/security.ts";
export type { ConnectionSettings } from "./sqlite/connection.ts";
export { createSqliteStore } from "./sqlite/store.ts";
export { createWorkerStore, workersOf, WORKER_RESTART_METRIC, type WorkerStoreOptions } from "./worker/store.ts";
export { SCHEMA_VERSION } from "./sqlite/migrations.ts";
export {
  SessionCache,
  RECOVERY_METRIC,
  type SessionCacheOptions,
  type StoreBarsResult,
  type CacheCallOptions,
  type CompactionResult,
} from "./cache/session-cache.ts";
export { cacheFileName, symbolOfCacheFile } from "./cache/file-name.ts";
export { CSV_HEADER } from "./cache/csv.ts";
export type { CacheEntry, CacheRecoveryEvent, CacheRecoveryKind, CacheService } from "./domain/cache.ts";
export {
  resolveDatabaseOptions,
  resolveServerSettings,
  isLoopbackHost,
  DEFAULT_API_HOST,
  DEFAULT_API_PORT,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_SHUTDOWN_GRACE_MS,
  type ServerSettings,
  DEFAULT_DB_PATH,
  DEFAULT_CACHE_DIR,
  CACHE_DEFAULTS,
  type DatabaseOptions,
  type SessionCacheSettings,
} from "./config.ts";
export {
  dailyDifferences,
  compareDaily,
  DAILY_DIFF_TOLERANCE,
  STORED_INTERVALS,
  type DailyDifference,
  type DailyDiffOptions,
  type DailyReader,
  type SeriesOptions,
  type StoredInterval,
} from "./domain/daily.ts";
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
} from "./domain/store.ts";
export {
  CHECKPOINT_MODES,
  type CheckpointResult,
  type IntegrityResult,
  type MaintenanceStats,
  type StorageInfo,
  type CheckpointMode,
} from "./domain/maintenance.ts";
export { ArtifactSchema, type Artifact, type ArtifactInput, type RegisterOptions } from "./domain/artifact.ts";
export {
  AuditEntrySchema,
  GENESIS_HASH,
  type AuditEntry,
  type AuditInput,
  type AuditVerification,
} from "./domain/audit.ts";
export { canonicalJson } from "./domain/json.ts";
export {
  PreferenceSchema,
  MAX_PREFERENCE_BYTES,
  type Preference,
  type JsonValue,
} from "./domain/preference.ts";
export { MetricSchema, type Metric, type MetricLabels, type MetricSummary } from "./domain/metric.ts";
export { validateBars, BarSchema, type Bar, type BarInput, type BarColumns } from "./domain/bar.ts";
export { validateQuotes, QuoteSchema, type Quote, type QuoteInput, type QuoteColumns } from "./domain/quote.ts";
export {
  Calendar,
  parseCalendarFile,
  parseSessions,
  formatSessions,
  type CalendarData,
  type CalendarDay,
  type CalendarSummary,
  type Session,
  type SessionRule,
} from "./domain/calendar.ts";
export { shippedCalendar, SHIPPED_CALENDARS } from "./domain/calendars/index.ts";
export type { Completeness, DayCompleteness, MissingRange } from "./domain/session.ts";
export {
  INTERVALS,
  ALIGNS,
  type Align,
  FILLS,
  type Fill,
  BAR_SOURCES,
  type BarSource,
  IntervalSchema,
  type Interval,
  type BarQuery,
  type RangeQuery,
  type TimeRange,
  type BarTimestamp,
  type Order,
} from "./domain/query.ts";
export { assertSymbol, isSymbol, symbolProblem, MAX_SYMBOL_LENGTH } from "./domain/symbol.ts";
export { toEpochMs, toRangeBound, formatIsoUtc, formatIsoLocal, assertTimeZone, type TimestampInput, type RangeSide } from "./domain/time.ts";
export {
  DEFAULT_SETTINGS,
  SETTING_KEYS,
  SETTING_NAMES,
  readSettingsRequest,
  settingNameOfKey,
  RESTAMP_INTERVALS,
  type RestampInterval,
  type SettingsUpdateOptions,
  type StoreSettings,
  type SettingsRequest,
  type SettingName,
} from "./domain/settings.ts";
export {
  importBarFile,
  mapHeader,
  BarFileError,
  type BarFileOptions,
  type BarFileSummary,
  type BadRow,
  type HeaderMap,
} from "./import/bar-file.ts";
export { CSV_HEADER_LINE, formatBarCsv, formatBarCsvIn } from "./domain/bar-format.ts";
export {
  TradeliteError,
  ValidationError,
  NotFoundError,
  ConflictError,
  StorageError,
  type Issue,
} from "./domain/errors.ts";
export {
  PostgresPool,
  resolvePostgresUrl,
  redactUrl,
  type PostgresOptions,
} from "./postgres/connection.ts";
export {
  copySqliteToPostgres,
  compareSqliteWithPostgres,
  COPIED_TABLES,
  type CopyOptions,
  type CopyProgress,
  type CopySummary,
  type Difference,
} from "./migrate/sqlite-to-postgres.ts";
export type { PostgresStoreOptions } from "./postgres/store.ts";

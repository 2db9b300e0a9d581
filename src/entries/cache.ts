/**
 * tradelite/cache: the per-symbol CSV session cache over a store, and the file naming that maps
 * a symbol to its file and back. Re-exports only.
 */
export {
  SessionCache,
  RECOVERY_METRIC,
  type SessionCacheOptions,
  type StoreBarsResult,
  type CacheCallOptions,
  type CompactionResult,
} from "../cache/session-cache.ts";
export { cacheFileName, symbolOfCacheFile } from "../cache/file-name.ts";
export { CSV_HEADER } from "../cache/csv.ts";
export type { CacheEntry, CacheRecoveryEvent, CacheRecoveryKind, CacheService } from "../domain/cache.ts";
export { DEFAULT_CACHE_DIR, CACHE_DEFAULTS, type SessionCacheSettings } from "../config.ts";

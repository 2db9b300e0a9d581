/**
 * The session cache's metadata row and its recovery events. Types only.
 */
import type { Bar, BarColumns, BarInput } from "./bar.ts";
import type { TimeRange } from "./query.ts";

/**
 * One row of `session_cache`: the ADR's columns, then what the cache needs to keep them true.
 * Timestamps are epoch ms UTC.
 */
export interface CacheEntry {
  symbol: string;
  /** When the file last changed. */
  last_updated: number;
  /** Data rows in the file (the header is not counted). */
  row_count: number;
  /** Relative to the cache folder. */
  file_path: string;
  /** Lowercase hex SHA-256 of the file's bytes. */
  checksum: string;
  size_bytes: number;
  /** storeBars calls since the last compaction (a call is one write, whatever its size). */
  writes_since_compaction: number;
  last_compacted: number | null;
  /** Oldest and newest bar in the file; null when it holds none. */
  first_timestamp: number | null;
  last_timestamp: number | null;
  /**
   * From this timestamp on, the file holds every bar market_data holds for the symbol, so reads
   * at or after it are served from the file; null when nothing is covered yet.
   */
  covered_from: number | null;
  /** Bumped by every write to the symbol's market_data rows. */
  market_version: number;
  /** market_version when the file was last known to be in step with market_data. */
  file_version: number;
}

export type CacheRecoveryKind =
  | "temp-file-removed"
  | "unacknowledged-tail-dropped"
  | "partial-line-dropped"
  | "rebuilt-from-database"
  | "salvaged"
  | "resynced-with-database";

/** What the cache noticed and did about a file that did not match its metadata. */
export interface CacheRecoveryEvent {
  kind: CacheRecoveryKind;
  symbol: string;
  /** Why: what disagreed (size, checksum, a leftover temporary file, a direct database write). */
  reason: string;
  /** Data rows in the file after the repair. */
  rows: number;
  /** Lines dropped from the file (unacknowledged or unreadable), when any were. */
  droppedLines?: number;
}

/**
 * What the HTTP API needs of a session cache (SessionCache has it), so the API depends on this
 * shape rather than on the cache's implementation.
 */
export interface CacheService {
  storeBars(
    symbol: string,
    bars: readonly BarInput[] | BarColumns,
    options?: { actor?: string },
  ): Promise<{ written: number; compacted: boolean }>;
  getBars(symbol: string, range?: TimeRange): Promise<Bar[]>;
  compact(symbol: string, options?: { actor?: string }): Promise<{ rowsBefore: number; rowsAfter: number; bytesBefore: number; bytesAfter: number }>;
  stats(symbol: string): Promise<CacheEntry | null>;
  list(): Promise<CacheEntry[]>;
}

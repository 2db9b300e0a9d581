/**
 * What maintenance reports. Types only, shared by every backend.
 */

export const CHECKPOINT_MODES = ["PASSIVE", "FULL", "RESTART", "TRUNCATE"] as const;
export type CheckpointMode = (typeof CHECKPOINT_MODES)[number];

export interface CheckpointResult {
  mode: CheckpointMode;
  /** True when a reader or writer kept the checkpoint from finishing. */
  busy: boolean;
  /** Frames in the WAL, and how many of them are now in the database file. */
  walFrames: number;
  checkpointedFrames: number;
  durationMs: number;
}

export interface IntegrityResult {
  ok: boolean;
  /** SQLite's messages; empty when ok. */
  problems: string[];
  durationMs: number;
}

/** Where the data lives and how big it is: cheap to read (no row counts). */
export interface StorageInfo {
  /** The database file (SQLite) or the server and database (PostgreSQL, no password). */
  path: string;
  fileBytes: number;
  walBytes: number;
  journalMode: string;
}

export interface MaintenanceStats extends StorageInfo {
  pageSize: number;
  pageCount: number;
  freePages: number;
  rows: Record<string, number>;
}


/**
 * Typed errors. Every error tradelite throws on purpose is one of these, so callers (and the
 * HTTP layer) can act on `code` instead of parsing messages.
 */

/** One problem with one input: which row (batch index), which field, what was expected. */
export interface Issue {
  row?: number;
  field?: string;
  message: string;
}

export class TradeliteError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad input. Nothing was written. `issues` lists every problem found, row by row. */
export class ValidationError extends TradeliteError {
  readonly issues: Issue[];
  constructor(issues: Issue[], summary?: string) {
    super("VALIDATION", summary ?? describeIssues(issues));
    this.issues = issues;
  }
}

export class NotFoundError extends TradeliteError {
  constructor(message: string) {
    super("NOT_FOUND", message);
  }
}

export class ConflictError extends TradeliteError {
  constructor(message: string) {
    super("CONFLICT", message);
  }
}

/**
 * Every code a StorageError carries: tradelite's own, then the engines' (SQLite's result code,
 * a PostgreSQL SQLSTATE after `PG_`, a file system's errno from the session cache). The
 * constructor takes only these, so a new code is listed here, where callers look, or fails
 * typecheck.
 */
export type StorageErrorCode =
  /** An artifact's file could not be read to hash it. */
  | "ARTIFACT_READ"
  /** The audit log's hash chain does not verify. */
  | "AUDIT_CORRUPT"
  /** The session cache's folder cannot be created. */
  | "CACHE_DIR"
  /** The cache file is the only copy (no write-through) and cannot be rebuilt. */
  | "CACHE_ONLY_COPY"
  /** A cache file kept changing while it was read. */
  | "CACHE_UNSTABLE"
  /** A read-only cache found a file it cannot verify. */
  | "CACHE_UNVERIFIED"
  /** The store (or database) is closed. */
  | "CLOSED"
  /** A compaction failed after its append was committed; the bars are stored. */
  | "COMPACTION_FAILED"
  /** The read was cancelled through its `signal` (the HTTP client went away); it stopped where it was. */
  | "CANCELLED"
  /** The link to PostgreSQL failed (not the statement); the pool connects again on the next call. */
  | "CONNECTION"
  /** A file error of the session cache without an errno. */
  | "IO_ERROR"
  /** A worker held too many open iterations and ended the oldest (this one). */
  | "ITERATION_EXPIRED"
  /** The backend cannot do this (a SQLite-only maintenance call on PostgreSQL, ...). */
  | "NOT_SUPPORTED"
  /** Bun.SQL failed without a SQLSTATE. */
  | "POSTGRES"
  /** A worker's queue is full; retry later. */
  | "QUEUE_FULL"
  /** A request waited in a worker's queue past the queue's deadline and was not started; retry later. */
  | "QUEUE_TIMEOUT"
  /** A table exists with another shape than the schema's. */
  | "SCHEMA_MISMATCH"
  /** A read-only open found an older schema; open the file read-write once to migrate it. */
  | "SCHEMA_OUTDATED"
  /** The database was written by a newer tradelite. */
  | "SCHEMA_TOO_NEW"
  /** The stored settings row is unreadable. */
  | "SETTINGS_CORRUPT"
  /** The SQLite source of a migration cannot be opened. */
  | "SOURCE"
  /** A worker reported a storage failure without a code. */
  | "STORAGE"
  /** A migration's target holds rows that are not the source's. */
  | "TARGET_NOT_A_COPY"
  /** A staged upload to a worker did not arrive whole. */
  | "UPLOAD_INCOMPLETE"
  /** The file could not be switched to WAL mode. */
  | "WAL_UNAVAILABLE"
  /** tradelite/client: the server answered 503 (busy), 507 (a full disk) or 500 without the store's own code. */
  | "UNAVAILABLE"
  | "INSUFFICIENT_STORAGE"
  | "INTERNAL"
  /** A worker stopped with this request in it; it has been restarted. */
  | "WORKER_DIED"
  /** A worker could not open the database; it is being restarted. */
  | "WORKER_UNAVAILABLE"
  /** SQLite's own result code (`SQLITE_BUSY`, `SQLITE_FULL`, `SQLITE_READONLY`, ...), or SQLITE_CANTOPEN for a file that cannot be opened. */
  | `SQLITE_${string}`
  /** A PostgreSQL SQLSTATE (`PG_23505`, `PG_42P01`, ...). */
  | `PG_${string}`
  /** A file system errno from the session cache's files (`ENOSPC`, `EACCES`, ...). */
  | `E${Uppercase<string>}`;

/**
 * The storage engine failed or refused. `code` is the engine's own code where there is one
 * (`SQLITE_BUSY`, `SQLITE_FULL`, a PostgreSQL SQLSTATE), or one of ours (`SCHEMA_TOO_NEW`, `CLOSED`).
 */
export class StorageError extends TradeliteError {
  declare readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

const SHOWN_ISSUES = 5;

function describeIssues(issues: Issue[]): string {
  const shown = issues.slice(0, SHOWN_ISSUES).map((issue) => {
    const where = [
      issue.row === undefined ? undefined : `row ${issue.row}`,
      issue.field,
    ].filter(Boolean).join(" ");
    return where ? `${where}: ${issue.message}` : issue.message;
  });
  const more = issues.length > SHOWN_ISSUES ? ` (and ${issues.length - SHOWN_ISSUES} more)` : "";
  return `invalid input: ${shown.join("; ")}${more}`;
}

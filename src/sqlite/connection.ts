/**
 * One bun:sqlite connection, configured as DESIGN.md fixes it, with a registry of the
 * statements prepared on it so `close()` can finalize every one of them.
 */
import { Database as SqliteDatabase, type Statement } from "bun:sqlite";
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { JOURNAL_SIZE_LIMIT_BYTES, type ResolvedDatabaseOptions } from "../config.ts";
import { StorageError, TradeliteError, ValidationError } from "../domain/errors.ts";

export interface Connection {
  readonly sqlite: SqliteDatabase;
  readonly path: string;
  readonly readonly: boolean;
  /** Prepares a fixed SQL text once; the statement is finalized when the connection closes. */
  prepare<Row = unknown>(sql: string): Statement<Row>;
  /**
   * Runs `work` in a BEGIN IMMEDIATE transaction: the write lock is taken up front. Inside
   * another transaction it runs in a savepoint of that one.
   */
  writeTransaction<T>(work: () => T): T;
  /** Told how long BEGIN IMMEDIATE waited for another connection's lock, when it waited long. */
  onBusyWait: ((waitedMs: number) => void) | undefined;
  /**
   * Called after a transaction or a savepoint inside one rolled back, before the error goes on:
   * state kept in memory beside the tables (the live settings) is read again from what is left.
   */
  onRollback: (() => void) | undefined;
  /** The pragmas in force on this connection, read back from SQLite. */
  settings(): ConnectionSettings;
  close(): void;
  /** Throws StorageError CLOSED once the connection is closed (before a finalized statement would). */
  assertOpen(): void;
  /**
   * Switches the file to WAL. Called once the schema has been checked and migrated, so that a
   * file tradelite refuses is never switched. No-op for :memory:, read-only and WAL files.
   */
  useWal(): void;
  /**
   * Closes after a failed open (a refused file) without optimize or checkpoint, so the refused
   * file is left as it was found.
   */
  abandon(): void;
  readonly closed: boolean;
}

export interface ConnectionSettings {
  journalMode: string;
  synchronous: "OFF" | "NORMAL" | "FULL" | "EXTRA";
  busyTimeoutMs: number;
  foreignKeys: boolean;
  tempStore: "DEFAULT" | "FILE" | "MEMORY";
  autoVacuum: "NONE" | "FULL" | "INCREMENTAL";
  journalSizeLimit: number;
  pageSize: number;
  pageCount: number;
}

/** A wait for the write lock this long is worth a recovery metric (busy_timeout is 5 s by default). */
export const BUSY_WAIT_REPORT_MS = 50;

const SYNCHRONOUS = ["OFF", "NORMAL", "FULL", "EXTRA"] as const;
const TEMP_STORE = ["DEFAULT", "FILE", "MEMORY"] as const;
const AUTO_VACUUM = ["NONE", "FULL", "INCREMENTAL"] as const;

/** The value of a read-only pragma (`name` is one of our constants, never input). */
export function readPragma(sqlite: SqliteDatabase, name: string): number | string {
  const row = sqlite.query(`PRAGMA ${name}`).get() as Record<string, number | string>;
  return Object.values(row)[0]!;
}

function readSettings(sqlite: SqliteDatabase): ConnectionSettings {
  const pragma = (name: string) => readPragma(sqlite, name);
  return {
    journalMode: String(pragma("journal_mode")),
    synchronous: SYNCHRONOUS[Number(pragma("synchronous"))]!,
    busyTimeoutMs: Number(pragma("busy_timeout")),
    foreignKeys: Number(pragma("foreign_keys")) === 1,
    tempStore: TEMP_STORE[Number(pragma("temp_store"))]!,
    autoVacuum: AUTO_VACUUM[Number(pragma("auto_vacuum"))]!,
    journalSizeLimit: Number(pragma("journal_size_limit")),
    pageSize: Number(pragma("page_size")),
    pageCount: Number(pragma("page_count")),
  };
}

export function isMemoryPath(path: string): boolean {
  return path === ":memory:" || path === "";
}

export function openConnection(options: ResolvedDatabaseOptions): Connection {
  const { path, readonly } = options;
  if (!isMemoryPath(path) && !path.startsWith("file:")) {
    if (readonly && !existsSync(path)) {
      throw new StorageError("SQLITE_CANTOPEN", `no database file at ${path} (opened read-only, so it is not created)`);
    }
    if (!readonly) {
      try {
        mkdirSync(dirname(path), { recursive: true });
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code ?? "error";
        throw new StorageError("SQLITE_CANTOPEN", `cannot create the folder for ${path} (${reason})`, { cause: error });
      }
    }
  }
  const sqlite = guard(() =>
    readonly
      ? new SqliteDatabase(path, { readonly: true, strict: true })
      : new SqliteDatabase(path, { create: true, readwrite: true, strict: true }),
  );
  try {
    configure(sqlite, options);
  } catch (error) {
    sqlite.close(false);
    throw toStorageError(error);
  }
  const statements: Statement[] = [];
  let closed = false;
  const begin = sqlite.transaction((work: () => unknown) => work());
  // The outermost transaction is run by hand, to time how long BEGIN IMMEDIATE waits for a lock.
  const beginImmediate = sqlite.prepare("BEGIN IMMEDIATE");
  const commit = sqlite.prepare("COMMIT");
  const rollback = sqlite.prepare("ROLLBACK");
  statements.push(beginImmediate, commit, rollback);
  return {
    sqlite,
    path,
    readonly,
    prepare<Row>(sql: string): Statement<Row> {
      const statement = guard(() => sqlite.prepare(sql)) as unknown as Statement<Row>;
      statements.push(statement as unknown as Statement);
      return statement;
    },
    onBusyWait: undefined,
    onRollback: undefined,
    writeTransaction<T>(work: () => T): T {
      if (typeof work !== "function") throw new ValidationError([{ field: "work", message: "expected a function" }]);
      // Nested: Bun's transaction wrapper turns it into a savepoint.
      if (sqlite.inTransaction) {
        try {
          return guard(() => begin.immediate(() => synchronous(work())) as T);
        } catch (error) {
          // Bun's wrapper rolled back to the savepoint; the outer transaction goes on.
          this.onRollback?.();
          throw error;
        }
      }
      const started = performance.now();
      guard(() => beginImmediate.run());
      const waitedMs = performance.now() - started;
      let result: T;
      try {
        result = synchronous(work());
        guard(() => commit.run());
      } catch (error) {
        if (sqlite.inTransaction) guard(() => rollback.run());
        this.onRollback?.();
        throw toStorageError(error);
      }
      if (waitedMs >= BUSY_WAIT_REPORT_MS) this.onBusyWait?.(waitedMs);
      return result;
    },
    get closed() {
      return closed;
    },
    assertOpen() {
      if (closed) throw new StorageError("CLOSED", `database ${path} is closed`);
    },
    settings() {
      return guard(() => readSettings(sqlite));
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        if (!readonly) {
          // Let SQLite gather the statistics the planner wants, then fold the WAL back into the
          // main file so a clean close leaves one file to copy. Both are best-effort: while
          // another process holds the lock they fail with SQLITE_BUSY, and the WAL simply stays
          // for the next checkpoint (the last connection to close removes it).
          bestEffort(() => sqlite.run("PRAGMA optimize"));
          bestEffort(() => sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)"));
        }
      } finally {
        for (const statement of statements) statement.finalize();
        statements.length = 0;
        sqlite.close(false);
      }
    },
    useWal() {
      if (readonly || isMemoryPath(path)) return;
      if (String(readPragma(sqlite, "journal_mode")).toLowerCase() !== "wal") switchToWal(sqlite, options);
    },
    abandon() {
      if (closed) return;
      closed = true;
      for (const statement of statements) statement.finalize();
      statements.length = 0;
      sqlite.close(false);
    },
  };
}

/**
 * busy_timeout comes first so that everything after it waits for a lock held by another
 * process instead of failing with SQLITE_BUSY. WAL comes later, from useWal().
 */
function configure(sqlite: SqliteDatabase, options: ResolvedDatabaseOptions): void {
  sqlite.run(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs)}`);
  if (options.readonly) {
    sqlite.run("PRAGMA query_only = ON");
    return;
  }
  // auto_vacuum can only be chosen before the first table exists (or by a full VACUUM).
  if (readPragma(sqlite, "page_count") === 0) sqlite.run("PRAGMA auto_vacuum = INCREMENTAL");
  sqlite.run(`PRAGMA synchronous = ${options.synchronous === "FULL" ? "FULL" : "NORMAL"}`);
  sqlite.run("PRAGMA foreign_keys = ON");
  sqlite.run("PRAGMA temp_store = MEMORY");
  sqlite.run(`PRAGMA journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
}

/**
 * Switching to WAL needs an exclusive lock, and SQLite does not call the busy handler for it:
 * when several processes open a new file at once, the losers get SQLITE_BUSY at once. Retry
 * until busy_timeout has passed, as every other lock wait does.
 */
function switchToWal(sqlite: SqliteDatabase, options: ResolvedDatabaseOptions): void {
  const deadline = performance.now() + options.busyTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const mode = (sqlite.query("PRAGMA journal_mode = WAL").get() as { journal_mode: string }).journal_mode;
      if (mode.toLowerCase() === "wal") return;
      throw new StorageError("WAL_UNAVAILABLE", `could not switch ${options.path} to WAL mode (journal_mode is ${mode})`);
    } catch (error) {
      const code = (error as { code?: string }).code ?? "";
      if (!code.startsWith("SQLITE_BUSY") || performance.now() >= deadline) throw error;
      // A synchronous pause: opening is synchronous, and the wait is short and bounded.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(2 ** attempt, 50));
    }
  }
}

/**
 * A transaction commits when its function returns; an async function returns at its first
 * await, and the writes after it would run outside the transaction. Refused, so it rolls back.
 */
function synchronous<T>(result: T): T {
  if (typeof (result as { then?: unknown } | null)?.then === "function") {
    throw new ValidationError([
      { field: "work", message: "a transaction's function must be synchronous (it returned a promise); nothing was committed" },
    ]);
  }
  return result;
}

function bestEffort(work: () => unknown): void {
  try {
    work();
  } catch {
    // Deliberately ignored; see the caller.
  }
}

/** Runs `work`, turning a SQLite error into a StorageError that carries SQLite's code. */
export function guard<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw toStorageError(error);
  }
}

export function toStorageError(error: unknown): unknown {
  if (error instanceof TradeliteError) return error;
  if (error instanceof Error && error.name === "SQLiteError") {
    // bun:sqlite's SQLiteError carries SQLite's result code name (SQLITE_BUSY, SQLITE_FULL, ...).
    const code = (error as Error & { code?: `SQLITE_${string}` }).code ?? "SQLITE_ERROR";
    return new StorageError(code, `SQLite: ${error.message}`, { cause: error });
  }
  return error;
}

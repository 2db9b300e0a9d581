/**
 * PostgreSQL through Bun's built-in client (Bun.SQL, no driver dependency): the pool, its options,
 * and the one place where the server's errors become the library's. A server error carries its
 * SQLSTATE as the code (`PG_23505`, ...); a connection that cannot be made or is lost is
 * `CONNECTION` (the API answers 503 for it); the pool makes a new connection on the next call.
 */
import { SQL } from "bun";
import { StorageError, TradeliteError, ValidationError } from "../domain/errors.ts";

export interface PostgresOptions {
  /** postgres://user@host:port/database. Default $TRADELITE_DATABASE_URL, then $DATABASE_URL. */
  url?: string;
  /** Connections in the pool. Default 10. */
  max?: number;
  /** Seconds an idle connection is kept. Default 30. */
  idleTimeoutS?: number;
  /** Seconds to wait for a new connection. Default 10. */
  connectionTimeoutS?: number;
}

/** The URL the options or the environment give, or a ValidationError naming what to set. */
export function resolvePostgresUrl(url: string | undefined, env: Record<string, string | undefined> = process.env): string {
  const given = url ?? (env.TRADELITE_DATABASE_URL || undefined) ?? (env.DATABASE_URL || undefined);
  if (given === undefined) {
    throw new ValidationError([{ field: "url", message: "no PostgreSQL URL: pass url, or set TRADELITE_DATABASE_URL or DATABASE_URL" }]);
  }
  if (!/^postgres(ql)?:\/\//.test(given)) throw new ValidationError([{ field: "url", message: "expected a postgres:// URL" }]);
  return given;
}

/** The URL without its password, for messages and `maintenance.info().path`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "postgres://(unreadable URL)";
  }
}

function positive(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > 10_000) throw new ValidationError([{ field, message: "expected a whole number from 1 to 10000" }]);
  return value;
}

/**
 * Every tradelite transaction begins with this, whatever the server's or the role's default
 * (`default_transaction_isolation`): audited mutations and cache writes take an advisory lock and
 * then read the chain's head or the cache's row, which must be what the previous holder
 * committed. Under REPEATABLE READ or SERIALIZABLE the snapshot would date from before the wait
 * (a cache writer then took the previous writer's committed append for an unacknowledged tail
 * and cut it off).
 */
export const READ_COMMITTED = "isolation level read committed";

export class PostgresPool {
  readonly sql: SQL;
  readonly url: string;

  constructor(options: PostgresOptions = {}) {
    this.url = resolvePostgresUrl(options.url);
    this.sql = new SQL({
      url: this.url,
      max: positive(options.max, "max", 10),
      idleTimeout: positive(options.idleTimeoutS, "idleTimeoutS", 30),
      connectionTimeout: positive(options.connectionTimeoutS, "connectionTimeoutS", 10),
    });
  }

  /** Runs `work` on the pool; every failure comes out as one of the library's errors. */
  async run<T>(work: (sql: SQL) => Promise<T>): Promise<T> {
    try {
      return await work(this.sql);
    } catch (error) {
      throw toStorageError(error, this.url);
    }
  }

  close(): Promise<void> {
    return this.sql.close();
  }
}

/**
 * SQLSTATEs that mean the link, not the statement, failed: class 08 (connection exception),
 * 57P01-57P03 (server shut down, crashed, or not yet accepting connections), 53300 (too many
 * connections) and 25P03 (the server ended a transaction left idle too long). They are
 * CONNECTION like a socket error; the pool connects again on the next call. A call that failed
 * so may or may not have committed if the link went during its COMMIT: check before repeating
 * a call that is not idempotent (an audit append, a metric).
 */
const LOST_CONNECTION = /^(08...|57P0[1-3]|53300|25P03)$/;

/** A Bun.SQL error as a StorageError: the SQLSTATE for server errors, CONNECTION for the link. */
export function toStorageError(error: unknown, url: string): TradeliteError {
  if (error instanceof TradeliteError) return error;
  const { code, errno, message } = (error ?? {}) as { code?: string; errno?: string; message?: string };
  if (typeof errno === "string" && /^[0-9A-Z]{5}$/.test(errno)) {
    if (LOST_CONNECTION.test(errno)) {
      return new StorageError("CONNECTION", `PostgreSQL at ${redactUrl(url)}: ${message ?? "connection lost"} (SQLSTATE ${errno})`, { cause: error });
    }
    return new StorageError(`PG_${errno}`, `PostgreSQL: ${message ?? "error"}`, { cause: error });
  }
  if (typeof code === "string" && code.startsWith("ERR_POSTGRES_")) {
    return new StorageError("CONNECTION", `PostgreSQL at ${redactUrl(url)}: ${message ?? code} (${code})`, { cause: error });
  }
  return new StorageError("POSTGRES", `PostgreSQL: ${message ?? String(error)}`, { cause: error });
}

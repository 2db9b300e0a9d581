/**
 * Options and environment, with every default in one place.
 */
import { z } from "zod";
import { ValidationError } from "./domain/errors.ts";
import { BAR_TIMESTAMPS, type BarTimestamp } from "./domain/query.ts";
import { assertTimeZone } from "./domain/time.ts";

export const DEFAULT_DB_PATH = "./data/trading.db";
export const DEFAULT_TIMEZONE = "UTC";
/** How long a writer waits for another connection's lock before SQLITE_BUSY. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;
/** Truncate the WAL back to this size after checkpoints (SQLite's journal_size_limit). */
export const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

export interface DatabaseOptions {
  /** File path, or ":memory:". Default: $TRADELITE_DB, else ./data/trading.db. */
  path?: string;
  /** IANA zone for naive timestamps and day/week buckets. Default UTC. */
  timezone?: string;
  /** NORMAL (default; durable at checkpoints, safe in WAL) or FULL (durable at every commit). */
  synchronous?: "NORMAL" | "FULL";
  readonly?: boolean;
  /** Where stored bars are stamped within the interval they cover. Default "start". */
  barTimestamp?: BarTimestamp;
  /** busy_timeout in ms. Default 5000. */
  busyTimeoutMs?: number;
}

export type ResolvedDatabaseOptions = Required<DatabaseOptions>;

const DatabaseOptionsSchema = z.strictObject({
  path: z.string().min(1).refine((path) => !path.includes("\0"), "must not contain NUL").optional(),
  timezone: z.string().optional(),
  synchronous: z.enum(["NORMAL", "FULL"]).optional(),
  readonly: z.boolean().optional(),
  barTimestamp: z.enum(BAR_TIMESTAMPS).optional(),
  busyTimeoutMs: z.number().int().min(0).max(600_000).optional(),
});

/** Checks options and fills in defaults (the environment included). Throws a ValidationError. */
export function resolveDatabaseOptions(
  options: DatabaseOptions = {},
  env: Record<string, string | undefined> = process.env,
): ResolvedDatabaseOptions {
  const parsed = DatabaseOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ValidationError(
      parsed.error.issues.map((issue) => ({
        field: issue.code === "unrecognized_keys" ? issue.keys.join(", ") : issue.path.join(".") || undefined,
        message: issue.message,
      })),
    );
  }
  const given = parsed.data;
  return {
    path: given.path ?? nonEmpty(env.TRADELITE_DB) ?? DEFAULT_DB_PATH,
    timezone: assertTimeZone(given.timezone ?? DEFAULT_TIMEZONE),
    synchronous: given.synchronous ?? "NORMAL",
    readonly: given.readonly ?? false,
    barTimestamp: given.barTimestamp ?? "start",
    busyTimeoutMs: given.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

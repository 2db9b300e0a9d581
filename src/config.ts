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
  /** Who the audit log names for the store's own mutations. Default "tradelite". */
  actor?: string;
}

export type ResolvedDatabaseOptions = Required<DatabaseOptions>;

const DatabaseOptionsSchema = z.strictObject({
  path: z.string().min(1).refine((path) => !path.includes("\0"), "must not contain NUL").optional(),
  timezone: z.string().optional(),
  synchronous: z.enum(["NORMAL", "FULL"]).optional(),
  readonly: z.boolean().optional(),
  barTimestamp: z.enum(BAR_TIMESTAMPS).optional(),
  busyTimeoutMs: z.number().int().min(0).max(600_000).optional(),
  actor: z.string().min(1).max(128).optional(),
});

/** Checks options and fills in defaults (the environment included). Throws a ValidationError. */
export function resolveDatabaseOptions(
  options: DatabaseOptions = {},
  env: Record<string, string | undefined> = process.env,
): ResolvedDatabaseOptions {
  const parsed = DatabaseOptionsSchema.safeParse(options);
  if (!parsed.success) throw validationErrorOf(parsed.error);
  const given = parsed.data;
  return {
    path: given.path ?? nonEmpty(env.TRADELITE_DB) ?? DEFAULT_DB_PATH,
    timezone: assertTimeZone(given.timezone ?? DEFAULT_TIMEZONE),
    synchronous: given.synchronous ?? "NORMAL",
    readonly: given.readonly ?? false,
    barTimestamp: given.barTimestamp ?? "start",
    busyTimeoutMs: given.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
    actor: given.actor ?? "tradelite",
  };
}

/** A zod error as our ValidationError, each issue naming its option. */
function validationErrorOf(error: z.ZodError): ValidationError {
  return new ValidationError(
    error.issues.map((issue) => ({
      field: issue.code === "unrecognized_keys" ? issue.keys.join(", ") : issue.path.join(".") || undefined,
      message: issue.message,
    })),
  );
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

export const DEFAULT_CACHE_DIR = "./data/session_cache";

/** The ADR's numbers: 240 one-minute bars are one A-share trading day, 12,000 about two months. */
export const CACHE_DEFAULTS = {
  compactEvery: 240,
  retentionDays: 45,
  maxRows: 12_000,
  maxBytes: 8 * 1024 * 1024,
  writeThrough: true,
} as const;

export interface SessionCacheSettings {
  /** Cache folder. Default $TRADELITE_CACHE_DIR, else ./data/session_cache. */
  dir?: string;
  /** Compact a symbol's file every this many storeBars calls. Default 240. */
  compactEvery?: number;
  /** Keep bars no older than this many days before the newest bar. Default 45. */
  retentionDays?: number;
  /** Keep at most this many newest rows. Default 12,000. */
  maxRows?: number;
  /** Keep each file at most this many bytes, dropping the oldest rows. Default 8 MiB. */
  maxBytes?: number;
  /** Also upsert every stored bar into market_data in the same call. Default true. */
  writeThrough?: boolean;
}

export type ResolvedSessionCacheSettings = Required<SessionCacheSettings>;

const SessionCacheSettingsSchema = z.strictObject({
  dir: z.string().min(1).refine((dir) => !dir.includes("\0"), "must not contain NUL").optional(),
  compactEvery: z.number().int().min(1).optional(),
  retentionDays: z.number().positive().finite().optional(),
  maxRows: z.number().int().min(1).optional(),
  // Room for the header and at least one bar.
  maxBytes: z.number().int().min(1024).optional(),
  writeThrough: z.boolean().optional(),
});

export function resolveSessionCacheSettings(
  settings: SessionCacheSettings,
  env: Record<string, string | undefined> = process.env,
): ResolvedSessionCacheSettings {
  const parsed = SessionCacheSettingsSchema.safeParse(settings);
  if (!parsed.success) throw validationErrorOf(parsed.error);
  const given = parsed.data;
  return {
    dir: given.dir ?? nonEmpty(env.TRADELITE_CACHE_DIR) ?? DEFAULT_CACHE_DIR,
    compactEvery: given.compactEvery ?? CACHE_DEFAULTS.compactEvery,
    retentionDays: given.retentionDays ?? CACHE_DEFAULTS.retentionDays,
    maxRows: given.maxRows ?? CACHE_DEFAULTS.maxRows,
    maxBytes: given.maxBytes ?? CACHE_DEFAULTS.maxBytes,
    writeThrough: given.writeThrough ?? CACHE_DEFAULTS.writeThrough,
  };
}

/**
 * Options and environment, with every default in one place.
 */
import { z } from "zod";
import { ValidationError } from "./domain/errors.ts";
import { DEFAULT_AUDIT_ROLLUP_MS, MAX_AUDIT_ROLLUP_MS } from "./domain/audit-rollup.ts";
import { CALENDAR_NAME } from "./domain/calendar.ts";
import { BAR_TIMESTAMPS, type BarTimestamp } from "./domain/query.ts";
import { readSettingsRequest, type SettingsRequest } from "./domain/settings.ts";
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
  /**
   * The database's IANA zone (naive timestamps, date-only bounds, day/week buckets). A new
   * database stores it (default UTC); an existing one must store the same, or opening is
   * refused with an error naming both. Omit it to use whatever the database stores.
   */
  timezone?: string;
  /** NORMAL (default; durable at checkpoints, safe in WAL) or FULL (durable at every commit). */
  synchronous?: "NORMAL" | "FULL";
  readonly?: boolean;
  /** Where stored bars are stamped within the interval they cover (stored like `timezone`). Default "start". */
  barTimestamp?: BarTimestamp;
  /** The default calendar's name, or null for none (stored like `timezone`). Default null. */
  calendar?: string | null;
  /** Normalize symbols (`sh600519` -> `600519.SH`) on write and read (stored like `timezone`). Default false. */
  normalizeSymbols?: boolean;
  /**
   * Settings a new database (or one older than the settings table) is created with where the
   * options above say nothing. Never compared with what a database stores: the CLI passes
   * $TRADELITE_TIMEZONE and $TRADELITE_BAR_TIMESTAMP this way.
   */
  initialSettings?: SettingsRequest;
  /**
   * Accept numbers from 1e8 to 1e11 as epoch-ms timestamps (1970-01-02 to 1973-03-03). Off by
   * default: such a number is nearly always epoch seconds, and is refused ("multiply by 1000").
   */
  allowSecondsLikeTimestamps?: boolean;
  /** busy_timeout in ms. Default 5000. */
  busyTimeoutMs?: number;
  /** Who the audit log names for the store's own mutations. Default "tradelite". */
  actor?: string;
  /**
   * The audit grain of live appends (session cache writes, insertBars of at most 240 minute
   * bars): each symbol's are rolled into one entry per compaction, or per this many ms since the
   * rollup opened (src/domain/audit-rollup.ts). 0: one entry per call. Default one day.
   */
  auditRollupMs?: number;
}

/** The settings options stay undefined when not given: the database's stored values decide. */
export type ResolvedDatabaseOptions = Required<Omit<DatabaseOptions, "timezone" | "barTimestamp" | "calendar" | "normalizeSymbols">> &
  Pick<DatabaseOptions, "timezone" | "barTimestamp" | "calendar" | "normalizeSymbols">;

const DatabaseOptionsSchema = z.strictObject({
  path: z.string().min(1).refine((path) => !path.includes("\0"), "must not contain NUL").optional(),
  timezone: z.string().optional(),
  synchronous: z.enum(["NORMAL", "FULL"]).optional(),
  readonly: z.boolean().optional(),
  barTimestamp: z.enum(BAR_TIMESTAMPS).optional(),
  calendar: z.string().regex(CALENDAR_NAME, "expected a calendar name (a letter, then letters, digits, _ or -, at most 32)").nullable().optional(),
  normalizeSymbols: z.boolean().optional(),
  initialSettings: z.unknown().optional(),
  allowSecondsLikeTimestamps: z.boolean().optional(),
  busyTimeoutMs: z.number().int().min(0).max(600_000).optional(),
  actor: z.string().min(1).max(128).optional(),
  auditRollupMs: z.number().int().min(0).max(MAX_AUDIT_ROLLUP_MS).optional(),
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
    timezone: given.timezone === undefined ? undefined : assertTimeZone(given.timezone),
    synchronous: given.synchronous ?? "NORMAL",
    readonly: given.readonly ?? false,
    barTimestamp: given.barTimestamp,
    calendar: given.calendar,
    normalizeSymbols: given.normalizeSymbols,
    initialSettings: readInitialSettings(given.initialSettings),
    allowSecondsLikeTimestamps: given.allowSecondsLikeTimestamps ?? false,
    busyTimeoutMs: given.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
    actor: given.actor ?? "tradelite",
    auditRollupMs: given.auditRollupMs ?? DEFAULT_AUDIT_ROLLUP_MS,
  };
}

/** `initialSettings` checked as a settings request, its issues under initialSettings.<name>. */
export function readInitialSettings(value: unknown): SettingsRequest {
  if (value === undefined) return {};
  try {
    return readSettingsRequest(value);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(error.issues.map((issue) => ({ ...issue, field: issue.field === undefined ? "initialSettings" : `initialSettings.${issue.field}` })));
  }
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

export const DEFAULT_API_HOST = "127.0.0.1";
export const DEFAULT_API_PORT = 8787;
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
/** How long a stopping server lets requests in flight finish before it closes their connections. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

/**
 * What a token may do: `read` (GET and HEAD), `write` (changes to data: bars, quotes, the
 * cache, artifacts, preferences, metrics, calendars), `admin` (everything under
 * /v1/maintenance: backups, vacuum, checkpoints, stats).
 */
export const TOKEN_SCOPES = ["read", "write", "admin"] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

export interface ApiToken {
  /** Who the audit log names for this token's changes. */
  name: string;
  token: string;
  /** Default all three. */
  scopes?: readonly TokenScope[];
}

/**
 * TRADELITE_TOKENS: `name:scope+scope:token` entries separated by commas
 * (`alice:read+write:...,ops:admin:...`). A token is 16+ characters without whitespace, commas
 * or colons; a name is printable ASCII without those either; names and tokens are unique.
 */
function readTokens(text: string | undefined, issues: { field: string; message: string }[]): ApiToken[] {
  if (text === undefined) return [];
  const tokens: ApiToken[] = [];
  for (const [i, entry] of text.split(",").map((each) => each.trim()).filter(Boolean).entries()) {
    const parts = entry.split(":");
    const problem = (message: string) => issues.push({ field: "TRADELITE_TOKENS", message: `entry ${i + 1}: ${message}` });
    if (parts.length !== 3) {
      problem("expected name:scope+scope:token");
      continue;
    }
    const [name, scopeText, token] = parts as [string, string, string];
    const scopes = scopeText.split("+");
    if (!/^[\x21-\x7e]{1,128}$/.test(name)) problem("a name is 1 to 128 printable ASCII characters");
    const unknown = scopes.filter((scope) => !(TOKEN_SCOPES as readonly string[]).includes(scope));
    if (unknown.length > 0 || scopes.length === 0) problem(`scopes are ${TOKEN_SCOPES.join(", ")} joined with +, got ${JSON.stringify(scopeText.slice(0, 40))}`);
    if (token.length < 16 || /\s/.test(token)) problem("a token is at least 16 characters without whitespace");
    if (tokens.some((known) => known.name === name)) problem(`the name ${name} is used twice`);
    if (tokens.some((known) => known.token === token)) problem("a token is used twice");
    tokens.push({ name, token, scopes: [...new Set(scopes)] as TokenScope[] });
  }
  return tokens;
}

/** How `bun run serve` serves the API, read from the environment. */
export interface ServerSettings {
  host: string;
  port: number;
  /** TRADELITE_TOKEN (every scope) and TRADELITE_TOKENS; empty when neither is set. */
  tokens: ApiToken[];
  allowedHosts: string[];
  corsOrigins: string[];
  maxBodyBytes: number;
  /** Milliseconds a stopping server waits for requests in flight before cutting them. */
  shutdownGraceMs: number;
  /** The zone a database this server creates stores (an existing one keeps the zone it stores). */
  timezone: string;
  /** The bar stamping a database this server creates stores (likewise only a creation default). */
  barTimestamp: BarTimestamp;
  /** The most backups, and bytes of them, the backup folder may hold before a new one is refused. */
  backupLimits: BackupLimits;
  /** How long a request may wait in a store worker's queue before it is refused (503). */
  queueDeadlineMs: number;
}

/**
 * 5 s: the finding's clients gave up after 5 s, so a request still waiting then is one nobody
 * will read; refused, it tells a client that is still there to retry instead of hanging.
 */
export const DEFAULT_QUEUE_DEADLINE_MS = 5_000;

export interface BackupLimits {
  maxCount: number;
  maxBytes: number;
}

/** 20 backups or 50 GiB, whichever comes first: a cap, so requests cannot fill the disk. */
export const DEFAULT_BACKUP_LIMITS: Readonly<BackupLimits> = { maxCount: 20, maxBytes: 50 * 1024 ** 3 };

/**
 * TRADELITE_HOST (default 127.0.0.1), TRADELITE_PORT (8787; 0 picks a free port),
 * TRADELITE_TOKEN (a bearer token, at least 16 characters, with every scope) and
 * TRADELITE_TOKEN_NAME (who the audit log names for it, default "token"), TRADELITE_TOKENS
 * (several named tokens with scopes: readTokens), TRADELITE_ALLOWED_HOSTS and TRADELITE_CORS_ORIGINS
 * (comma-separated), TRADELITE_MAX_BODY (bytes, default 64 MiB), TRADELITE_SHUTDOWN_GRACE_MS
 * (how long SIGINT/SIGTERM wait for requests in flight, default 10,000), TRADELITE_TIMEZONE
 * and TRADELITE_BAR_TIMESTAMP (the zone, default UTC, and stamping, default start, that a new
 * database is created with; an existing one keeps what it stores), TRADELITE_BACKUP_MAX_COUNT
 * and TRADELITE_BACKUP_MAX_BYTES (the backup folder's caps, default 20 backups and 50 GiB),
 * TRADELITE_QUEUE_DEADLINE_MS (how long a request may wait for a store worker, default 5,000). Throws a ValidationError naming
 * each bad variable, and refuses a non-loopback host without a token.
 */
export function resolveServerSettings(env: Record<string, string | undefined> = process.env): ServerSettings {
  const issues: { field: string; message: string }[] = [];
  const host = nonEmpty(env.TRADELITE_HOST) ?? DEFAULT_API_HOST;
  const portText = nonEmpty(env.TRADELITE_PORT);
  const port = portText === undefined ? DEFAULT_API_PORT : Number(portText);
  if (portText !== undefined && !(/^\d{1,5}$/.test(portText) && port <= 65_535)) {
    issues.push({ field: "TRADELITE_PORT", message: `expected a port number 0-65535, got ${JSON.stringify(portText)}` });
  }
  const bodyText = nonEmpty(env.TRADELITE_MAX_BODY);
  const maxBodyBytes = bodyText === undefined ? DEFAULT_MAX_BODY_BYTES : Number(bodyText);
  if (bodyText !== undefined && !(/^\d{1,15}$/.test(bodyText) && maxBodyBytes > 0)) {
    issues.push({ field: "TRADELITE_MAX_BODY", message: `expected a positive number of bytes, got ${JSON.stringify(bodyText)}` });
  }
  const graceText = nonEmpty(env.TRADELITE_SHUTDOWN_GRACE_MS);
  const shutdownGraceMs = graceText === undefined ? DEFAULT_SHUTDOWN_GRACE_MS : Number(graceText);
  if (graceText !== undefined && !(/^\d{1,7}$/.test(graceText) && shutdownGraceMs <= 3_600_000)) {
    issues.push({ field: "TRADELITE_SHUTDOWN_GRACE_MS", message: `expected milliseconds 0-3600000, got ${JSON.stringify(graceText)}` });
  }
  let timezone = DEFAULT_TIMEZONE;
  try {
    timezone = assertTimeZone(nonEmpty(env.TRADELITE_TIMEZONE) ?? DEFAULT_TIMEZONE, "TRADELITE_TIMEZONE");
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    issues.push(...error.issues.map((issue) => ({ field: "TRADELITE_TIMEZONE", message: issue.message })));
  }
  const barTimestampText = nonEmpty(env.TRADELITE_BAR_TIMESTAMP) ?? "start";
  const barTimestamp = barTimestampText as BarTimestamp;
  if (!(BAR_TIMESTAMPS as readonly string[]).includes(barTimestampText)) {
    issues.push({ field: "TRADELITE_BAR_TIMESTAMP", message: `expected start or end, got ${JSON.stringify(barTimestampText.slice(0, 40))}` });
  }
  const limit = (name: string, fallback: number): number => {
    const text = nonEmpty(env[name]);
    if (text === undefined) return fallback;
    if (!/^\d{1,15}$/.test(text) || Number(text) < 1) issues.push({ field: name, message: `expected a positive whole number, got ${JSON.stringify(text.slice(0, 40))}` });
    return Number(text);
  };
  const backupLimits = {
    maxCount: limit("TRADELITE_BACKUP_MAX_COUNT", DEFAULT_BACKUP_LIMITS.maxCount),
    maxBytes: limit("TRADELITE_BACKUP_MAX_BYTES", DEFAULT_BACKUP_LIMITS.maxBytes),
  };
  const queueDeadlineMs = limit("TRADELITE_QUEUE_DEADLINE_MS", DEFAULT_QUEUE_DEADLINE_MS);
  const token = nonEmpty(env.TRADELITE_TOKEN);
  const tokenName = nonEmpty(env.TRADELITE_TOKEN_NAME) ?? "token";
  if (token !== undefined && (token.length < 16 || /\s/.test(token))) {
    issues.push({ field: "TRADELITE_TOKEN", message: "must be at least 16 characters without whitespace" });
  }
  if (!/^[\x21-\x7e]{1,128}$/.test(tokenName)) {
    issues.push({ field: "TRADELITE_TOKEN_NAME", message: "must be 1 to 128 printable ASCII characters" });
  }
  const scoped = readTokens(nonEmpty(env.TRADELITE_TOKENS), issues);
  if (token !== undefined && scoped.some((entry) => entry.name === tokenName || entry.token === token)) {
    issues.push({ field: "TRADELITE_TOKENS", message: `TRADELITE_TOKEN's name (${tokenName}) or token appears again in TRADELITE_TOKENS` });
  }
  if (token === undefined && scoped.length === 0 && !isLoopbackHost(host)) {
    issues.push({
      field: "TRADELITE_HOST",
      message: `${host} is not a loopback address: serving beyond this machine needs TRADELITE_TOKEN (a bearer token of 16+ characters)`,
    });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  const list = (value: string | undefined) => (value ?? "").split(",").map((item) => item.trim()).filter(Boolean);
  return {
    host,
    port,
    tokens: [...(token === undefined ? [] : [{ name: tokenName, token }]), ...scoped],
    allowedHosts: list(env.TRADELITE_ALLOWED_HOSTS),
    corsOrigins: list(env.TRADELITE_CORS_ORIGINS),
    maxBodyBytes,
    shutdownGraceMs,
    timezone,
    barTimestamp,
    backupLimits,
    queueDeadlineMs,
  };
}

/** localhost, 127.0.0.0/8 and ::1: addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

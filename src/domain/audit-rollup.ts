/**
 * The audit log's grain on the live path. Operator actions stay one entry each; a live append (a
 * session cache write, an insertBars of at most LIVE_BATCH_MAX_ROWS minute bars) only adds to
 * its symbol's pending rollup, a row of `audit_pending` upserted in the append's own transaction,
 * so a crash between rollups loses no record of what was acknowledged. A rollup closes into one
 * entry when the cache compacts the symbol (the `cache.compact` entry carries it), when the
 * store's `auditRollupMs` has passed since it opened (checked at the symbol's next append and
 * when a store opens), or on `audit.rollUp()`. The entry carries the counts, the time range and
 * the SHA-256 of the bars stored in that range (barsDigest), which `audit.verifyRollups()`
 * recomputes from the table. The rules are here once; each backend reads and writes the rows.
 *
 * Measured (2026-12, scripts/bench-audit.ts): a live day of 200 symbols x 240 one-bar cache
 * writes wrote 48,400 entries, 3.4x the bars' bytes, one per write; rolled up, one per symbol.
 */
import type { Bar } from "./bar.ts";
import type { AuditEntry } from "./audit.ts";
import { ValidationError, type Issue } from "./errors.ts";
import type { JsonValue } from "./json.ts";
import { checkOptions } from "./query.ts";
import { readSeriesOptions, type SeriesOptions } from "./daily.ts";

/** The action of a rollup closed on its own (a compaction's rollup rides in `cache.compact`). */
export const ROLLUP_ACTION = "bars.rollup";
/**
 * The default `auditRollupMs`: one day, so a recorder's one-bar writes cost about one entry per
 * symbol and trading day (~2% of the day's 240 bars' bytes); 0 writes an entry per call.
 */
export const DEFAULT_AUDIT_ROLLUP_MS = 86_400_000;
/** A rollup stays open at most a year. */
export const MAX_AUDIT_ROLLUP_MS = 366 * 86_400_000;
/**
 * The largest insertBars call that is a live append: a trading day of one-minute bars. A larger
 * batch is an import and keeps its own `bars.insert` entry.
 */
export const LIVE_BATCH_MAX_ROWS = 240;

/**
 * An insertBars call's audit grain: "entry" records it as an operator action (the HTTP API's
 * batches and the CLI's imports ask for it), "rollup" as a live append whatever its size;
 * omitted, a batch of at most LIVE_BATCH_MAX_ROWS is a live append.
 */
export type AuditGrain = "entry" | "rollup";
export const AUDIT_GRAINS: readonly AuditGrain[] = ["entry", "rollup"];

/** insertBars' options: the stored series, and the audit grain. */
export interface InsertBarsOptions extends SeriesOptions {
  audit?: AuditGrain;
}

/** insertBars' options checked: the series written, and the grain asked (undefined: by size). */
export function readInsertOptions(options: unknown): { target: "minutes" | "daily"; grain: AuditGrain | undefined } {
  if (typeof options !== "object" || options === null || !("audit" in options)) return { target: readSeriesOptions(options), grain: undefined };
  const { audit, ...series } = options as InsertBarsOptions;
  const target = readSeriesOptions(series);
  if (audit !== undefined && !AUDIT_GRAINS.includes(audit)) {
    throw new ValidationError([{ field: "audit", message: `expected "entry" or "rollup", got ${JSON.stringify(audit)}` }]);
  }
  return { target, grain: audit };
}

/** Whether an insertBars of `rows` minute bars is rolled up under `rollupMs`. */
export function isLiveAppend(rows: number, rollupMs: number, grain: AuditGrain | undefined): boolean {
  return rollupMs > 0 && grain !== "entry" && (grain === "rollup" || rows <= LIVE_BATCH_MAX_ROWS);
}

/** One symbol's open rollup, as `audit_pending` holds it. */
export interface PendingRollup {
  symbol: string;
  /** Who the appends are credited to; an append by another actor closes the rollup first. */
  actor: string;
  batches: number;
  rows: number;
  first_timestamp: number;
  last_timestamp: number;
  /** Epoch ms when its first append committed. */
  opened_at: number;
}

/** What a closed rollup's entry carries (the `details` of bars.rollup, `rollup` of cache.compact). */
export interface RollupDetails {
  /** Rows the appends wrote (a re-written key counts again), in `batches` calls. */
  rows: number;
  batches: number;
  /** The appends' first and last bar timestamp, epoch ms. */
  start: number;
  end: number;
  /** When the first append committed, epoch ms. */
  opened: number;
  /** Bars stored in start..end when the rollup closed, and their digest (barsDigest). */
  stored: number;
  sha256: string;
}

/**
 * The digest of stored bars in ascending timestamp order: lowercase hex SHA-256 of the UTF-8
 * text with one line per bar, `timestamp,open,high,low,close,volume,amount\n`, each number as
 * JavaScript's String(n) (shortest round-trip) and a missing value empty. Identical on every
 * backend, since both return the same doubles.
 */
export function barsDigest(bars: Iterable<Bar>): { stored: number; sha256: string } {
  const hasher = new Bun.CryptoHasher("sha256");
  let stored = 0;
  const text = (value: number | null) => (value === null ? "" : String(value));
  for (const bar of bars) {
    stored++;
    hasher.update(`${bar.timestamp},${text(bar.open)},${text(bar.high)},${text(bar.low)},${text(bar.close)},${text(bar.volume)},${text(bar.amount)}\n`);
  }
  return { stored, sha256: hasher.digest("hex") };
}

/** A pending rollup closed over the bars now stored in its range. */
export function closedRollup(pending: PendingRollup, stored: Iterable<Bar>): RollupDetails {
  return {
    rows: pending.rows,
    batches: pending.batches,
    start: pending.first_timestamp,
    end: pending.last_timestamp,
    opened: pending.opened_at,
    ...barsDigest(stored),
  };
}

/** The rollup an entry carries, if any. */
export function rollupOf(entry: Pick<AuditEntry, "action" | "details">): RollupDetails | undefined {
  const details = entry.details as Record<string, JsonValue> | null;
  if (typeof details !== "object" || details === null || Array.isArray(details)) return undefined;
  const rollup = entry.action === ROLLUP_ACTION ? details : entry.action === "cache.compact" ? details.rollup : undefined;
  if (typeof rollup !== "object" || rollup === null || Array.isArray(rollup) || typeof rollup.sha256 !== "string") return undefined;
  return rollup as unknown as RollupDetails;
}

/** The actions whose entries may carry a rollup: what verifyRollups reads. */
export const ROLLUP_ACTIONS = [ROLLUP_ACTION, "cache.compact"] as const;

/** A rollup whose range no longer holds the bars it recorded. */
export interface RollupMismatch {
  id: number;
  symbol: string;
  start: number;
  end: number;
  recorded: { stored: number; sha256: string };
  found: { stored: number; sha256: string };
  /**
   * The id of a later entry for the symbol whose range overlaps (a correction, a delete, a later
   * rollup), or "pending" for the symbol's open rollup overlapping it: the bars changed on the
   * record. Null: nothing on the record explains the change.
   */
  changedBy: number | "pending" | null;
}

export interface RollupVerification {
  /** No mismatch that the log does not explain. */
  ok: boolean;
  /** Rollups re-digested. */
  checked: number;
  /** Symbols with appends not yet closed into an entry (audit_pending's rows). */
  pending: number;
  mismatches: RollupMismatch[];
}

/**
 * Whether a later entry changed bars in start..end: a bars.* entry (insert, delete, rollup) or a
 * compaction's rollup whose range overlaps it (a range left open reaches that way).
 */
function changesRange(action: string, details: JsonValue, start: number, end: number): boolean {
  const range = (rollupOf({ action, details }) ?? (action.startsWith("bars.") ? details : null)) as Record<string, JsonValue> | null;
  if (typeof range !== "object" || range === null || Array.isArray(range)) return false;
  const from = typeof range.start === "number" ? range.start : -Infinity;
  const to = typeof range.end === "number" ? range.end : Infinity;
  return from <= end && to >= start;
}

/** What explains a mismatch: the first later overlapping entry, else an overlapping open rollup, else null. */
export function mismatchCause(
  later: readonly { id: number; action: string; details: string }[],
  pending: PendingRollup | null | undefined,
  start: number,
  end: number,
): RollupMismatch["changedBy"] {
  const entry = later.find((each) => changesRange(each.action, JSON.parse(each.details) as JsonValue, start, end));
  if (entry) return entry.id;
  return pending && pending.first_timestamp <= end && pending.last_timestamp >= start ? "pending" : null;
}

/** rollUp()'s options: one symbol's rollup (else every symbol's), and only those due. */
export interface RollUpOptions {
  symbol?: string;
  /** Only rollups open for the store's auditRollupMs or longer (what maintenance closes). */
  due?: boolean;
}

/** Checks rollUp()'s options: `{ symbol?, due? }`; symbol undefined means every one. */
export function readRollUpOptions(options: unknown): { symbol: string | undefined; due: boolean } {
  const issues: Issue[] = [];
  const { symbol, due } = checkOptions<{ symbol?: unknown; due?: unknown }>(options, ["symbol", "due"], issues);
  if (symbol !== undefined && typeof symbol !== "string") issues.push({ field: "symbol", message: "expected a symbol" });
  if (due !== undefined && typeof due !== "boolean") issues.push({ field: "due", message: "expected a boolean" });
  if (issues.length > 0) throw new ValidationError(issues);
  return { symbol: symbol as string | undefined, due: due === true };
}

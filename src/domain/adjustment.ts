/**
 * Adjustment factors: the factors table's rows, their validation, and the rule that picks the
 * factor in force on a trading date at a point in time. Adjusting bars with them is
 * adjusted-bars.ts; computing them from corporate actions is corporate-action.ts.
 *
 * A factor follows Tushare's `adj_factor` convention: the cumulative back-adjustment factor,
 * raw price x factor = back-adjusted (hfq) price. Rows may be change points (one per ex-date) or
 * daily values (one per trading date); the factor in force on a date is the latest row at or
 * before it, and 1 before the first row (a history before its first factor is unadjusted).
 */
import { isDate } from "./calendar.ts";
import { ValidationError, type Issue } from "./errors.ts";
import { assertTimeZone, TimestampError, toEpochMs, type TimestampInput } from "./time.ts";

/** One row of the factors table. */
export interface AdjustmentFactor {
  /** The date from which the factor applies (YYYY-MM-DD, a calendar day in the exchange's zone), as calendars write trading days. */
  date: string;
  /** Cumulative back-adjustment factor: raw x factor = back-adjusted price. Finite and > 0. */
  factor: number;
  /** When the factor became known, epoch ms UTC: a read with `asOf` before it does not see it. */
  knownAt: number;
  /** Who computed it: a vendor (`tushare`) or `actions` (computed by factorsFromActions). */
  source: string;
}

/** A factor row as callers may pass it: a compact date (`20240711`, Tushare's) and any timestamp input are read. */
export interface AdjustmentFactorInput {
  date: string;
  factor: number;
  knownAt: TimestampInput;
  source: string;
}

const FACTOR_KEYS = ["date", "factor", "knownAt", "source"];
const COMPACT_DATE = /^(\d{4})(\d{2})(\d{2})$/;

/**
 * A trading date as YYYY-MM-DD from `2024-07-11` or `20240711` (the one date rule), or an issue
 * naming the row and field.
 */
export function readTradingDate(value: unknown, row: number, field: string, issues: Issue[]): string {
  const text = typeof value === "string" ? value.replace(COMPACT_DATE, "$1-$2-$3") : undefined;
  if (text === undefined || !isDate(text)) {
    issues.push({ row, field, message: `expected a date (YYYY-MM-DD or YYYYMMDD), got ${JSON.stringify(value) ?? String(value)}` });
    return "";
  }
  return text;
}

/**
 * Calls `visit` with each row of `rows` that is an object, after adding an issue for each row
 * that is not and for each unknown key (a typo must not read as an omitted field).
 */
export function forEachRecord(
  rows: unknown,
  shape: string,
  keys: readonly string[],
  issues: Issue[],
  visit: (record: Record<string, unknown>, row: number) => void,
): void {
  if (!Array.isArray(rows)) throw new ValidationError([{ message: `expected an array, each ${shape}` }]);
  rows.forEach((input: unknown, row) => {
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      issues.push({ row, message: `expected ${shape}` });
      return;
    }
    const record = input as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!keys.includes(key)) issues.push({ row, field: key, message: `unknown field; expected ${keys.join(", ")}` });
    }
    visit(record, row);
  });
}

/**
 * Validates factor rows, or throws a ValidationError naming every bad row and field: a date that
 * is not a real date, a factor <= 0 or not finite, a knownAt that is not a timestamp, an empty
 * source, and two rows for one date known at the same instant (which one holds is undecidable).
 * `timeZone` reads naive knownAt strings.
 */
export function validateFactors(rows: readonly AdjustmentFactorInput[] | readonly unknown[], timeZone: string): AdjustmentFactor[] {
  assertTimeZone(timeZone);
  const issues: Issue[] = [];
  const factors: AdjustmentFactor[] = [];
  const seen = new Map<string, number>();
  forEachRecord(rows, "a factor row { date, factor, knownAt, source }", FACTOR_KEYS, issues, (record, row) => {
    const date = readTradingDate(record.date, row, "date", issues);
    const factor = record.factor;
    if (!(typeof factor === "number" && Number.isFinite(factor) && factor > 0)) {
      issues.push({ row, field: "factor", message: `must be a finite number > 0 (raw x factor = back-adjusted price), got ${String(factor)}` });
    }
    let knownAt = NaN;
    try {
      knownAt = toEpochMs(record.knownAt, timeZone);
    } catch (error) {
      if (!(error instanceof TimestampError)) throw error;
      issues.push({ row, field: "knownAt", message: error.reason });
    }
    const source = record.source;
    if (!(typeof source === "string" && source.trim() !== "")) {
      issues.push({ row, field: "source", message: `must be a non-empty string (a vendor, or "actions"), got ${JSON.stringify(source) ?? String(source)}` });
    }
    const key = `${date} ${knownAt}`;
    const earlier = seen.get(key);
    if (date !== "" && !Number.isNaN(knownAt) && earlier !== undefined) {
      issues.push({ row, field: "knownAt", message: `row ${earlier} has the same date ${date} and knownAt ${knownAt}: a correction needs a later knownAt` });
    }
    seen.set(key, row);
    factors.push({ date, factor: factor as number, knownAt, source: source as string });
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return factors;
}

// ---------------------------------------------------------------------------------------------
// The factor in force

/** The factors known at one instant, as change points: `values[i]` applies from `dates[i]` on. */
export interface FactorTimeline {
  dates: string[];
  values: number[];
}

/**
 * The rows known at `asOf`, one per date (the latest knownAt wins: a correction), consecutive
 * equal factors merged, so a daily-values table of years costs as little as its ex-dates.
 * Throws when rows exist and none is known yet: an `asOf` before the first one is a mistake
 * (a wrong year, seconds for ms), not a request for raw prices.
 */
export function timelineAt(factors: readonly AdjustmentFactor[], asOf: number): FactorTimeline {
  const known = factors.filter((row) => row.knownAt <= asOf);
  if (known.length === 0 && factors.length > 0) {
    // A loop, not Math.min(...rows): spreading a table of years of daily rows overflows the stack.
    const first = factors.reduce((earliest, row) => Math.min(earliest, row.knownAt), Infinity);
    throw new ValidationError([{
      field: "asOf",
      message: `${new Date(asOf).toISOString()} is before any factor became known (the first at ${new Date(first).toISOString()})`,
    }]);
  }
  // Rows read from a table come in (date, knownAt) order already; sorting only when they do not
  // keeps a daily-values table of 5,000 rows from costing a sort on every read.
  if (!isSorted(known)) known.sort(byDateThenKnownAt);
  const dates: string[] = [];
  const values: number[] = [];
  for (let i = 0; i < known.length; i++) {
    const row = known[i]!;
    // Rows are sorted by (date, knownAt): only the last of a date counts.
    if (i + 1 < known.length && known[i + 1]!.date === row.date) continue;
    const previous = values.length > 0 ? values[values.length - 1]! : 1;
    if (row.factor === previous) continue;
    dates.push(row.date);
    values.push(row.factor);
  }
  return { dates, values };
}

function byDateThenKnownAt(a: AdjustmentFactor, b: AdjustmentFactor): number {
  return a.date < b.date ? -1 : a.date > b.date ? 1 : a.knownAt - b.knownAt;
}

function isSorted(rows: readonly AdjustmentFactor[]): boolean {
  for (let i = 1; i < rows.length; i++) if (byDateThenKnownAt(rows[i - 1]!, rows[i]!) > 0) return false;
  return true;
}

/** How many of the ascending `sorted` are <= `value` (binary search): the change points in force. */
export function countAtOrBefore<T extends string | number>(sorted: ArrayLike<T>, value: T): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The factor in force on `date` (YYYY-MM-DD or YYYYMMDD) among the rows known at `asOf` (default
 * now): the latest row at or before the date, the latest knownAt of that date when corrected;
 * 1 before every row. `factors` are rows as validateFactors returns them.
 */
export function factorAt(factors: readonly AdjustmentFactor[], date: string, asOf: number | Date = Date.now()): number {
  const issues: Issue[] = [];
  // Dates compare as text, so a compact date must be read, never compared as given.
  const day = readTradingDate(date, 0, "date", issues);
  let instant = NaN;
  try {
    instant = toEpochMs(asOf, "UTC");
  } catch (error) {
    if (!(error instanceof TimestampError)) throw error;
    issues.push({ field: "asOf", message: error.reason });
  }
  if (issues.length > 0) throw new ValidationError(issues.map(({ field, message }) => ({ field, message })));
  const timeline = timelineAt(factors, instant);
  const count = countAtOrBefore(timeline.dates, day);
  return count === 0 ? 1 : timeline.values[count - 1]!;
}

/**
 * Daily bars stored beside minute bars. A daily file (TDX .day, Tushare daily, AKShare daily) is
 * its own series, `market_data_daily`, not rows in market_data: market_data keeps exactly the
 * ADR's columns and key, and a new table migrates in constant time where re-keying market_data
 * would copy every minute bar (README, "Daily and minute bars side by side").
 *
 * A stored daily bar is stamped at the local midnight of its trading date in the store's zone,
 * in both bar stampings: the timestamp resampled `1d` buckets carry, so the two series meet on
 * equal timestamps. This module holds the rules every backend shares: which series an insert or
 * delete names, the midnight rule, the merge of the two sides of a `1d` read, and the comparison
 * a data-quality check runs over them.
 */
import type { Bar, BarBatch } from "./bar.ts";
import { dateWallMs, localDate } from "./calendar.ts";
import { ValidationError, type Issue } from "./errors.ts";
import { checkOptions, readRange, type BarQuery, type BarSource, type ReadQuery, type TimeRange } from "./query.ts";
import type { SeriesOverview, SymbolOverview } from "./store.ts";
import { DAY_MS, startOfLocalDay } from "./time.ts";

/** The stored series besides the default (market_data, bars as written): only days so far. */
export const STORED_INTERVALS = ["1d"] as const;
export type StoredInterval = (typeof STORED_INTERVALS)[number];

/** Which stored series insertBars and deleteBars work on: omitted is market_data. */
export interface SeriesOptions {
  interval?: StoredInterval;
}

export const SERIES_OPTION_KEYS: readonly string[] = ["interval"];

/** The series an options argument names: "daily" for `{ interval: "1d" }`, else "minutes". */
export function readSeriesOptions(options: unknown): "minutes" | "daily" {
  const issues: Issue[] = [];
  const given = checkOptions<SeriesOptions>(options, SERIES_OPTION_KEYS, issues);
  const interval: unknown = given.interval;
  if (interval !== undefined && !STORED_INTERVALS.includes(interval as StoredInterval)) {
    issues.push({
      field: "interval",
      message: `stored series are the default (bars as written, omit interval) and "1d"; got ${JSON.stringify(interval)}`,
    });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return interval === "1d" ? "daily" : "minutes";
}

/** The local midnight of the date holding instant `timestamp` in `timeZone`. */
export function localMidnight(timestamp: number, timeZone: string): number {
  return startOfLocalDay(dateWallMs(localDate(timestamp, timeZone)), timeZone);
}

/**
 * An issue for every timestamp that is not a local midnight in `timeZone` (a date string read in
 * the store's zone is one), naming the midnight its date has.
 */
export function dailyStampIssues(timestamps: ArrayLike<number>, timeZone: string): Issue[] {
  const issues: Issue[] = [];
  for (let row = 0; row < timestamps.length; row++) {
    const timestamp = timestamps[row]!;
    const midnight = localMidnight(timestamp, timeZone);
    if (timestamp !== midnight) {
      issues.push({
        row,
        field: "timestamp",
        message: `a daily bar is stamped at the local midnight of its trading date in ${timeZone} (${localDate(timestamp, timeZone)} is ${midnight}); got ${timestamp}`,
      });
    }
  }
  return issues;
}

/** Refuses a daily batch with any bar not stamped at a local midnight, naming every such row. */
export function checkDailyStamps(batch: BarBatch, timeZone: string): void {
  const issues = dailyStampIssues(batch.timestamp, timeZone);
  if (issues.length > 0) throw new ValidationError(issues);
}

/**
 * Two ascending series of days merged by timestamp, stored days winning over resampled ones on
 * the same timestamp.
 */
export function* mergeDaily(stored: Iterable<Bar>, minutes: Iterable<Bar>): Generator<Bar> {
  const a = stored[Symbol.iterator]();
  const b = minutes[Symbol.iterator]();
  let x = a.next();
  let y = b.next();
  while (!x.done || !y.done) {
    if (y.done || (!x.done && x.value.timestamp <= y.value.timestamp)) {
      if (!y.done && y.value.timestamp === x.value!.timestamp) y = b.next();
      yield x.value!;
      x = a.next();
    } else {
      yield y.value;
      y = b.next();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The data-quality check

/**
 * Volume and amount may differ by this fraction of the larger before a day is reported: a
 * vendor's daily file and its minute file round differently (Tushare's daily `vol` is in lots
 * and `amount` in thousands of yuan, minute volumes are often whole lots per minute, 240
 * roundings a day), which stays well under 0.1% on a normally traded day. Prices are compared
 * exactly: a resampled open, high, low or close is one stored minute's value, never computed.
 */
export const DAILY_DIFF_TOLERANCE = 0.001;

export const DAILY_FIELDS = ["open", "high", "low", "close", "volume", "amount"] as const;
export type DailyField = (typeof DAILY_FIELDS)[number];

/** One date where the stored daily bar and the bar resampled from minutes disagree. */
export interface DailyDifference {
  /** The trading date in the store's zone (YYYY-MM-DD). */
  date: string;
  /** Its local midnight, epoch ms: the timestamp both bars carry. */
  timestamp: number;
  /** `stored` or `minutes` when the date has a bar on that side only; else `both`. */
  present: "both" | "stored" | "minutes";
  /** The fields that differ (empty when one side is missing). */
  fields: DailyField[];
  stored: Bar | null;
  minutes: Bar | null;
}

export interface DailyDiffOptions extends TimeRange {
  /** Relative tolerance for volume and amount (default DAILY_DIFF_TOLERANCE). */
  tolerance?: number;
  /** Bucket alignment of the minutes side (the database's calendar: `session`). */
  align?: BarQuery["align"];
}

/** The fields where two bars of one date disagree. */
export function differingFields(stored: Bar, minutes: Bar, tolerance = DAILY_DIFF_TOLERANCE): DailyField[] {
  const fields: DailyField[] = [];
  for (const field of DAILY_FIELDS) {
    const a = stored[field];
    const b = minutes[field];
    if (a === null || b === null) {
      if (a !== b) fields.push(field);
    } else if (field === "volume" || field === "amount") {
      if (Math.abs(a - b) > tolerance * Math.max(Math.abs(a), Math.abs(b))) fields.push(field);
    } else if (a !== b) {
      fields.push(field);
    }
  }
  return fields;
}

/** The dates where two ascending series of days disagree, ascending. */
export function compareDaily(stored: Iterable<Bar>, minutes: Iterable<Bar>, timeZone: string, tolerance = DAILY_DIFF_TOLERANCE): DailyDifference[] {
  const byTimestamp = new Map<number, { stored: Bar | null; minutes: Bar | null }>();
  for (const bar of stored) byTimestamp.set(bar.timestamp, { stored: bar, minutes: null });
  for (const bar of minutes) {
    const entry = byTimestamp.get(bar.timestamp);
    if (entry) entry.minutes = bar;
    else byTimestamp.set(bar.timestamp, { stored: null, minutes: bar });
  }
  const differences: DailyDifference[] = [];
  for (const timestamp of [...byTimestamp.keys()].sort((a, b) => a - b)) {
    const pair = byTimestamp.get(timestamp)!;
    const present = pair.stored && pair.minutes ? "both" : pair.stored ? "stored" : "minutes";
    const fields = pair.stored && pair.minutes ? differingFields(pair.stored, pair.minutes, tolerance) : [];
    if (present === "both" && fields.length === 0) continue;
    differences.push({ date: localDate(timestamp, timeZone), timestamp, present, fields, ...pair });
  }
  return differences;
}

/** What dailyDifferences reads from: any Store, or the embedded Database (synchronous). */
export interface DailyReader {
  readonly timezone: string;
  getBars(symbol: string, query: BarQuery): Bar[] | Promise<Bar[]>;
}

/**
 * The dates in a range where a symbol's stored daily bars and its minutes resampled to days
 * disagree, read through any Store or the Database (what `tradelite daily-diff` prints). The range
 * is widened to whole local days, so a date bound (`end: "2024-01-19"`, its midnight) compares
 * that day's stored bar with all of that day's minutes, not the ones stamped at midnight.
 */
export async function dailyDifferences(store: DailyReader, symbol: string, options: DailyDiffOptions = {}): Promise<DailyDifference[]> {
  const { tolerance = DAILY_DIFF_TOLERANCE, align, ...given } = options;
  if (!(typeof tolerance === "number" && Number.isFinite(tolerance) && tolerance >= 0)) {
    throw new ValidationError([{ field: "tolerance", message: `must be a number >= 0 (a fraction: 0.001 is 0.1%), got ${String(tolerance)}` }]);
  }
  const zone = store.timezone;
  const range = readRange(given, zone);
  const start = given.start === undefined ? range.start : localMidnight(range.start, zone);
  const end = given.end === undefined ? range.end : startOfLocalDay(dateWallMs(localDate(range.end, zone)) + DAY_MS, zone) - 1;
  const read = (source: BarSource) => store.getBars(symbol, { start, end, interval: "1d", source, ...(align ? { align } : {}) });
  const [stored, minutes] = await Promise.all([read("stored"), read("minutes")]);
  return compareDaily(stored, minutes, zone, tolerance);
}

/**
 * One overview row per symbol from the two series' rows (each ordered by symbol): the minute
 * fields as before, `daily` where the symbol has stored days.
 */
export function mergeOverviews(minutes: readonly SymbolOverview[], daily: readonly ({ symbol: string } & SeriesOverview)[]): SymbolOverview[] {
  const rows = new Map<string, SymbolOverview>();
  for (const row of minutes) rows.set(row.symbol, { symbol: row.symbol, count: row.count, start: row.start, end: row.end });
  for (const { symbol, count, start, end } of daily) {
    const row = rows.get(symbol);
    if (row) row.daily = { count, start, end };
    else rows.set(symbol, { symbol, count: 0, start: null, end: null, daily: { count, start, end } });
  }
  return [...rows.values()].sort((a, b) => byCodePoint(a.symbol, b.symbol));
}

/**
 * Code point order, which is UTF-8 byte order: SQLite's ORDER BY and PostgreSQL's COLLATE "C".
 * (`<` on strings compares UTF-16 units, which sorts U+E000-U+FFFF after astral characters.)
 */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

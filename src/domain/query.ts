/**
 * Range queries and resampling intervals: what `getBars`, `getQuotes` and `deleteBars` accept,
 * read once here so every backend interprets a query the same way.
 */
import { z } from "zod";
import type { Bar } from "./bar.ts";
import type { AdjustMode } from "./adjusted-bars.ts";
import { StorageError, ValidationError, type Issue } from "./errors.ts";
import { DAY_MS, HOUR_MS, MAX_TIMESTAMP, MIN_TIMESTAMP, MINUTE_MS, TimestampError, toRangeBound, type RangeSide, type TimeReading, type TimestampInput } from "./time.ts";

export const INTERVALS = ["1m", "5m", "15m", "30m", "1h", "2h", "1d", "1w", "1M"] as const;
export type Interval = (typeof INTERVALS)[number];
export const IntervalSchema = z.enum(INTERVALS);
/** The intervals whose clock-aligned buckets have a fixed length (all but the month). */
export type ClockInterval = Exclude<Interval, "1M">;

/**
 * How buckets are aligned: `clock` on the local clock (midnight, the hour, Monday), `session`
 * on the symbol's exchange calendar (each session's open, trading days; src/domain/session.ts).
 */
export const ALIGNS = ["clock", "session"] as const;
export type Align = (typeof ALIGNS)[number];

/** What `fill` asks of a read: nothing (the default), or missing bars at the previous close. */
export const FILLS = ["none", "previous"] as const;
export type Fill = (typeof FILLS)[number];

/** Where a bar's timestamp sits in the interval it covers. */
export const BAR_TIMESTAMPS = ["start", "end"] as const;
export type BarTimestamp = (typeof BAR_TIMESTAMPS)[number];

/**
 * Where a `1d` read takes its days from: `stored` only the stored daily bars (market_data_daily),
 * `minutes` only bars resampled from market_data; omitted, stored days where they exist and
 * resampled ones elsewhere (src/domain/daily.ts).
 */
export const BAR_SOURCES = ["stored", "minutes"] as const;
export type BarSource = (typeof BAR_SOURCES)[number];

export const ORDERS = ["asc", "desc"] as const;
export type Order = (typeof ORDERS)[number];

/**
 * An interval's bucket: intraday intervals are a fixed number of ms aligned on the local clock;
 * `1d` is the local calendar day and `1w` the local ISO week (Monday to Sunday).
 */
export interface IntervalSpec {
  readonly ms: number;
  readonly calendar: boolean;
  /**
   * Subtracted before flooring and added back after, so buckets start where they should:
   * weeks on Monday (1970-01-05, four days after the epoch, was a Monday).
   */
  readonly phase: number;
}

export const INTERVAL_SPECS: Readonly<Record<ClockInterval, IntervalSpec>> = {
  "1m": { ms: MINUTE_MS, calendar: false, phase: 0 },
  "5m": { ms: 5 * MINUTE_MS, calendar: false, phase: 0 },
  "15m": { ms: 15 * MINUTE_MS, calendar: false, phase: 0 },
  "30m": { ms: 30 * MINUTE_MS, calendar: false, phase: 0 },
  "1h": { ms: HOUR_MS, calendar: false, phase: 0 },
  "2h": { ms: 2 * HOUR_MS, calendar: false, phase: 0 },
  "1d": { ms: DAY_MS, calendar: true, phase: 0 },
  "1w": { ms: 7 * DAY_MS, calendar: true, phase: 4 * DAY_MS },
};

export interface TimeRange {
  /** Inclusive; open when omitted. */
  start?: TimestampInput;
  /** Inclusive; open when omitted. */
  end?: TimestampInput;
}

export interface RangeQuery extends TimeRange {
  /** At most this many rows (a positive whole number). */
  limit?: number;
  /** By timestamp; ascending by default. */
  order?: Order;
}

export interface BarQuery extends RangeQuery {
  /** Resample to this interval in the database. Omitted: the bars as stored. */
  interval?: Interval;
  /** Overrides the store's `barTimestamp` option for this query. */
  barTimestamp?: BarTimestamp;
  /** Bucket alignment when resampling; `clock` by default. */
  align?: Align;
  /**
   * `previous`: a bar missing from the symbol's calendar grid comes back as a zero-volume bar at
   * the previous close, flagged `filled: true`. `none` (the default) returns what is stored.
   */
  fill?: Fill;
  /** With `interval: "1d"` only: stored daily bars, days resampled from minutes, or (omitted) both merged. */
  source?: BarSource;
  /**
   * Cancels the read: once aborted it stops at the next page or resampling step (or before it
   * starts, when it still waits in a worker's queue) and rejects with StorageError `CANCELLED`.
   */
  signal?: AbortSignal;
  /**
   * Prices as stored (`none`, the default), back-adjusted (`hfq`: x the factor in force on the
   * bar's trading date) or forward-adjusted (`qfq`: hfq / the factor in force at `asOf`), each
   * stored bar before any resampling (src/domain/adjusted-bars.ts).
   */
  adjust?: AdjustMode;
  /** Only factors known at this instant count (point in time). Default now. */
  asOf?: TimestampInput;
  /** Divide volume by the price ratio too. Default false: volume and amount stay raw. */
  adjustVolume?: boolean;
  /**
   * `1d`, `1w` and `1M` reads take days from the aggregates kept on write (src/domain/derived-days.ts)
   * where they answer exactly; `false` resamples every minute on the fly (the same bars, slower:
   * for checking the aggregates).
   */
  derived?: boolean;
}

export interface ReadRange {
  start: number;
  end: number;
}

export interface ReadQuery extends ReadRange {
  /** -1 when unlimited (SQLite's LIMIT -1). */
  limit: number;
  order: Order;
}

/**
 * The keys each kind of query accepts. Anything else is refused: a misspelled bound
 * (`{ startTime }` for `{ start }`) must not widen a delete to every bar of the symbol.
 */
export const RANGE_KEYS: readonly string[] = ["start", "end"];
export const QUERY_KEYS: readonly string[] = [...RANGE_KEYS, "limit", "order"];
export const BAR_QUERY_KEYS: readonly string[] = [...QUERY_KEYS, "interval", "barTimestamp", "align", "fill", "source", "signal", "adjust", "asOf", "adjustVolume", "derived"];

/**
 * What a read looks at between its pages and steps: an AbortSignal, or (in a store worker, which
 * cannot receive events while a synchronous read runs) a flag in shared memory read the same way.
 */
export interface Cancellation {
  readonly aborted: boolean;
}

/** Throws StorageError CANCELLED once `signal` is aborted; checked at every page and step boundary. */
export function throwIfCancelled(signal: Cancellation | undefined): void {
  if (signal?.aborted) throw new StorageError("CANCELLED", "the read was cancelled (its caller went away)");
}

/** A query's signal, checked to be one: anything else is refused like a misspelled option. */
export function readSignal(query: { signal?: unknown } | undefined): Cancellation | undefined {
  const signal = query?.signal;
  if (signal === undefined) return undefined;
  if (typeof signal !== "object" || signal === null || typeof (signal as Cancellation).aborted !== "boolean") {
    throw new ValidationError([{ field: "signal", message: "expected an AbortSignal" }]);
  }
  return signal as Cancellation;
}

/**
 * Reads an inclusive range; either end may be open. A date alone is a day in the store's zone,
 * the whole day as `end` (toRangeBound). Throws a ValidationError on bad input.
 */
export function readRange(range: TimeRange | undefined, reading: TimeReading, keys = RANGE_KEYS): ReadRange {
  const issues: Issue[] = [];
  const query = checkOptions<TimeRange>(range, keys, issues);
  const start = readBound(query.start, "start", MIN_TIMESTAMP, reading, issues);
  const end = readBound(query.end, "end", MAX_TIMESTAMP, reading, issues);
  if (issues.length === 0 && start > end) {
    issues.push({ field: "start", message: `start (${start}) is after end (${end})` });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return { start, end };
}

/**
 * Reads `{ since, until }` (the audit log's and the metrics' names for a range), reporting
 * problems under those names.
 */
export function readSinceUntil(since: unknown, until: unknown, reading: TimeReading): ReadRange {
  try {
    return readRange({ start: since as TimestampInput | undefined, end: until as TimestampInput | undefined }, reading);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const rename = (field?: string) => (field === "start" ? "since" : field === "end" ? "until" : field);
    throw new ValidationError(
      error.issues.map((issue) => ({ ...issue, field: rename(issue.field), message: issue.message.replace(/^start \(/, "since (").replace(/after end \(/, "after until (") })),
    );
  }
}

/** Reads a range with limit and order. */
export function readQuery(query: RangeQuery | undefined, reading: TimeReading, keys = QUERY_KEYS): ReadQuery {
  const range = readRange(query, reading, keys);
  const issues: Issue[] = [];
  const { limit, order } = query ?? {};
  checkLimit(limit, issues);
  if (order !== undefined && !ORDERS.includes(order)) {
    issues.push({ field: "order", message: `must be "asc" or "desc", got ${JSON.stringify(order)}` });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return { ...range, limit: limit ?? -1, order: order ?? "asc" };
}

/** The interval and timestamp placement of a bar query, checked. */
export function readResampling(
  query: BarQuery | undefined,
  defaultPlacement: BarTimestamp,
): { interval: Interval | undefined; barTimestamp: BarTimestamp; align: Align; fill: Fill; source?: BarSource; derived?: false } {
  const issues: Issue[] = [];
  const interval = query?.interval;
  const barTimestamp = query?.barTimestamp ?? defaultPlacement;
  const align = query?.align ?? "clock";
  const fill = query?.fill ?? "none";
  if (!FILLS.includes(fill)) {
    issues.push({ field: "fill", message: `must be "none" or "previous", got ${JSON.stringify(fill)}` });
  }
  if (!ALIGNS.includes(align)) {
    issues.push({ field: "align", message: `must be "clock" or "session", got ${JSON.stringify(align)}` });
  }
  if (interval !== undefined && !INTERVALS.includes(interval)) {
    issues.push({ field: "interval", message: `must be one of ${INTERVALS.join(", ")}, got ${JSON.stringify(interval)}` });
  }
  if (!BAR_TIMESTAMPS.includes(barTimestamp)) {
    issues.push({ field: "barTimestamp", message: `must be "start" or "end", got ${JSON.stringify(barTimestamp)}` });
  }
  const derived = query?.derived ?? true;
  if (typeof derived !== "boolean") issues.push({ field: "derived", message: `expected true or false, got ${JSON.stringify(derived)}` });
  const source = query?.source;
  if (source !== undefined && !BAR_SOURCES.includes(source)) {
    issues.push({ field: "source", message: `must be "stored" or "minutes", got ${JSON.stringify(source)}` });
  } else if (source !== undefined && interval !== "1d") {
    // Weeks and months from merged days are left out on purpose: a week of stored and resampled
    // days mixed hides which side a number came from, which a data-quality read wants to see.
    issues.push({ field: "source", message: `only with interval "1d" (days are the one stored series besides the bars as written), got interval ${JSON.stringify(interval ?? null)}` });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return { interval, barTimestamp, align, fill, ...(source === undefined ? {} : { source }), ...(derived === false ? { derived } : {}) };
}

/** Adds an issue unless `limit` is omitted or a positive whole number. */
export function checkLimit(limit: unknown, issues: Issue[]): void {
  if (limit !== undefined && !(Number.isSafeInteger(limit) && (limit as number) > 0)) {
    issues.push({ field: "limit", message: `must be a positive whole number, got ${String(limit)}` });
  }
}

/**
 * An options argument: omitted is empty; otherwise a plain object whose every key is one of
 * `keys` (a misspelled option is an issue, never ignored).
 */
export function checkOptions<T extends object>(value: unknown, keys: readonly string[], issues: Issue[]): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    issues.push({ message: `expected an options object with ${keys.join(", ")}` });
    return {};
  }
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) issues.push({ field: key, message: `unknown option; expected ${keys.join(", ")}` });
  }
  return value as Partial<T>;
}

function readBound(value: unknown, field: RangeSide, open: number, reading: TimeReading, issues: Issue[]): number {
  if (value === undefined || value === null) return open;
  try {
    return toRangeBound(value, field, reading);
  } catch (error) {
    if (!(error instanceof TimestampError)) throw error;
    issues.push({ field, message: error.reason });
    return open;
  }
}

// ---------------------------------------------------------------------------------------------
// Order and limit over a stream built oldest first (resampled buckets, merged days, fillers)

/** Ascending bars in the query's order, cut to its limit (newest-first needs them all first). */
export function* inQueryOrder(ascending: Iterable<Bar>, query: ReadQuery): Generator<Bar> {
  if (query.order === "desc") {
    const all = [...ascending].reverse();
    yield* query.limit < 0 ? all : all.slice(0, query.limit);
    return;
  }
  let remaining = query.limit < 0 ? Infinity : query.limit;
  for (const bar of ascending) {
    if (remaining-- <= 0) return;
    yield bar;
  }
}

/** inQueryOrder over an asynchronous stream (PostgreSQL's pages). */
export async function* inQueryOrderAsync(ascending: AsyncIterable<Bar>, query: ReadQuery): AsyncGenerator<Bar> {
  if (query.order === "desc") {
    const all: Bar[] = [];
    for await (const bar of ascending) all.push(bar);
    all.reverse();
    yield* query.limit < 0 ? all : all.slice(0, query.limit);
    return;
  }
  let remaining = query.limit < 0 ? Infinity : query.limit;
  for await (const bar of ascending) {
    if (remaining-- <= 0) return;
    yield bar;
  }
}

/**
 * Session-aligned resampling: bars bucketed by an exchange calendar's sessions instead of the
 * clock. Written once over stored bars in timestamp order, so every backend (SQLite in thread or
 * in a worker, PostgreSQL) computes the same buckets with the same arithmetic, to the last bit.
 *
 * - Intraday intervals (5m ... 2h) count from each session's open and never cross the lunch
 *   break or a day: end-stamped A-share 60m bars are 10:30, 11:30, 14:00, 15:00. A session whose
 *   length is not a multiple of the interval ends with a shorter bucket, stamped at the close.
 * - `1d` is a trading date, `1w` a trading week (Monday's week, stamped with its first trading
 *   day), `1M` a calendar month of trading days (stamped with its first trading day). Calendar
 *   buckets carry the local midnight of their date in both stampings, as clock-aligned ones do.
 * - Bars outside every session of their trading day (an opening-auction bar stamped 09:30, an
 *   after-hours print) are folded into the nearest bucket of the same day: before the first
 *   session into its first bucket, after a session into that session's last bucket. So the
 *   intraday bars of a day always add up to its `1d` bar, and nothing stored is dropped.
 *   completeness() reports those bars as outside.
 * - Bars on a date the calendar says is closed keep clock buckets from that local midnight
 *   (completeness() lists those dates as non-trading days).
 *
 * Sums are SQLite's sum(): Kahan-Babuska-Neumaier compensated, NULLs skipped, NULL when every
 * value is NULL; high and low ignore NULLs as SQL's max() and min() do.
 */
import type { Bar } from "./bar.ts";
import { dateWallMs, isoDate, localDate, type Calendar, type SessionSpan } from "./calendar.ts";
import { ValidationError } from "./errors.ts";
import { readRange, type Align, type BarTimestamp, type Fill, type Interval, type ReadRange, type TimeRange } from "./query.ts";
import type { ZoneReading } from "./time.ts";
import { DAY_MS, HOUR_MS, MINUTE_MS, startOfLocalDay } from "./time.ts";

/** The length of each intraday interval's bucket. */
export const INTRADAY_MS: Partial<Record<Interval, number>> = {
  "1m": MINUTE_MS,
  "5m": 5 * MINUTE_MS,
  "15m": 15 * MINUTE_MS,
  "30m": 30 * MINUTE_MS,
  "1h": HOUR_MS,
  "2h": 2 * HOUR_MS,
};

/** One trading date's boundaries and sessions, as UTC instants. */
interface Day {
  readonly date: string;
  readonly start: number;
  readonly end: number;
  readonly spans: readonly SessionSpan[];
  /** The day's, week's or month's bucket stamp, computed once per day. */
  calendarStamp?: number;
}

/** A bucket being filled: SQLite's aggregates, kept as it would keep them. */
interface Bucket {
  timestamp: number;
  open: number | null;
  high: number | null;
  low: number | null;
  close: number | null;
  volume: CompensatedSum;
  amount: CompensatedSum;
}

/**
 * SQLite's sum() over doubles (sqlite3 func.c, kahanBabuskaNeumaierStep): the running sum and
 * its error term; the result adds the error unless it is infinite or NaN. `n` counts non-NULLs.
 */
export interface CompensatedSum {
  sum: number;
  err: number;
  n: number;
}

export function addCompensated(acc: CompensatedSum, value: number | null): void {
  if (value === null) return;
  const s = acc.sum;
  const t = s + value;
  acc.err += Math.abs(s) > Math.abs(value) ? s - t + value : value - t + s;
  acc.sum = t;
  acc.n++;
}

export function compensatedResult(acc: CompensatedSum): number | null {
  if (acc.n === 0) return null;
  return Number.isFinite(acc.err) ? acc.sum + acc.err : acc.sum;
}

export interface SessionResampler {
  /** Takes the next stored bar (ascending); returns the bucket it completed, if any. */
  push(bar: Bar): Bar | undefined;
  /** The last bucket, once the bars have run out. */
  finish(): Bar | undefined;
}

/**
 * A resampler over bars pushed in ascending timestamp order. `calendar` null means the clock:
 * intraday buckets from local midnight, days, Monday weeks and months of the local calendar
 * (how `1M` is read with `align: "clock"`).
 */
export function sessionResampler(calendar: Calendar | null, interval: Interval, placement: BarTimestamp, timezone: string): SessionResampler {
  const zone = calendar?.timezone ?? timezone;
  const endMode = placement === "end" ? 1 : 0;
  const size = INTRADAY_MS[interval];
  let day: Day | undefined;
  let bucket: Bucket | undefined;

  function dayOf(timestamp: number): Day {
    // An end-stamped bar at local midnight closes the previous day's last minute.
    const at = timestamp - endMode;
    if (day && at >= day.start && at < day.end) return day;
    const date = localDate(at, zone);
    const wall = dateWallMs(date);
    day = {
      date,
      start: startOfLocalDay(wall, zone),
      end: startOfLocalDay(wall + DAY_MS, zone),
      spans: calendar ? calendar.spansOn(date) : [],
    };
    return day;
  }

  /** The timestamp of the intraday bucket that holds `timestamp` on `today`. */
  function intradayStamp(timestamp: number, today: Day, size: number): number {
    const spans = today.spans;
    if (spans.length === 0) return alignedStamp(timestamp, today.start, Infinity, size);
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i]!;
      const next = spans[i + 1];
      // Inside the session, or before the first one (folded into its first bucket).
      const inside = endMode ? timestamp <= span.close : timestamp < span.close;
      if (inside) return alignedStamp(Math.max(timestamp, span.open + endMode), span.open, span.close, size);
      // After this session and before the next one's bars: this session's last bucket.
      const beforeNext = next === undefined || (endMode ? timestamp <= next.open : timestamp < next.open);
      if (beforeNext) return alignedStamp(span.close - 1 + endMode, span.open, span.close, size);
    }
    throw new Error("unreachable: the last session takes every later bar");
  }

  /** Buckets of `size` from `open`; the last one is cut at `close` (its end stamp is the close). */
  function alignedStamp(timestamp: number, open: number, close: number, size: number): number {
    const k = Math.floor((timestamp - endMode - open) / size);
    return endMode ? Math.min(open + (k + 1) * size, close) : open + k * size;
  }

  function open(timestamp: number, bar: Bar): Bucket {
    const b: Bucket = {
      timestamp,
      open: bar.open,
      high: bar.high,
      low: bar.low,
      close: bar.close,
      volume: { sum: 0, err: 0, n: 0 },
      amount: { sum: 0, err: 0, n: 0 },
    };
    addCompensated(b.volume, bar.volume);
    addCompensated(b.amount, bar.amount);
    return b;
  }

  function close(b: Bucket): Bar {
    return { timestamp: b.timestamp, open: b.open, high: b.high, low: b.low, close: b.close, volume: compensatedResult(b.volume), amount: compensatedResult(b.amount) };
  }

  return {
    push(bar) {
      const today = dayOf(bar.timestamp);
      const stamp = size === undefined ? (today.calendarStamp ??= calendarBucketStamp(calendar, interval, today.date, zone)) : intradayStamp(bar.timestamp, today, size);
      if (bucket && bucket.timestamp === stamp) {
        if (bar.high !== null && (bucket.high === null || bar.high > bucket.high)) bucket.high = bar.high;
        if (bar.low !== null && (bucket.low === null || bar.low < bucket.low)) bucket.low = bar.low;
        bucket.close = bar.close;
        addCompensated(bucket.volume, bar.volume);
        addCompensated(bucket.amount, bar.amount);
        return undefined;
      }
      const done = bucket;
      bucket = open(stamp, bar);
      return done ? close(done) : undefined;
    },
    finish() {
      const done = bucket;
      bucket = undefined;
      return done ? close(done) : undefined;
    },
  };
}

/** A read's fill, checked: which grid missing bars are filled on, or undefined for none. */
export interface Filling {
  readonly calendar: Calendar;
  readonly interval: Interval;
}

/**
 * Resolves `fill: "previous"` when the read is made: stored minutes are filled on the calendar's
 * minute grid, resampled reads on the session grid (so they need `align: "session"`: a clock
 * bucket has no session to say whether it should exist).
 */
export function fillingOf(
  symbol: string,
  interval: Interval | undefined,
  align: Align,
  fill: Fill,
  calendarOf: ((symbol: string) => Calendar | null) | undefined,
): Filling | undefined {
  if (fill === "none") return undefined;
  if (interval !== undefined && align !== "session") {
    throw new ValidationError([{ field: "fill", message: "fill: previous fills the session grid; resampled reads need align: session" }]);
  }
  const calendar = calendarOf?.(symbol) ?? null;
  if (!calendar) throw noCalendarError(symbol, "fill");
  return { calendar, interval: interval ?? "1m" };
}

/**
 * How a resampled read is computed: the shared SQL plan on the clock (src/domain/resample.ts),
 * or the session resampler over stored bars (`calendar` null for clock months, which have no
 * fixed length).
 */
export type Resampling = { interval: Interval; placement: BarTimestamp } & ({ calendar?: undefined } | { calendar: Calendar | null });

/**
 * Resolves a query's alignment when the read is made, so a symbol without a calendar fails there
 * rather than at the first bar. `calendarOf` is asked only for session-aligned reads.
 */
export function resamplingOf(
  symbol: string,
  interval: Interval,
  placement: BarTimestamp,
  align: Align,
  calendarOf: ((symbol: string) => Calendar | null) | undefined,
): Resampling {
  if (align === "session") {
    const calendar = calendarOf?.(symbol) ?? null;
    if (!calendar) throw noCalendarError(symbol);
    return { interval, placement, calendar };
  }
  return interval === "1M" ? { interval, placement, calendar: null } : { interval, placement };
}

/** An `align: "session"` read needs a calendar; say how to give one. */
export function noCalendarError(symbol: string, field = "align"): ValidationError {
  return new ValidationError(
    [{ field, message: `no calendar for ${symbol}: set the database's default calendar (tradelite settings set calendar XSHG) or assign the symbol one` }],
  );
}

/**
 * The stamp of the day, week or month bucket holding `date`: the local midnight of the date, or
 * of the first trading day of its week or month (with no calendar, or none open, its first day).
 */
function calendarBucketStamp(calendar: Calendar | null, interval: Interval, date: string, zone: string): number {
  if (interval === "1d") return startOfLocalDay(dateWallMs(date), zone);
  const first = interval === "1w" ? firstOfWeek(date) : firstOfMonth(date);
  const last = interval === "1w" ? isoDate(dateWallMs(first) + 6 * DAY_MS) : lastOfMonth(date);
  const opening = calendar?.daysBetween(first, last)[0] ?? (calendar ? date : first);
  return startOfLocalDay(dateWallMs(opening), zone);
}

function firstOfWeek(date: string): string {
  const wall = dateWallMs(date);
  // 1970-01-05 (day 4 after the epoch) was a Monday.
  const weekday = (((Math.floor(wall / DAY_MS) - 4) % 7) + 7) % 7;
  return isoDate(wall - weekday * DAY_MS);
}

function firstOfMonth(date: string): string {
  return `${date.slice(0, 8)}01`;
}

function lastOfMonth(date: string): string {
  const d = new Date(dateWallMs(firstOfMonth(date)));
  d.setUTCMonth(d.getUTCMonth() + 1);
  return isoDate(d.getTime() - DAY_MS);
}

/** Stored bars (ascending) resampled by `resampler`, streamed. */
export function* resampleStored(stored: Iterable<Bar>, resampler: SessionResampler): Generator<Bar> {
  for (const bar of stored) {
    const done = resampler.push(bar);
    if (done) yield done;
  }
  const last = resampler.finish();
  if (last) yield last;
}

/** resampleStored over an asynchronous source (PostgreSQL's pages). */
export async function* resampleStoredAsync(stored: AsyncIterable<Bar>, resampler: SessionResampler): AsyncGenerator<Bar> {
  for await (const bar of stored) {
    const done = resampler.push(bar);
    if (done) yield done;
  }
  const last = resampler.finish();
  if (last) yield last;
}

// ---------------------------------------------------------------------------------------------
// Completeness

/** Missing bars in a row, by the timestamps they would have had (inclusive). */
export interface MissingRange {
  start: number;
  end: number;
}

export interface DayCompleteness {
  /** The trading date, YYYY-MM-DD in the calendar's zone. */
  date: string;
  /** Bars the sessions call for at the stored interval (240 one-minute bars on an A-share day). */
  expected: number;
  /** Of those, the bars stored. */
  present: number;
  missing: MissingRange[];
}

export interface Completeness {
  calendar: string;
  /** Every trading day in the range, ascending, complete ones included. */
  days: DayCompleteness[];
  /** Bars on trading days that sit on no expected stamp (an auction bar, a lunch print, 09:31:30). */
  outside: number;
  /** Dates that have bars although the calendar says the exchange was closed. */
  nonTradingDays: string[];
}

/**
 * A completeness read checked and started, the same on every backend: the stored range to read
 * (ascending, into `counter`), the symbol's calendar (refused naming the fix when it has none),
 * and the days reported (open ends take the first and last stored bar's day).
 */
export function startCompleteness(
  symbol: string,
  query: TimeRange | undefined,
  settings: ZoneReading & { readonly barTimestamp: BarTimestamp; readonly calendarOf?: (symbol: string) => Calendar | null },
): { range: ReadRange; counter: CompletenessCounter } {
  const range = readRange(query, settings);
  const calendar = settings.calendarOf?.(symbol) ?? null;
  if (!calendar) throw noCalendarError(symbol, "calendar");
  const counter = completenessCounter(calendar, settings.barTimestamp, {
    ...(query?.start === undefined ? {} : { start: range.start }),
    ...(query?.end === undefined ? {} : { end: range.end }),
  });
  return { range, counter };
}

export interface CompletenessCounter {
  /** The next stored timestamp, ascending. */
  push(timestamp: number): void;
  finish(): Completeness;
}

/**
 * Counts stored bars against the slots a calendar's sessions call for: every `step` from each
 * session's open (end-stamped bars: open + step ... close; start-stamped: open ... close - step).
 * `start` / `end` bound the days reported (a whole day each); open ends take the first and last
 * stored bar's day. Memory is one day's slots, whatever the range.
 */
export function completenessCounter(
  calendar: Calendar,
  placement: BarTimestamp,
  range: { start?: number; end?: number },
  step = MINUTE_MS,
): CompletenessCounter {
  const zone = calendar.timezone;
  const endMode = placement === "end" ? 1 : 0;
  const days: DayCompleteness[] = [];
  const nonTradingDays: string[] = [];
  let outside = 0;
  /** The next trading day not yet reported, once the first day is known. */
  // A range's start names its day as given (midnight is that day's first instant, not the end of
  // the day before, as an end-stamped bar at midnight would be).
  let nextDate: string | undefined = range.start === undefined ? undefined : localDate(range.start, zone);
  let current: { date: string; spans: readonly SessionSpan[]; slots: Uint8Array; start: number; end: number } | undefined;
  let lastClosedDate: string | undefined;
  /** The day of the latest bar pushed, trading or not: an open end reports through it. */
  let lastSeen: string | undefined;

  function dayDate(timestamp: number): string {
    return localDate(timestamp - endMode, zone);
  }

  function slotCount(span: SessionSpan): number {
    return Math.floor((span.close - span.open) / step);
  }

  function report(date: string, spans: readonly SessionSpan[], slots: Uint8Array | undefined): void {
    const missing: MissingRange[] = [];
    let expected = 0;
    let present = 0;
    let offset = 0;
    for (const span of spans) {
      const count = slotCount(span);
      let runStart = -1;
      for (let i = 0; i <= count; i++) {
        const have = i < count ? (slots ? slots[offset + i] === 1 : false) : true;
        if (i < count) {
          expected++;
          if (have) present++;
        }
        const stamp = span.open + (i + endMode) * step;
        if (!have && runStart < 0) runStart = stamp;
        if (have && runStart >= 0) {
          missing.push({ start: runStart, end: stamp - step });
          runStart = -1;
        }
      }
      offset += count;
    }
    days.push({ date, expected, present, missing });
  }

  /** Reports every trading day before `date` not reported yet, as wholly missing. */
  function reportUntil(date: string): void {
    if (nextDate === undefined) return;
    for (const day of calendar.daysBetween(nextDate, date)) {
      if (day >= date) break;
      report(day, calendar.spansOn(day), undefined);
    }
  }

  function closeCurrent(): void {
    if (!current) return;
    report(current.date, current.spans, current.slots);
    nextDate = isoDate(dateWallMs(current.date) + DAY_MS);
    current = undefined;
  }

  function open(date: string): void {
    closeCurrent();
    if (nextDate === undefined) nextDate = date;
    reportUntil(date);
    nextDate = date;
    const spans = calendar.spansOn(date);
    const wall = dateWallMs(date);
    current = {
      date,
      spans,
      slots: new Uint8Array(spans.reduce((n, span) => n + slotCount(span), 0)),
      start: startOfLocalDay(wall, zone) + endMode,
      end: startOfLocalDay(wall + DAY_MS, zone) + endMode,
    };
  }

  return {
    push(timestamp) {
      if (range.end !== undefined && timestamp > range.end) return;
      if (!current || timestamp < current.start || timestamp >= current.end) {
        const date = dayDate(timestamp);
        lastSeen = date;
        if (!calendar.isTradingDay(date)) {
          closeCurrent();
          if (nextDate === undefined) nextDate = date;
          if (lastClosedDate !== date) nonTradingDays.push(date);
          lastClosedDate = date;
          return;
        }
        open(date);
      }
      const day = current!;
      let offset = 0;
      for (const span of day.spans) {
        const count = slotCount(span);
        const index = (timestamp - span.open) / step - endMode;
        if (Number.isInteger(index) && index >= 0 && index < count) {
          day.slots[offset + index] = 1;
          return;
        }
        offset += count;
      }
      outside++;
    },
    finish() {
      closeCurrent();
      const endDate = range.end !== undefined ? dayDate(range.end) : lastSeen;
      if (endDate !== undefined) reportUntil(isoDate(dateWallMs(endDate) + DAY_MS));
      return { calendar: calendar.name, days, outside, nonTradingDays };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Filling

/** A bar a read made up for a missing stamp: zero volume at the previous close. */
export type FilledBar = Bar & { filled: true };

/**
 * The stamps a calendar's sessions call for at `interval` (the grid a session-aligned read's
 * buckets fall on; `1m` is the minute grid of stored bars), ascending, within [from, to].
 */
export function* sessionStamps(calendar: Calendar, interval: Interval, placement: BarTimestamp, from: number, to: number): Generator<number> {
  const endMode = placement === "end" ? 1 : 0;
  const size = INTRADAY_MS[interval];
  const zone = calendar.timezone;
  let previous: number | undefined;
  for (const date of calendar.daysBetween(localDate(from, zone), localDate(to, zone))) {
    if (size === undefined) {
      // Calendar buckets: every trading day maps to its day's, week's or month's stamp.
      const stamp = calendarBucketStamp(calendar, interval, date, zone);
      if (stamp !== previous && stamp >= from && stamp <= to) yield stamp;
      previous = stamp;
      continue;
    }
    for (const span of calendar.spansOn(date)) {
      for (let start = span.open; start < span.close; start += size) {
        const stamp = endMode ? Math.min(start + size, span.close) : start;
        if (stamp > to) return;
        if (stamp >= from) yield stamp;
      }
    }
  }
}

/**
 * Fills a read's bars (pushed ascending): every grid stamp with no bar gets a zero-volume bar at
 * the previous close, between the first known close and the last bar, so nothing is invented
 * before the data starts or after it stops. `previousClose` is the close of the last bar before
 * the range, if any. `push` returns the fillers due before the bar, then the bar.
 */
export function barFiller(stampsFrom: (from: number) => Iterator<number>, previousClose: number | null, rangeStart: number): { push(bar: Bar): Bar[] } {
  let close = previousClose;
  let stamps: Iterator<number> | undefined;
  let next: IteratorResult<number> = { done: true, value: undefined };
  return {
    push(bar) {
      if (!stamps) {
        // With no close before the range, nothing is filled before the first bar: start there.
        stamps = stampsFrom(close === null ? bar.timestamp : rangeStart);
        next = stamps.next();
      }
      const out: Bar[] = [];
      while (!next.done && next.value < bar.timestamp) {
        if (close !== null) out.push(filler(next.value, close));
        next = stamps.next();
      }
      if (!next.done && next.value === bar.timestamp) next = stamps.next();
      if (bar.close !== null) close = bar.close;
      out.push(bar);
      return out;
    },
  };
}

/** barFiller over a synchronous stream (SQLite). */
export function* fillMissing(bars: Iterable<Bar>, filler: { push(bar: Bar): Bar[] }): Generator<Bar> {
  for (const bar of bars) yield* filler.push(bar);
}

/** barFiller over an asynchronous stream (PostgreSQL's pages). */
export async function* fillMissingAsync(bars: AsyncIterable<Bar>, filler: { push(bar: Bar): Bar[] }): AsyncGenerator<Bar> {
  for await (const bar of bars) yield* filler.push(bar);
}

function filler(timestamp: number, close: number): FilledBar {
  return { timestamp, open: close, high: close, low: close, close, volume: 0, amount: 0, filled: true };
}

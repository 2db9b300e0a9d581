/**
 * Derived days: per symbol and local day, the aggregate of its minute bars (open, high, low,
 * close, volume and amount as SQLite's compensated sum state, the minute count, the first and
 * last minute), kept current by every write, so a `1d`, `1w` or `1M` read over years reads one
 * row a day instead of resampling every minute (the continuous-aggregate idea). Every backend
 * stores the same rows and answers with the same rules, written here once:
 *
 * - A day is the local date of a minute in the store's zone (in end stamping, of the instant
 *   1 ms before its stamp), stamped at that date's local midnight: the bucket a clock-aligned
 *   `1d` read puts the minute in (src/domain/resample.ts).
 * - Sums keep SQLite's Kahan-Babuska-Neumaier state (sum, error, count of non-NULLs), so adding
 *   an appended batch continues the sum exactly where a resample of the whole day in timestamp
 *   order would be: the derived day equals the on-the-fly day to the last bit.
 * - Reads of them: src/domain/derived-reads.ts.
 */
import type { Bar } from "./bar.ts";
import { dateWallMs, localDate } from "./calendar.ts";
import type { BarTimestamp } from "./query.ts";
import { addCompensated, compensatedResult, type Bucket } from "./session.ts";
import { DAY_MS, HOUR_MS, startOfLocalDay } from "./time.ts";

/** One derived row: the day's bucket, stamped `day`. `integral`: every volume and amount was a whole number (or NULL). */
export interface DerivedDay extends Omit<Bucket, "timestamp"> {
  day: number;
  minutes: number;
  first: number;
  last: number;
  integral: boolean;
}

/** The columns of a derived row, in the order the backends store and bind them. */
export const DERIVED_COLUMNS = [
  "day", "open", "high", "low", "close", "volume_sum", "volume_err", "volume_n", "amount_sum", "amount_err", "amount_n",
  "minutes", "first_timestamp", "last_timestamp", "integral",
] as const;

export type DerivedRow = Record<(typeof DERIVED_COLUMNS)[number], number | null>;

export function toRow(d: DerivedDay): (number | null)[] {
  return [d.day, d.open, d.high, d.low, d.close, d.volume.sum, d.volume.err, d.volume.n, d.amount.sum, d.amount.err, d.amount.n, d.minutes, d.first, d.last, d.integral ? 1 : 0];
}

export function fromRow(r: DerivedRow): DerivedDay {
  return {
    day: r.day!,
    open: r.open,
    high: r.high,
    low: r.low,
    close: r.close,
    volume: { sum: r.volume_sum!, err: r.volume_err!, n: r.volume_n! },
    amount: { sum: r.amount_sum!, err: r.amount_err!, n: r.amount_n! },
    minutes: r.minutes!,
    first: r.first_timestamp!,
    last: r.last_timestamp!,
    integral: r.integral === 1,
  };
}

/** What derived rows were computed in: the store's zone and stamping when they were built. */
export interface DerivedBasis {
  readonly timezone: string;
  readonly barTimestamp: BarTimestamp;
}

export function basisKey(basis: DerivedBasis): string {
  return `${basis.timezone} ${basis.barTimestamp}`;
}

/** A day's instants: minutes with stamps in [start, end) belong to it. */
export interface DaySpan {
  day: number;
  start: number;
  end: number;
}

/** Maps stamps to their day, remembering the last day's bounds (one zone lookup a day). */
export function dayFinder(basis: DerivedBasis): (timestamp: number) => DaySpan {
  const endMode = basis.barTimestamp === "end" ? 1 : 0;
  let last: DaySpan | undefined;
  return (timestamp) => {
    if (last && timestamp >= last.start && timestamp < last.end) return last;
    const wall = dateWallMs(localDate(timestamp - endMode, basis.timezone));
    const day = startOfLocalDay(wall, basis.timezone);
    last = { day, start: day + endMode, end: startOfLocalDay(wall + DAY_MS, basis.timezone) + endMode };
    return last;
  };
}

/** A minute's values, NULL as null (or NaN, as a validated batch marks it). */
export type MinuteValues = Bar;

function value(v: number | null): number | null {
  // NaN (a validated batch's NULL) is the one value not equal to itself.
  return v !== v ? null : v;
}

/** A new day from its first minute. */
export function startDay(day: number, m: MinuteValues): DerivedDay {
  const d: DerivedDay = {
    day,
    open: value(m.open),
    high: value(m.high),
    low: value(m.low),
    close: value(m.close),
    volume: { sum: 0, err: 0, n: 0 },
    amount: { sum: 0, err: 0, n: 0 },
    minutes: 1,
    first: m.timestamp,
    last: m.timestamp,
    integral: true,
  };
  addSums(d, m);
  return d;
}

/** The next minute of a day (later than its last), added as SQLite's aggregates would add it. */
export function extendDay(d: DerivedDay, m: MinuteValues): void {
  const high = value(m.high);
  const low = value(m.low);
  if (high !== null && (d.high === null || high > d.high)) d.high = high;
  if (low !== null && (d.low === null || low < d.low)) d.low = low;
  d.close = value(m.close);
  d.minutes++;
  d.last = m.timestamp;
  addSums(d, m);
}

function addSums(d: DerivedDay, m: MinuteValues): void {
  const volume = value(m.volume);
  const amount = value(m.amount);
  addCompensated(d.volume, volume);
  addCompensated(d.amount, amount);
  if ((volume !== null && !Number.isInteger(volume)) || (amount !== null && !Number.isInteger(amount))) d.integral = false;
}

/**
 * Ascending minutes folded into days. `existing` gives a day's stored row to continue (an append
 * after its last minute); the caller decides that it may.
 */
export function aggregateDays(minutes: Iterable<MinuteValues>, dayOf: (timestamp: number) => DaySpan, existing?: (day: number, first: MinuteValues) => DerivedDay | undefined): DerivedDay[] {
  const days: DerivedDay[] = [];
  let current: DerivedDay | undefined;
  for (const m of minutes) {
    const { day } = dayOf(m.timestamp);
    if (current && current.day === day) {
      extendDay(current, m);
      continue;
    }
    current = existing?.(day, m);
    if (current) extendDay(current, m);
    else current = startDay(day, m);
    days.push(current);
  }
  return days;
}

/** A validated batch's columns (rows in `order`, ascending and distinct), as batchDays reads them. */
export interface MinuteColumns {
  readonly timestamp: ArrayLike<number>;
  readonly open: ArrayLike<number>;
  readonly high: ArrayLike<number>;
  readonly low: ArrayLike<number>;
  readonly close: ArrayLike<number>;
  readonly volume: ArrayLike<number>;
  readonly amount: ArrayLike<number>;
  readonly order: Uint32Array | null;
}

/**
 * What a tradelite batch does to the days it touches: the rows to store (a day's stored row
 * continued when the batch starts after its last minute, or a new day) and the days to
 * recompute from their minutes (the batch lands inside or before minutes already stored).
 * `stored` gives a day's row, if it has one.
 */
export function batchDays(batch: MinuteColumns, count: number, dayOf: (timestamp: number) => DaySpan, stored: (day: number) => DerivedDay | undefined): { store: DerivedDay[]; recompute: number[] } {
  // The hot path of every insertBars: the columns read in place, one day lookup per day.
  const days: DerivedDay[] = [];
  const recompute: number[] = [];
  const { timestamp, order } = batch;
  const scratch: MinuteValues = { timestamp: 0, open: null, high: null, low: null, close: null, volume: null, amount: null };
  let span: DaySpan | undefined;
  let current: DerivedDay | undefined;
  for (let position = 0; position < count; position++) {
    const row = order ? order[position]! : position;
    const t = timestamp[row]!;
    const next = span === undefined || t < span.start || t >= span.end;
    if (next) span = dayOf(t);
    scratch.timestamp = t;
    scratch.open = batch.open[row]!;
    scratch.high = batch.high[row]!;
    scratch.low = batch.low[row]!;
    scratch.close = batch.close[row]!;
    scratch.volume = batch.volume[row]!;
    scratch.amount = batch.amount[row]!;
    if (next) {
      const existing = stored(span!.day);
      if (existing && existing.last >= t) {
        recompute.push(span!.day);
        current = undefined;
      } else if (existing) {
        current = existing;
        extendDay(current, scratch);
        days.push(current);
      } else {
        current = startDay(span!.day, scratch);
        days.push(current);
      }
    } else if (current) extendDay(current, scratch);
  }
  return { store: days, recompute };
}

/** The day stamps of a batch (ascending, distinct): the rows a backend fetches before batchDays. */
export function daysOfBatch(batch: MinuteColumns, count: number, dayOf: (timestamp: number) => DaySpan): number[] {
  const days: number[] = [];
  for (let position = 0; position < count; position++) {
    const { day } = dayOf(batch.timestamp[batch.order ? batch.order[position]! : position]!);
    if (days[days.length - 1] !== day) days.push(day);
  }
  return days;
}

/** The days marked dirty hours may have touched. */
export function dirtyDays(hours: Iterable<number>, basis: DerivedBasis): Set<number> {
  const dayOf = dayFinder(basis);
  const days = new Set<number>();
  for (const hour of hours) for (const day of daysOfHour(hour, dayOf)) days.add(day);
  return days;
}

/** The `1d` bar of a derived day. */
export function dayBar(d: DerivedDay): Bar {
  return { timestamp: d.day, open: d.open, high: d.high, low: d.low, close: d.close, volume: compensatedResult(d.volume), amount: compensatedResult(d.amount) };
}

/**
 * The day stamps a dirty mark of hour `hour` (a stamp divided by 3,600,000, truncated as SQL's
 * integer division truncates) may have touched.
 */
export function daysOfHour(hour: number, dayOf: (timestamp: number) => DaySpan): number[] {
  const low = dayOf((hour - 1) * HOUR_MS).day;
  const high = dayOf((hour + 1) * HOUR_MS).day;
  const middle = dayOf(hour * HOUR_MS).day;
  return [...new Set([low, middle, high])];
}

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
 *   order would be: the derived day equals the on-the-fly day to the last bit. Each day also
 *   keeps the state of its week and of its month so far (from the first day of each stored), so
 *   a week's or month's sums are its last day's, equal to resampling its minutes: a sum of day
 *   sums could round differently. A change to a day recomputes the days after it in its week and
 *   month (chainEnd).
 * - Reads of them: src/domain/derived-reads.ts.
 */
import type { Bar } from "./bar.ts";
import { dateWallMs, localDate } from "./calendar.ts";
import type { BarTimestamp } from "./query.ts";
import { addCompensated, clockBucketStamp, compensatedResult, type Bucket, type CompensatedSum } from "./session.ts";
import { DAY_MS, HOUR_MS, startOfLocalDay } from "./time.ts";

/** Compensated volume and amount sums. */
export interface Sums {
  volume: CompensatedSum;
  amount: CompensatedSum;
}

/** One derived row: the day's bucket, stamped `day`, and its week's and month's sums so far. */
export interface DerivedDay extends Omit<Bucket, "timestamp"> {
  day: number;
  minutes: number;
  first: number;
  last: number;
  week: Sums;
  month: Sums;
}

const SUM_COLUMNS = (prefix: string) => [`${prefix}volume_sum`, `${prefix}volume_err`, `${prefix}volume_n`, `${prefix}amount_sum`, `${prefix}amount_err`, `${prefix}amount_n`] as const;

/** The columns of a derived row, in the order the backends store and bind them. */
export const DERIVED_COLUMNS = ["day", "open", "high", "low", "close", ...SUM_COLUMNS(""), "minutes", "first_timestamp", "last_timestamp", ...SUM_COLUMNS("week_"), ...SUM_COLUMNS("month_")] as const;

export type DerivedRow = Record<(typeof DERIVED_COLUMNS)[number], number | null>;

const sumValues = (s: Sums) => [s.volume.sum, s.volume.err, s.volume.n, s.amount.sum, s.amount.err, s.amount.n];
const sumsOf = (r: DerivedRow, prefix: "" | "week_" | "month_"): Sums => {
  const at = (name: string) => r[`${prefix}${name}` as keyof DerivedRow]!;
  return { volume: { sum: at("volume_sum"), err: at("volume_err"), n: at("volume_n") }, amount: { sum: at("amount_sum"), err: at("amount_err"), n: at("amount_n") } };
};

export function toRow(d: DerivedDay): (number | null)[] {
  return [d.day, d.open, d.high, d.low, d.close, ...sumValues(d), d.minutes, d.first, d.last, ...sumValues(d.week), ...sumValues(d.month)];
}

/** A row read as an array of DERIVED_COLUMNS' values (a statement's values(): no object per column). */
export function fromValues(values: readonly (number | null)[]): DerivedDay {
  const row = {} as DerivedRow;
  DERIVED_COLUMNS.forEach((column, i) => (row[column] = values[i]!));
  return fromRow(row);
}

export function fromRow(r: DerivedRow): DerivedDay {
  const own = sumsOf(r, "");
  return {
    day: r.day!,
    open: r.open,
    high: r.high,
    low: r.low,
    close: r.close,
    volume: own.volume,
    amount: own.amount,
    minutes: r.minutes!,
    first: r.first_timestamp!,
    last: r.last_timestamp!,
    week: sumsOf(r, "week_"),
    month: sumsOf(r, "month_"),
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

const noSums = (): Sums => ({ volume: { sum: 0, err: 0, n: 0 }, amount: { sum: 0, err: 0, n: 0 } });
const copySums = (s: Sums): Sums => ({ volume: { ...s.volume }, amount: { ...s.amount } });

/** The week and month stamps of a day stamp, remembered. */
export type ChainOf = (day: number) => { week: number; month: number };

/** chainFinder's answers, by basis and day, kept for the process: every new day asks for them. */
const chainStamps = new Map<string, { week: number; month: number }>();

export function chainFinder(basis: DerivedBasis): ChainOf {
  const prefix = basisKey(basis);
  return (day) => {
    const key = `${prefix} ${day}`;
    let found = chainStamps.get(key);
    if (!found) {
      const date = localDate(day, basis.timezone);
      found = { week: clockBucketStamp("1w", date, basis.timezone), month: clockBucketStamp("1M", date, basis.timezone) };
      if (chainStamps.size >= 4_096) chainStamps.clear();
      chainStamps.set(key, found);
    }
    return found;
  };
}

/** chainEnd's answers, by basis and day: a live batch asks for its day's at every write. */
const chainEnds = new Map<string, number>();

/**
 * The day stamp where the chains through `day` end (exclusive): the later of its next week's and
 * next month's first day. A change to `day` recomputes every day from it to there.
 */
export function chainEnd(day: number, basis: DerivedBasis): number {
  const key = `${basisKey(basis)} ${day}`;
  const known = chainEnds.get(key);
  if (known !== undefined) return known;
  const { timezone } = basis;
  const next = (interval: "1w" | "1M") => {
    const wall = new Date(dateWallMs(localDate(clockBucketStamp(interval, localDate(day, timezone), timezone), timezone)));
    if (interval === "1w") wall.setUTCDate(wall.getUTCDate() + 7);
    else wall.setUTCMonth(wall.getUTCMonth() + 1);
    return startOfLocalDay(wall.getTime(), timezone);
  };
  const end = Math.max(next("1w"), next("1M"));
  if (chainEnds.size >= 4_096) chainEnds.clear();
  chainEnds.set(key, end);
  return end;
}

/** A span of days to recompute: day stamps [from, to), their minutes' stamps [start, end). */
export interface RecomputeSpan {
  from: number;
  to: number;
  start: number;
  end: number;
}

/** The spans recomputing days `stamps` rewrites: each day to the end of its chains, overlaps merged. */
export function recomputeSpans(stamps: Iterable<number>, basis: DerivedBasis): RecomputeSpan[] {
  const endMode = basis.barTimestamp === "end" ? 1 : 0;
  const spans: RecomputeSpan[] = [];
  for (const stamp of [...stamps].sort((a, b) => a - b)) {
    const to = chainEnd(stamp, basis);
    const last = spans[spans.length - 1];
    if (last && stamp < last.to) {
      last.to = Math.max(last.to, to);
      last.end = last.to + endMode;
    } else spans.push({ from: stamp, to, start: stamp + endMode, end: to + endMode });
  }
  return spans;
}

/** A new day from its first minute, its week and month continuing `previous` where it shares them. */
export function startDay(day: number, m: MinuteValues, previous: DerivedDay | undefined, chainOf: ChainOf): DerivedDay {
  const here = chainOf(day);
  const before = previous ? chainOf(previous.day) : undefined;
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
    week: previous && before!.week === here.week ? copySums(previous.week) : noSums(),
    month: previous && before!.month === here.month ? copySums(previous.month) : noSums(),
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
  addCompensated(d.week.volume, volume);
  addCompensated(d.week.amount, amount);
  addCompensated(d.month.volume, volume);
  addCompensated(d.month.amount, amount);
}

/**
 * Ascending minutes folded into days, chained to `previous` (the stored day before the first).
 */
export function aggregateDays(minutes: Iterable<MinuteValues>, dayOf: (timestamp: number) => DaySpan, chainOf: ChainOf, previous?: DerivedDay): DerivedDay[] {
  const days: DerivedDay[] = [];
  let current: DerivedDay | undefined;
  for (const m of minutes) {
    const { day } = dayOf(m.timestamp);
    if (current && current.day === day) {
      extendDay(current, m);
      continue;
    }
    current = startDay(day, m, current ?? previous, chainOf);
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

/** A batch day's stored row, if any, and whether a later day of its chains is stored. */
export interface StoredDay {
  row: DerivedDay | undefined;
  later: boolean;
}

/**
 * What a tradelite batch does to the days it touches: the rows to store (a day's stored row
 * continued when the batch starts after its last minute and no later day shares its week or
 * month, or a new day chained to `before`) and the days to recompute from their minutes with
 * the rest of their chains (the batch lands inside or before stored minutes, or before a stored
 * day of the same week or month).
 */
export function batchDays(
  batch: MinuteColumns,
  count: number,
  dayOf: (timestamp: number) => DaySpan,
  chainOf: ChainOf,
  stored: (day: number) => StoredDay,
  before: (day: number) => DerivedDay | undefined,
): { store: DerivedDay[]; recompute: number[] } {
  // The hot path of every insertBars: the columns read in place, one lookup per day.
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
      const found = stored(span!.day);
      if (found.later || (found.row && found.row.last >= t)) {
        recompute.push(span!.day);
        current = undefined;
      } else if (found.row) {
        current = found.row;
        extendDay(current, scratch);
        days.push(current);
      } else {
        current = startDay(span!.day, scratch, days[days.length - 1] ?? before(span!.day), chainOf);
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

/**
 * Reads of derived days (src/domain/derived-days.ts), the same on every backend: which reads they
 * answer, and for a read the buckets taken from the days and the spans resampled on the fly.
 *
 * A read takes a derived day only when it is clean (no foreign write marked it) and lies wholly
 * inside the range; an edge day cut by the range, a marked day, or a week or month whose days'
 * sums are not all whole numbers (their sum of sums could round differently from the sum of the
 * minutes) is resampled on the fly over its own span. Adjusted reads scale each day by its one
 * ratio (a factor changes at a trading date: multiplying by a positive ratio keeps max and min);
 * a day a factor changes inside, or `adjustVolume`, goes on the fly.
 */
import type { Bar } from "./bar.ts";
import { dateWallMs, localDate } from "./calendar.ts";
import type { BarAdjuster } from "./adjusted-reads.ts";
import { dayBar, dayFinder, type DerivedBasis, type DerivedDay } from "./derived-days.ts";
import type { Interval, ReadRange } from "./query.ts";
import { clockBucketStamp, compensatedResult } from "./session.ts";
import { DAY_MS, offsetSpanAt, startOfLocalDay } from "./time.ts";

/** The intervals derived days answer (clock-aligned, in the basis's zone and stamping). */
export const DERIVED_INTERVALS: readonly Interval[] = ["1d", "1w", "1M"];

/** A piece of a derived read: bars straight from derived days, or a span to resample on the fly. */
export type DerivedPiece = { kind: "bars"; bars: Bar[] } | { kind: "resample"; range: ReadRange };

/** A read the derived days can serve: its interval, range, and (adjusted) its adjuster. */
export interface DerivedRead {
  interval: Interval;
  range: ReadRange;
  basis: DerivedBasis;
  adjust?: BarAdjuster;
}

/**
 * The pieces of a derived read in ascending order: for each bucket (a day, week or month), its
 * bar from the derived days, or its span cut to the range to resample on the fly. `days` are
 * the derived rows of the range (ascending), `dirty` the day stamps marked by foreign writes.
 */
export function planDerivedRead(read: DerivedRead, days: readonly DerivedDay[], dirty: ReadonlySet<number>): DerivedPiece[] {
  const { interval, range, basis, adjust } = read;
  const endMode = basis.barTimestamp === "end" ? 1 : 0;
  const zone = basis.timezone;
  const dayOf = dayFinder(basis);
  // Buckets that have marked days but no row still need resampling: list marked days as rows.
  const stamps = new Set(days.map((d) => d.day));
  const rows: (DerivedDay | number)[] = [...days];
  for (const day of dirty) if (!stamps.has(day) && day + DAY_MS * 2 > range.start && day <= range.end) rows.push(day);
  rows.sort((a, b) => (typeof a === "number" ? a : a.day) - (typeof b === "number" ? b : b.day));

  const pieces: DerivedPiece[] = [];
  // `end` (exclusive) of a `1d` bucket is computed only when the day is resampled: a zone
  // lookup per day was most of a ten-year read.
  let bucket: { stamp: number; start: number; end: number | undefined; days: DerivedDay[]; exact: boolean } | undefined;
  const flush = () => {
    if (!bucket) return;
    if (bucket.exact && bucket.days.length > 0) pushBar(pieces, combine(bucket.stamp, bucket.days, adjust));
    else if (!bucket.exact) {
      const start = Math.max(range.start, bucket.start);
      const end = Math.min(range.end, (bucket.end ?? dayOf(bucket.start).end) - 1);
      if (start <= end) pushResample(pieces, { start, end });
    }
    bucket = undefined;
  };
  for (const row of rows) {
    const day = typeof row === "number" ? row : row.day;
    const same = bucket !== undefined && (interval === "1d" ? bucket.stamp === day : day + endMode < bucket.end!);
    if (!same) {
      flush();
      if (interval === "1d") bucket = { stamp: day, start: day + endMode, end: undefined, days: [], exact: true };
      else {
        const date = localDate(day, zone);
        const span = bucketSpan(interval, date, zone, endMode);
        bucket = { stamp: clockBucketStamp(interval, date, zone), start: span.start, end: span.end, days: [], exact: true };
      }
    }
    const current = bucket!;
    if (typeof row === "number" || dirty.has(day) || row.first < range.start || row.last > range.end) current.exact = false;
    else if (adjust && (adjust.adjustVolume || adjust.ratioOver(row.first, row.last) === undefined)) current.exact = false;
    // Resampling in SQL aggregates each side of a zone offset change apart and adds the two sums
    // (src/domain/resample.ts): a bucket whose minutes straddle one is resampled, never derived.
    else if (offsetSpanAt(zone, current.days[0]?.first ?? row.first).end <= row.last) current.exact = false;
    else {
      if (current.days.length > 0 && !(row.integral && current.days.every((d) => d.integral) && safeTotal([...current.days, row]))) current.exact = false;
      current.days.push(row);
    }
  }
  flush();
  return pieces;
}

/** Whole-number sums add exactly in any grouping while every partial sum stays below 2^53. */
function safeTotal(days: readonly DerivedDay[]): boolean {
  let volume = 0;
  let amount = 0;
  for (const day of days) {
    volume += Math.abs(compensatedResult(day.volume) ?? 0);
    amount += Math.abs(compensatedResult(day.amount) ?? 0);
  }
  return volume <= Number.MAX_SAFE_INTEGER && amount <= Number.MAX_SAFE_INTEGER;
}

/** Consecutive buckets to resample become one span: one resample, not one per bucket. */
function pushResample(pieces: DerivedPiece[], range: ReadRange): void {
  const last = pieces[pieces.length - 1];
  if (last?.kind === "resample") last.range.end = range.end;
  else pieces.push({ kind: "resample", range });
}

function pushBar(pieces: DerivedPiece[], bar: Bar): void {
  const last = pieces[pieces.length - 1];
  if (last?.kind === "bars") last.bars.push(bar);
  else pieces.push({ kind: "bars", bars: [bar] });
}

/** A week's or month's instants: from its first day's start to its last day's end. */
function bucketSpan(interval: Interval, date: string, zone: string, endMode: number): { start: number; end: number } {
  const first = clockBucketStamp(interval, date, zone);
  const next = new Date(dateWallMs(localDate(first, zone)));
  if (interval === "1w") next.setUTCDate(next.getUTCDate() + 7);
  else next.setUTCMonth(next.getUTCMonth() + 1);
  return { start: first + endMode, end: startOfLocalDay(next.getTime(), zone) + endMode };
}

/** A bucket's bar from its days (adjusted day by day first), ascending. */
function combine(stamp: number, days: readonly DerivedDay[], adjust: BarAdjuster | undefined): Bar {
  const bars = days.map((d) => {
    const bar = dayBar(d);
    if (!adjust) return bar;
    // The day's one ratio is the ratio of its first minute (planDerivedRead checked it is one).
    bar.timestamp = d.first;
    adjust(bar);
    bar.timestamp = d.day;
    return bar;
  });
  if (bars.length === 1) return { ...bars[0]!, timestamp: stamp };
  const out: Bar = { ...bars[0]!, timestamp: stamp };
  for (let i = 1; i < bars.length; i++) {
    const b = bars[i]!;
    if (b.high !== null && (out.high === null || b.high > out.high)) out.high = b.high;
    if (b.low !== null && (out.low === null || b.low < out.low)) out.low = b.low;
    out.close = b.close;
    // Whole numbers below 2^53 add exactly in any grouping: planDerivedRead checked `integral`.
    out.volume = b.volume === null ? out.volume : (out.volume ?? 0) + b.volume;
    out.amount = b.amount === null ? out.amount : (out.amount ?? 0) + b.amount;
  }
  return out;
}

/** A derived read's bars, ascending: its pieces in order, the resampled ones from `onTheFly`. */
export function* derivedBars(pieces: readonly DerivedPiece[], onTheFly: (range: ReadRange) => Iterable<Bar>): Generator<Bar> {
  for (const piece of pieces) {
    if (piece.kind === "bars") yield* piece.bars;
    else yield* onTheFly(piece.range);
  }
}

/** derivedBars over an asynchronous resampler (PostgreSQL). */
export async function* derivedBarsAsync(pieces: readonly DerivedPiece[], onTheFly: (range: ReadRange) => AsyncIterable<Bar>): AsyncGenerator<Bar> {
  for (const piece of pieces) {
    if (piece.kind === "bars") yield* piece.bars;
    else yield* onTheFly(piece.range);
  }
}

/**
 * Whether a read's shape is one derived days can answer (the rest resamples on the fly): `1d`,
 * `1w` or `1M` on the clock, and a session-aligned `1d` whose calendar's zone is the store's (a
 * trading date is then the local date, as the session resampler groups it).
 */
export function derivedReadable(
  shape: { interval: Interval | undefined; align: string; derived?: false; source?: string },
  how: { calendar?: { timezone: string } | null },
  timezone: string,
): boolean {
  if (shape.derived === false || shape.source === "stored" || shape.interval === undefined || !DERIVED_INTERVALS.includes(shape.interval)) return false;
  if (shape.align === "clock") return true;
  return shape.interval === "1d" && !!how.calendar && how.calendar.timezone === timezone;
}

/**
 * Resampling's plan, shared by every backend: which source bars to aggregate with which shift,
 * what timestamp each bucket carries, and how a bucket cut in two is merged back. A backend only
 * answers the plan's two questions, in SQL: "the first bar at or after `from`" (seek) and "these
 * bars aggregated into buckets of `size` on the clock shifted by `shift`" (aggregate). The plan
 * is a generator the backend drives (synchronously for SQLite, with awaits for PostgreSQL), so
 * both compute the same buckets by construction.
 *
 * The source range is cut where the zone's offset changes (each piece is one aggregation with a
 * constant shift) and into windows of at most RESAMPLE_WINDOW_BUCKETS buckets (and, when the
 * backend asks, `maxWindowSpanMs` of source time), so memory (and the time between steps) stays
 * bounded however long the range. Empty stretches are skipped by seeking the next bar.
 */
import type { Bar } from "./bar.ts";
import { INTERVAL_SPECS, type BarTimestamp, type ClockInterval, type ReadRange } from "./query.ts";
import { offsetSpanAt, startOfLocalDay } from "./time.ts";

/** One bucket as the aggregation returns it; `bucket` is its start on the shifted clock. */
export type BucketRow = Omit<Bar, "timestamp"> & { bucket: number };

/** Buckets per aggregation at most: bounds the memory of one window's result. */
export const RESAMPLE_WINDOW_BUCKETS = 8_192;

/**
 * Source time per aggregation at most, for a backend that cannot stop a running statement
 * (bun:sqlite has no interrupt): a long resample then has a step boundary, where a cancelled
 * read stops, every few ms. A weekly resample of 1M minute bars was one 0.5 s statement on
 * SQLite, and in 28-day windows (~6,700 A-share minutes each) it costs the same within noise.
 * PostgreSQL cancels the statement itself and passes no limit: there the extra round trips made
 * the same resample ~20% slower (measured, 13-15 s against 17 s).
 */
export const RESAMPLE_WINDOW_SPAN_MS = 28 * 86_400_000;

export type ResampleStep =
  | { readonly kind: "seek"; readonly from: number; readonly end: number }
  | { readonly kind: "aggregate"; readonly start: number; readonly end: number; readonly size: number; readonly shift: number }
  | { readonly kind: "bar"; readonly bar: Bar };

/** What the backend answers: a seek's next timestamp (or undefined), an aggregation's rows. */
export type ResampleAnswer = number | undefined | BucketRow[];

/**
 * Buckets are computed on the local clock: x = timestamp + shift, where shift is the zone's
 * offset (constant over the span queried), minus 1 ms in end mode so a bar stamped at a bucket's
 * end falls in that bucket, minus the phase that aligns weeks on Monday. The bucket is x floored
 * to a multiple of size (floored correctly for negative x too).
 */
export function* resamplePlan(
  range: ReadRange,
  interval: ClockInterval,
  placement: BarTimestamp,
  timezone: string,
  maxWindowSpanMs = Infinity,
): Generator<ResampleStep, void, ResampleAnswer> {
  const spec = INTERVAL_SPECS[interval];
  const endMode = placement === "end" ? 1 : 0;
  const windowMs = Math.min(spec.ms * RESAMPLE_WINDOW_BUCKETS, maxWindowSpanMs);
  let pending: Bar | undefined;
  let cursor = (yield { kind: "seek", from: range.start, end: range.end }) as number | undefined;
  while (cursor !== undefined) {
    const span = offsetSpanAt(timezone, cursor);
    const shift = span.offset - endMode - spec.phase;
    let last = Math.min(span.end - 1, range.end, cursor + windowMs - 1);
    if (last < span.end - 1 && last < range.end) {
      // A window ends where a bucket starts, so each bucket is one aggregation: its sums do not
      // depend on where the read began (derived days, src/domain/derived-days.ts, rely on it).
      const x = last + 1 + shift;
      const boundary = x - (((x % spec.ms) + spec.ms) % spec.ms) - shift;
      if (boundary > cursor) last = boundary - 1;
    }
    const rows = (yield { kind: "aggregate", start: cursor, end: last, size: spec.ms, shift }) as BucketRow[];
    for (const { bucket, ...values } of rows) {
      const localStart = bucket + spec.phase;
      // Calendar buckets carry the start of their local day or week (the trading date) in both
      // modes; intraday buckets carry their start, or their end in end mode.
      const timestamp = spec.calendar ? startOfLocalDay(localStart, timezone) : localStart - span.offset + endMode * spec.ms;
      const bar: Bar = { timestamp, ...values };
      // A bucket cut in two (by an offset change or a window edge) is merged back into one bar.
      if (pending && pending.timestamp === timestamp) {
        mergeInto(pending, bar);
      } else {
        if (pending) yield { kind: "bar", bar: pending };
        pending = bar;
      }
    }
    cursor = last + 1 > range.end ? undefined : ((yield { kind: "seek", from: last + 1, end: range.end }) as number | undefined);
  }
  if (pending) yield { kind: "bar", bar: pending };
}

function mergeInto(target: Bar, next: Bar): void {
  target.high = pick(target.high, next.high, Math.max);
  target.low = pick(target.low, next.low, Math.min);
  target.close = next.close;
  target.volume = pick(target.volume, next.volume, (a, b) => a + b);
  target.amount = pick(target.amount, next.amount, (a, b) => a + b);
}

/** Combines two nullable aggregates the way SQL does: NULLs are ignored. */
function pick(a: number | null, b: number | null, combine: (a: number, b: number) => number): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return combine(a, b);
}

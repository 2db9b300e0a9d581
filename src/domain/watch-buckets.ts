/**
 * store.watch()'s resampled events (src/domain/watch.ts): each bucket a change touched,
 * re-resampled from the stored bars of its whole day, week or month with the resampler every
 * adjusted read uses (src/domain/session.ts), with whether it is final.
 */
import type { Bar } from "./bar.ts";
import { Calendar, dateWallMs, isoDate, localDate } from "./calendar.ts";
import type { Align, BarQuery, BarTimestamp, Interval } from "./query.ts";
import { INTRADAY_MS, noCalendarError, sessionResampler } from "./session.ts";
import type { Store } from "./store.ts";
import type { WatchReads } from "./watch-reads.ts";
import { DAY_MS, MINUTE_MS, startOfLocalDay } from "./time.ts";

/** The stored-bar range of a change, as watch() delivers it. */
export interface ChangeRange {
  symbol: string;
  first: number;
  last: number;
}

/** What a resampled watch asked for. */
export interface Bucketing {
  interval: Interval;
  align: Align;
  barTimestamp: BarTimestamp;
  adjusting: Pick<BarQuery, "adjust" | "asOf" | "adjustVolume">;
}

/** A bar to deliver, and whether it is final. */
export interface Delivery {
  bar: Bar;
  final: boolean;
}

export async function calendarFor(store: Store, symbol: string, cache: Map<string, Calendar | null>): Promise<Calendar> {
  const name = await store.calendars.of(symbol);
  let calendar = name === null ? null : cache.get(name);
  if (name !== null && calendar === undefined) {
    const data = await store.calendars.get(name);
    calendar = data ? new Calendar(data) : null;
    cache.set(name, calendar);
  }
  if (!calendar) throw noCalendarError(symbol);
  return calendar;
}

/**
 * The stored-bar range of the day, week or month holding `timestamp` (intraday buckets never
 * cross a local day, on the clock or a calendar): every bar of every bucket it holds.
 */
function windowOf(timestamp: number, interval: Interval, endMode: number, zone: string): { start: number; end: number } {
  let first = dateWallMs(localDate(timestamp - endMode, zone));
  let next: number;
  if (interval === "1w") {
    // 1970-01-05 (day 4 after the epoch) was a Monday.
    first -= ((((Math.floor(first / DAY_MS) - 4) % 7) + 7) % 7) * DAY_MS;
    next = first + 7 * DAY_MS;
  } else if (interval === "1M") {
    first = dateWallMs(`${isoDate(first).slice(0, 8)}01`);
    const month = new Date(first);
    month.setUTCMonth(month.getUTCMonth() + 1);
    next = month.getTime();
  } else {
    next = first + DAY_MS;
  }
  return { start: startOfLocalDay(first, zone) + endMode, end: startOfLocalDay(next, zone) - 1 + endMode };
}

/** One resampled bucket and the stored bars it holds. */
interface Bucket {
  bar: Bar;
  first: number;
  last: number;
  touched: boolean;
}

/**
 * The buckets a change touched, re-resampled from their whole window, after `skip`; and, when
 * the change opened a bucket, the one before it, which that closed.
 */
export async function* resampledEvents(
  store: Store,
  reads: WatchReads,
  group: ChangeRange,
  skip: number,
  watching: Bucketing,
  calendars: Map<string, Calendar | null>,
): AsyncGenerator<Delivery> {
  const interval = watching.interval;
  const calendar = watching.align === "session" ? await calendarFor(store, group.symbol, calendars) : null;
  const zone = calendar?.timezone ?? store.timezone;
  const endMode = watching.barTimestamp === "end" ? 1 : 0;
  const size = INTRADAY_MS[interval];
  const closedByLastMinute = (bucket: Bucket) =>
    size !== undefined && bucket.last === (endMode ? bucket.bar.timestamp : bucket.bar.timestamp + size - MINUTE_MS);
  const latest = (await reads.latest(group.symbol))?.timestamp ?? -Infinity;
  let from: number | undefined = group.first;
  let opening = true;
  while (from !== undefined && from <= group.last) {
    const window = windowOf(from, interval, endMode, zone);
    const stored = await reads.bars(group.symbol, { start: window.start, end: window.end, ...watching.adjusting });
    const buckets = resampleWindow(stored, calendar, interval, watching.barTimestamp, zone, group);
    const firstTouched = buckets.findIndex((bucket) => bucket.touched);
    for (let i = 0; i < buckets.length; i++) {
      const bucket = buckets[i]!;
      const final = i < buckets.length - 1 || latest > window.end || closedByLastMinute(bucket);
      const opened = opening && i === firstTouched - 1 && buckets[i + 1]!.first >= group.first && !closedByLastMinute(bucket);
      if ((bucket.touched || opened) && bucket.bar.timestamp > skip) yield { bar: bucket.bar, final };
    }
    opening = false;
    if (window.end >= group.last) return;
    // The next stored bar of the range, past any window without one.
    const next = await reads.bars(group.symbol, { start: window.end + 1, end: group.last, limit: 1 });
    from = next[0]?.timestamp;
  }
}

function resampleWindow(stored: readonly Bar[], calendar: Calendar | null, interval: Interval, placement: BarTimestamp, zone: string, group: ChangeRange): Bucket[] {
  const resampler = sessionResampler(calendar, interval, placement, zone);
  const buckets: Bucket[] = [];
  let current: Omit<Bucket, "bar"> | undefined;
  for (const bar of stored) {
    const touched = bar.timestamp >= group.first && bar.timestamp <= group.last;
    const done = resampler.push(bar);
    if (done) {
      buckets.push({ bar: done, ...current! });
      current = undefined;
    }
    if (current) {
      current.last = bar.timestamp;
      current.touched ||= touched;
    } else {
      current = { first: bar.timestamp, last: bar.timestamp, touched };
    }
  }
  const last = resampler.finish();
  if (last) buckets.push({ bar: last, ...current! });
  return buckets;
}

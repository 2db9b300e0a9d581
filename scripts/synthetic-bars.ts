/**
 * Synthetic A-share minute bars for the benchmark: a seeded random walk stamped on the
 * exchange's session minutes, so every run on every machine writes the same rows.
 */

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Asia/Shanghai has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact. */
export const SHANGHAI_OFFSET_MS = 8 * 3_600_000;
export const SESSION_MINUTES_PER_DAY = 240;

/**
 * Minutes after local midnight of the day's 240 one-minute bars, 09:31-11:30 and 13:01-15:00:
 * Chinese vendors stamp a minute bar at its end, so the first bar of the 09:30 open is 09:31.
 */
export const SESSION_MINUTES: readonly number[] = [
  ...Array.from({ length: 120 }, (_, k) => 9 * 60 + 31 + k),
  ...Array.from({ length: 120 }, (_, k) => 13 * 60 + 1 + k),
];

/** A bar with every field present, as the generator makes them; assignable to BarInput. */
export interface SyntheticBar {
  timestamp: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  amount: number;
}

/** Bars as Float64Array columns, the shape `insertBars` accepts as BarColumns. */
export interface MinuteBarColumns {
  timestamp: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
  amount: Float64Array;
}

/** mulberry32: a tiny 32-bit seeded PRNG, good enough for synthetic prices and reproducible everywhere. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * The UTC instants of local midnight (Asia/Shanghai) of `count` weekdays from `firstDate`
 * (YYYY-MM-DD) on. Exchange holidays are ignored: the benchmark needs the session shape, not
 * the real calendar.
 */
export function tradingDays(firstDate: string, count: number): number[] {
  const [year, month, day] = firstDate.split("-").map(Number) as [number, number, number];
  const days: number[] = [];
  for (let date = Date.UTC(year, month - 1, day); days.length < count; date += DAY_MS) {
    const weekday = new Date(date).getUTCDay();
    if (weekday !== 0 && weekday !== 6) days.push(date - SHANGHAI_OFFSET_MS);
  }
  return days;
}

/** The timestamps (epoch ms) of the first `count` session minutes from `firstDate` on. */
export function sessionTimestamps(firstDate: string, count: number): Float64Array {
  const timestamps = new Float64Array(count);
  const days = tradingDays(firstDate, Math.ceil(count / SESSION_MINUTES_PER_DAY));
  for (let i = 0; i < count; i++) {
    const midnight = days[Math.floor(i / SESSION_MINUTES_PER_DAY)]!;
    timestamps[i] = midnight + SESSION_MINUTES[i % SESSION_MINUTES_PER_DAY]! * MINUTE_MS;
  }
  return timestamps;
}

/**
 * A random walk over `timestamps`: each bar opens at the previous close and moves up to 0.2%;
 * the wicks extend up to 0.2% beyond the body, so low <= min(open, close) and
 * max(open, close) <= high always hold. Prices are whole fen (0.01 CNY, the A-share tick) and
 * at least one fen; volume is in board lots of 100 shares; amount is volume times the bar's
 * average price.
 */
export function randomWalk(timestamps: Float64Array, seed: number): MinuteBarColumns {
  const random = mulberry32(seed);
  const length = timestamps.length;
  const columns: MinuteBarColumns = {
    timestamp: timestamps,
    open: new Float64Array(length),
    high: new Float64Array(length),
    low: new Float64Array(length),
    close: new Float64Array(length),
    volume: new Float64Array(length),
    amount: new Float64Array(length),
  };
  // Work in integer fen so that the OHLC ordering survives conversion to yuan exactly.
  let previousClose = 500 + Math.floor(random() * 9_500);
  for (let i = 0; i < length; i++) {
    const open = previousClose;
    const close = Math.max(1, open + Math.round(open * (random() - 0.5) * 0.004));
    const high = Math.max(open, close) + Math.floor(random() * open * 0.002);
    const low = Math.max(1, Math.min(open, close) - Math.floor(random() * open * 0.002));
    const volume = 100 * (1 + Math.floor(random() * 2_000));
    columns.open[i] = open / 100;
    columns.high[i] = high / 100;
    columns.low[i] = low / 100;
    columns.close[i] = close / 100;
    columns.volume[i] = volume;
    columns.amount[i] = Math.round((volume * (open + high + low + close)) / 4) / 100;
    previousClose = close;
  }
  return columns;
}

/** The same bars as an array of objects, the other shape `insertBars` accepts. */
export function barObjects(columns: MinuteBarColumns): SyntheticBar[] {
  const bars: SyntheticBar[] = new Array(columns.timestamp.length);
  for (let i = 0; i < bars.length; i++) {
    bars[i] = {
      timestamp: columns.timestamp[i]!,
      open: columns.open[i]!,
      high: columns.high[i]!,
      low: columns.low[i]!,
      close: columns.close[i]!,
      volume: columns.volume[i]!,
      amount: columns.amount[i]!,
    };
  }
  return bars;
}

/** Rows [from, to) of the columns, as views: no copy. */
export function sliceColumns(bars: MinuteBarColumns, from: number, to: number): MinuteBarColumns {
  return {
    timestamp: bars.timestamp.subarray(from, to),
    open: bars.open.subarray(from, to),
    high: bars.high.subarray(from, to),
    low: bars.low.subarray(from, to),
    close: bars.close.subarray(from, to),
    volume: bars.volume.subarray(from, to),
    amount: bars.amount.subarray(from, to),
  };
}

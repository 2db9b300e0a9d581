/**
 * Generated market data for tests: deterministic A-share style minute bars.
 */
import type { Bar } from "../../src/mod.ts";

/** mulberry32: a small seeded PRNG, so generated data is the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/**
 * The 240 end-stamped minute timestamps of one A-share trading day (09:31-11:30, 13:01-15:00
 * Asia/Shanghai) for the UTC calendar date `day` (epoch ms of its midnight).
 */
export function sessionMinutes(day: number): number[] {
  const minutes: number[] = [];
  for (const [hour, minute] of [[9, 31], [13, 1]] as const) {
    const first = day + hour * 3_600_000 + minute * 60_000 - SHANGHAI_OFFSET_MS;
    for (let i = 0; i < 120; i++) minutes.push(first + i * 60_000);
  }
  return minutes;
}

/** Weekday dates (epoch ms of midnight UTC) starting at `firstDay`. */
export function tradingDays(firstDay: string, count: number): number[] {
  const days: number[] = [];
  for (let day = Date.parse(`${firstDay}T00:00:00Z`); days.length < count; day += 86_400_000) {
    const weekday = new Date(day).getUTCDay();
    if (weekday !== 0 && weekday !== 6) days.push(day);
  }
  return days;
}

/** A random walk of consistent bars at the given timestamps. */
export function randomBars(timestamps: readonly number[], seed = 1, startPrice = 100): Bar[] {
  const random = seededRandom(seed);
  let price = startPrice;
  return timestamps.map((timestamp) => {
    const open = price;
    const close = Math.max(0.01, round(open * (1 + (random() - 0.5) * 0.004)));
    const high = round(Math.max(open, close) * (1 + random() * 0.001));
    const low = round(Math.min(open, close) * (1 - random() * 0.001));
    const volume = Math.floor(random() * 100_000) * 100;
    price = close;
    return { timestamp, open, high, low, close, volume, amount: round(volume * (high + low) / 2) };
  });
}

/** `days` trading days of A-share minute bars. */
export function sessionBars(days: number, seed = 1, firstDay = "2024-01-02"): Bar[] {
  return randomBars(tradingDays(firstDay, days).flatMap(sessionMinutes), seed);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/**
 * Generated market data for tests: deterministic A-share style minute bars.
 */
import type { Bar } from "../../src/mod.ts";
import { mulberry32 as seededRandom, sessionTimestamps } from "../../scripts/synthetic-bars.ts";

export { seededRandom };

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

/** `days` trading days of A-share minute bars (09:31-11:30, 13:01-15:00 Shanghai, end-stamped). */
export function sessionBars(days: number, seed = 1, firstDay = "2024-01-02"): Bar[] {
  return randomBars(Array.from(sessionTimestamps(firstDay, days * 240)), seed);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/**
 * Load and fault helpers for the sqlite-worker backend tests: exact generated bars (as objects or
 * Float64Array columns, the same values either way), an event-loop gap meter, and a race that
 * turns a hung promise into a failure instead of a stuck test.
 */
import { existsSync, statSync } from "node:fs";
import { openDatabase, type Bar, type BarColumns } from "../../src/mod.ts";

export const MINUTE = 60_000;
/** 2024-01-02 01:31 UTC (09:31 Shanghai). */
export const T0 = Date.UTC(2024, 0, 2, 1, 31);

/**
 * Bar `i` of a series starting at `base`. Quarter steps and integer volumes keep every value
 * exact in binary, so a round trip can be compared with toEqual.
 */
export function barAt(base: number, i: number, shift = 0): Bar {
  const open = 100 + (i % 50) * 0.25 + shift;
  const volume = 1000 + (i % 10_000);
  return { timestamp: base + i * MINUTE, open, high: open + 1, low: open - 1, close: open + 0.5, volume, amount: volume * open };
}

export function barObjects(count: number, base = T0, shift = 0): Bar[] {
  const bars = new Array<Bar>(count);
  for (let i = 0; i < count; i++) bars[i] = barAt(base, i, shift);
  return bars;
}

/** The same bars as barObjects, as Float64Array columns. */
export function barColumns(count: number, base = T0, shift = 0): BarColumns {
  const timestamp = new Float64Array(count);
  const open = new Float64Array(count);
  const high = new Float64Array(count);
  const low = new Float64Array(count);
  const close = new Float64Array(count);
  const volume = new Float64Array(count);
  const amount = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const bar = barAt(base, i, shift);
    timestamp[i] = bar.timestamp;
    open[i] = bar.open!;
    high[i] = bar.high!;
    low[i] = bar.low!;
    close[i] = bar.close!;
    volume[i] = bar.volume!;
    amount[i] = bar.amount!;
  }
  return { timestamp, open, high, low, close, volume, amount };
}

export interface LoopGap<T> {
  value: T;
  /** Longest time between two ticks of the interval (or the last tick and the end), ms. */
  maxGapMs: number;
  /** maxGapMs minus the interval: how late the worst tick was. */
  maxSlipMs: number;
  ticks: number;
  durationMs: number;
}

/**
 * Runs `work` under a `intervalMs` setInterval and reports the longest gap between its ticks,
 * measured from the first tick before `work` starts until `work` settles. Garbage left by
 * earlier tests is collected first, so its collection is not charged to `work`.
 */
export async function measureLoopGap<T>(work: () => Promise<T>, intervalMs = 10): Promise<LoopGap<T>> {
  Bun.gc(true);
  let last = 0;
  let maxGapMs = 0;
  let ticks = 0;
  let firstTick!: () => void;
  const started = new Promise<void>((resolve) => (firstTick = resolve));
  const timer = setInterval(() => {
    const now = performance.now();
    if (ticks > 0) maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    ticks++;
    if (ticks === 1) firstTick();
  }, intervalMs);
  try {
    await started;
    const begin = performance.now();
    const value = await work();
    const end = performance.now();
    maxGapMs = Math.max(maxGapMs, end - last);
    return { value, maxGapMs, maxSlipMs: maxGapMs - intervalMs, ticks, durationMs: end - begin };
  } finally {
    clearInterval(timer);
  }
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** How `promise` settled, or a thrown "hung" error when it has not settled within `ms`. */
export async function settleWithin<T>(promise: Promise<T>, ms: number, what = "request"): Promise<Outcome<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms (hung)`)), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value): Outcome<T> => ({ ok: true, value }),
        (error: unknown): Outcome<T> => ({ ok: false, error }),
      ),
      hung,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `probe` until it returns a defined value, or throws after `ms`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, ms = 5_000, what = "condition"): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
    await Bun.sleep(10);
  }
}

export function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

/** A symbol whose weekly resample is heavy: 500,000 minutes (~350 days), ~0.25 s to resample here. */
export const HEAVY_SYMBOL = "HEAVY";
export const HEAVY_ROWS = 500_000;

/** Writes HEAVY_SYMBOL's bars into the database at `path` (in-thread: the quickest way there). */
export function writeHeavySymbol(path: string): void {
  const db = openDatabase({ path });
  try {
    db.insertBars(HEAVY_SYMBOL, barColumns(HEAVY_ROWS));
  } finally {
    db.close();
  }
}

/** The code of a StorageError an outcome failed with, or "ok". */
export function outcomeCode(outcome: Outcome<unknown>): string {
  return outcome.ok ? "ok" : ((outcome.error as { code?: string }).code ?? String(outcome.error));
}

/**
 * Cancelled reads, through the Store interface: part of the conformance suite
 * (test/support/conformance.ts calls it), so every backend stops an abandoned read the same way:
 * not at all started when its signal is already aborted, and at the next page or resampling
 * step when it aborts part-way.
 */
import { expect, test } from "bun:test";
import { StorageError, ValidationError, type Bar, type Store } from "../../src/mod.ts";
import { randomBars } from "./bars.ts";
import type { StoreFactoryOptions } from "./conformance.ts";

const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 2, 0, 0);
/** Rows per page on every backend (src/sqlite/series.ts, src/postgres/bars.ts, src/worker/host.ts). */
const PAGE_ROWS = 8_192;

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => undefined, (error: unknown) => error);
}

/** Iterates until the first bar, aborts, and keeps pulling: what came out, and how it ended. */
async function abortAfterFirst(iterate: (signal: AbortSignal) => AsyncIterable<Bar>): Promise<{ yielded: Bar[]; error: unknown }> {
  const controller = new AbortController();
  const yielded: Bar[] = [];
  try {
    for await (const bar of iterate(controller.signal)) {
      yielded.push(bar);
      controller.abort();
    }
  } catch (error) {
    return { yielded, error };
  }
  return { yielded, error: undefined };
}

export function cancellationConformance(fresh: (options?: StoreFactoryOptions) => Promise<Store>): void {
  test("a read whose signal is already aborted is not started: CANCELLED", async () => {
    const store = await fresh();
    await store.insertBars("S", randomBars([T0, T0 + MINUTE], 1));
    const signal = AbortSignal.abort();
    const whole = await failure(store.getBars("S", { signal }));
    expect(whole).toBeInstanceOf(StorageError);
    expect((whole as StorageError).code).toBe("CANCELLED");
    const streamed = await abortAfterFirst(() => store.iterateBars("S", { interval: "5m", signal }));
    expect(streamed.yielded).toEqual([]);
    expect((streamed.error as StorageError).code).toBe("CANCELLED");
    // The same store reads on: a cancelled read leaves nothing behind.
    expect(await store.getBars("S")).toHaveLength(2);
  });

  test("an iteration aborted at its first bar stops at the page boundary: one page, then CANCELLED", async () => {
    const store = await fresh();
    const bars = randomBars(Array.from({ length: 20_000 }, (_, i) => T0 + i * MINUTE), 3);
    await store.insertBars("S", bars);
    const { yielded, error } = await abortAfterFirst((signal) => store.iterateBars("S", { signal }));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("CANCELLED");
    // The page already read is handed out; the next one is never read.
    expect(yielded).toEqual(bars.slice(0, PAGE_ROWS));
  });

  test("a resampled iteration aborted at its first bar stops at the next step, well before its end", async () => {
    const store = await fresh();
    // 60,000 minutes: 12,000 five-minute bars over three 28-day resampling windows.
    const bars = randomBars(Array.from({ length: 60_000 }, (_, i) => T0 + i * MINUTE), 4);
    await store.insertBars("S", bars);
    const whole = await store.getBars("S", { interval: "5m" });
    expect(whole).toHaveLength(12_000);
    const { yielded, error } = await abortAfterFirst((signal) => store.iterateBars("S", { interval: "5m", signal }));
    expect((error as StorageError).code).toBe("CANCELLED");
    // At most the first window (8,064 buckets), or the worker's first page of 8,192.
    expect(yielded.length).toBeGreaterThan(0);
    expect(yielded.length).toBeLessThanOrEqual(PAGE_ROWS);
    expect(yielded).toEqual(whole.slice(0, yielded.length));
  });

  test("a signal that is not one is refused like any other bad option", async () => {
    const store = await fresh();
    const error = await failure(store.getBars("S", { signal: { aborted: "yes" } as unknown as AbortSignal }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]!.field).toBe("signal");
  });
}

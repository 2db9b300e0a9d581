/**
 * The worker store answers as the in-thread store does for the inputs review found it did not:
 * mutations stay in call order even when a large insert is sent in slices, columns of unequal
 * length and non-plain rows are read as the in-thread store reads them, a packed batch's
 * validation error is the objects' error, and an insert whose writer is replaced half-way
 * writes nothing.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { openStore, ValidationError, type Store } from "../../src/mod.ts";
import { workersOf } from "../../src/worker/store.ts";
import { tempDir } from "../support/files.ts";
import { barColumns, barObjects, MINUTE, T0 } from "../support/worker-load.ts";

const dir = tempDir("tradelite-worker-equivalence-");
const open: Store[] = [];
afterAll(async () => {
  for (const store of open) await store.close();
  dir.cleanup();
});
let files = 0;
async function both(): Promise<{ worker: Store; thread: Store }> {
  const worker = await openStore({ backend: "sqlite-worker", path: dir.file(`w-${++files}.db`) });
  const thread = await openStore({ backend: "sqlite", path: dir.file(`t-${files}.db`) });
  open.push(worker, thread);
  return { worker, thread };
}
async function outcome(promise: Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await promise };
  } catch (error) {
    if (error instanceof ValidationError) return { code: error.code, issues: error.issues };
    return { error: (error as Error).name, code: (error as { code?: string }).code };
  }
}

describe("call order", () => {
  test("a staged insert issued before a delete, not awaited, is written first (as in-thread)", async () => {
    const { worker, thread } = await both();
    for (const store of [worker, thread]) {
      const results = await Promise.all([
        store.insertBars("S", barObjects(60_000)),
        store.deleteBars("S", { start: T0, end: T0 + 60_000 * MINUTE }),
      ]);
      expect(results).toEqual([60_000, 60_000]);
      expect(await store.overview()).toEqual([]);
    }
  });

  test("a one-row correction issued after a large insert wins", async () => {
    const { worker, thread } = await both();
    for (const store of [worker, thread]) {
      const bars = barObjects(60_000);
      const fixed = { ...bars[59_999]!, close: bars[59_999]!.low };
      await Promise.all([store.insertBars("S", bars), store.insertBars("S", [fixed])]);
      expect(await store.latestBar("S")).toEqual(fixed);
    }
  });
});

describe("inputs read as the in-thread store reads them", () => {
  test("columns of unequal length are refused the same way, small or staged", async () => {
    const { worker, thread } = await both();
    for (const count of [10, 60_000]) {
      const columns = barColumns(count);
      const longer = { ...columns, open: Float64Array.from({ length: count + 3 }, () => 10) };
      const expected = await outcome(thread.insertBars("S", longer));
      expect(expected).toMatchObject({ code: "VALIDATION" });
      expect(await outcome(worker.insertBars("S", longer))).toEqual(expected);
    }
    expect(await worker.overview()).toEqual([]);
  });

  test("rows that are class instances with getters, or inherit their timestamp, store the same bars", async () => {
    const { worker, thread } = await both();
    class Candle {
      readonly timestamp: number;
      readonly #price: number;
      constructor(timestamp: number, price: number) {
        this.timestamp = timestamp;
        this.#price = price;
      }
      get open() { return this.#price; }
      get high() { return this.#price + 1; }
      get low() { return this.#price - 1; }
      get close() { return this.#price; }
    }
    const inherited = Object.create({ timestamp: T0 + 99 * MINUTE }) as Record<string, unknown>;
    inherited.close = 7;
    const rows = [new Candle(T0, 10), new Candle(T0 + MINUTE, 11), inherited];
    for (const store of [worker, thread]) expect(await outcome(store.insertBars("S", rows as never))).toEqual({ ok: 3 });
    expect(await worker.getBars("S")).toEqual(await thread.getBars("S"));
    expect((await worker.getBars("S"))[0]!.open).toBe(10);
  });

  test("a packed batch's validation error is the objects' error, issue for issue", async () => {
    const { worker, thread } = await both();
    const bars = barObjects(40).map((bar) => ({ ...bar }) as unknown as Record<string, number>);
    bars[3]!.timestamp = T0 + 0.5;
    bars[7]!.low = bars[7]!.high! + 1;
    bars[9]!.open = Infinity;
    const expected = await outcome(thread.insertBars("S", bars as never));
    expect(expected).toMatchObject({ code: "VALIDATION" });
    expect(await outcome(worker.insertBars("S", bars as never))).toEqual(expected);
  });
});

describe("a writer replaced half-way through a staged insert", () => {
  test("the insert fails with WORKER_DIED and writes nothing", async () => {
    const { worker } = await both();
    const pending = worker.insertBars("S", barColumns(150_000));
    // Wait for the first slice to be posted, then kill the writer before the last one.
    await new Promise((resolve) => setImmediate(resolve));
    workersOf(worker).writer.kill();
    const result = await outcome(pending);
    expect(result).toEqual({ error: "StorageError", code: "WORKER_DIED" });
    // The new writer took over: the store works, and nothing of the failed insert is there.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await worker.overview()).toEqual([]);
    expect(await worker.insertBars("S", barColumns(10))).toBe(10);
    expect((await worker.overview())[0]!.count).toBe(10);
  });
});

describe("the daily series through the worker", () => {
  test("a daily batch large enough to go in slices (objects and columns) lands in the daily series, as in-thread; one off midnight refuses it all", async () => {
    const { worker, thread } = await both();
    const DAY = 86_400_000;
    // 60,000 UTC midnights from 1974 on (after the epoch-seconds look-alikes, 1e8 to 1e11 ms):
    // more rows than one slice holds.
    const first = Date.UTC(1974, 0, 1);
    const days = barObjects(60_000).map((bar, i) => ({ ...bar, timestamp: first + i * DAY }));
    const columns = { ...barColumns(60_000), timestamp: Float64Array.from({ length: 60_000 }, (_, i) => first + i * DAY) };
    for (const store of [worker, thread]) {
      expect(await store.insertBars("D", days, { interval: "1d" })).toBe(60_000);
      expect(await store.insertBars("C", columns, { interval: "1d" })).toBe(60_000);
      expect((await store.overview()).map((row) => [row.symbol, row.count, row.daily?.count])).toEqual([["C", 0, 60_000], ["D", 0, 60_000]]);
      expect(await store.deleteBars("C", undefined, { interval: "1d" })).toBe(60_000);
    }
    expect(await worker.getBars("D", { interval: "1d", source: "stored", limit: 5, order: "desc" })).toEqual(await thread.getBars("D", { interval: "1d", source: "stored", limit: 5, order: "desc" }));
    const offMidnight = days.map((bar, i) => (i === 55_555 ? { ...bar, timestamp: bar.timestamp + 1 } : bar));
    expect(await outcome(worker.insertBars("E", offMidnight, { interval: "1d" }))).toEqual(await outcome(thread.insertBars("E", offMidnight, { interval: "1d" })));
    expect((await worker.overview()).map((row) => row.symbol)).toEqual(["D"]);
  });
});

/**
 * A worker's queue (src/worker/pool.ts) over a real SQLite file: a request whose signal aborts
 * while it waits (here, or posted to the worker and not yet started) is refused at once and never
 * run, one that runs stops at its next step, and one that waits past the deadline is refused
 * (QUEUE_TIMEOUT) when the deadline passes.
 * The heavy read is a weekly resample of 500,000 minutes: far longer than any wait here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openStore, ValidationError, type Store } from "../../src/mod.ts";
import { readFileSync } from "node:fs";
import { getPriority } from "node:os";
import { DISPATCH_WINDOW } from "../../src/worker/pool.ts";
import { DEFAULT_WORKER_NICENESS } from "../../src/worker/priority.ts";
import { workersOf } from "../../src/worker/store.ts";
import { tempDir } from "../support/files.ts";
import { HEAVY_SYMBOL, outcomeCode, settleWithin, writeHeavySymbol, type Outcome } from "../support/worker-load.ts";

const dir = tempDir("tradelite-pool-");
const path = dir.file("heavy.db");
const stores: Store[] = [];
beforeAll(() => writeHeavySymbol(path));
afterAll(async () => {
  for (const store of stores) await store.close();
  dir.cleanup();
});

async function oneReader(queueDeadlineMs?: number): Promise<Store> {
  const store = await openStore({ backend: "sqlite-worker", path, readers: 1, ...(queueDeadlineMs === undefined ? {} : { queueDeadlineMs }) });
  stores.push(store);
  return store;
}

const weekly = (store: Store, signal?: AbortSignal) => store.getBars(HEAVY_SYMBOL, { interval: "1w", ...(signal ? { signal } : {}) });
const settle = <T>(promise: Promise<T>) => settleWithin(promise, 30_000, "a weekly resample");

describe("sqlite-worker: abandoned and late requests", () => {
  test("requests whose signals abort before the worker starts them are refused at once and never run: posted or waiting", async () => {
    const store = await oneReader();
    const reader = workersOf(store).readers[0]!;
    const before = reader.stats;
    const count = DISPATCH_WINDOW + 8;
    const controllers = Array.from({ length: count }, () => new AbortController());
    const order: string[] = [];
    const reads = controllers.map((controller, i) =>
      settle(weekly(store, controller.signal)).then((outcome) => {
        order.push(`${i}:${outcomeCode(outcome)}`);
        return outcome;
      }),
    );
    // DISPATCH_WINDOW posted (the one it runs and the next ones), the rest waiting on this side.
    expect(reader.stats).toMatchObject({ running: DISPATCH_WINDOW, waiting: 8 });
    expect(reader.queued).toBe(count);
    // All but the first two: posted ones the worker has not started, and waiting ones.
    for (const controller of controllers.slice(2)) controller.abort();
    expect(reader.stats).toMatchObject({ waiting: 0, cancelled: before.cancelled + count - 2 });
    const outcomes = await Promise.all(reads);
    expect(outcomes.map(outcomeCode)).toEqual(["ok", "ok", ...Array(count - 2).fill("CANCELLED")]);
    expect((outcomes[0] as Outcome<unknown[]> & { ok: true }).value.length).toBeGreaterThan(40);
    // Refused when they were cancelled, not when the worker reached them: before the first answer.
    expect(order.slice(0, count - 2).every((entry) => entry.endsWith(":CANCELLED"))).toBe(true);
    // Only the two not cancelled were run (the posted ones cancelled were skipped, not counted twice).
    expect(reader.stats.answered - before.answered).toBe(2);
    expect(reader.stats.cancelled - before.cancelled).toBe(count - 2);
    expect(reader.stats).toMatchObject({ running: 0, waiting: 0 });
  });

  test("a read aborted while the worker runs it stops at its next step: CANCELLED, and the worker reads on", async () => {
    const store = await oneReader();
    const reader = workersOf(store).readers[0]!;
    const before = reader.stats;
    const controller = new AbortController();
    const read = settle(weekly(store, controller.signal));
    expect(reader.stats.running).toBe(1);
    await Bun.sleep(20);
    controller.abort();
    // A read that had run to its end would have answered its bars: this one stopped part-way.
    expect(outcomeCode(await read)).toBe("CANCELLED");
    expect(reader.stats.cancelled - before.cancelled).toBe(1);
    expect(reader.stats.answered - before.answered).toBe(0);
    expect((await store.getBars(HEAVY_SYMBOL, { limit: 3 })).length).toBe(3);
  });

  test("a request that waits past the deadline (posted or not) is refused with QUEUE_TIMEOUT when it passes, before the worker is free", async () => {
    const store = await oneReader(50);
    const reader = workersOf(store).readers[0]!;
    const order: string[] = [];
    // The worker starts the first; the other posted ones and the waiting ones all pass the deadline.
    const count = DISPATCH_WINDOW + 4;
    const reads = Array.from({ length: count }, (_, i) =>
      settle(weekly(store)).then((outcome) => {
        order.push(`${i}:${outcomeCode(outcome)}`);
        return outcome;
      }),
    );
    const outcomes = await Promise.all(reads);
    expect(outcomes.map(outcomeCode)).toEqual(["ok", ...Array(count - 1).fill("QUEUE_TIMEOUT")]);
    // Refused by the deadline's timer, not when the worker reached them: before the first answer.
    expect(order.slice(0, count - 1).every((entry) => entry.endsWith(":QUEUE_TIMEOUT"))).toBe(true);
    expect(order.at(-1)).toBe("0:ok");
    expect(reader.stats).toMatchObject({ shed: count - 1, waiting: 0, running: 0 });
  });

  test("queueDeadlineMs must be a positive number of ms", async () => {
    for (const queueDeadlineMs of [0, -1, Number.NaN, "5000"]) {
      const error = await openStore({ backend: "sqlite-worker", path, queueDeadlineMs } as never).then(
        async (store) => {
          await store.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(error, String(queueDeadlineMs)).toBeInstanceOf(ValidationError);
    }
  });
});

/** A thread of this process: its name and nice value from /proc (Linux: nice is per thread); null once it ended. */
function threadOf(tid: number): { name: string; nice: number } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
  } catch {
    return null;
  }
  // "tid (name) state ...": the name may hold spaces; nice is the 17th field after it.
  return { name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), nice: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]) };
}

describe.if(process.platform === "linux")("sqlite-worker: workers run below the caller's thread", () => {
  const own = getPriority(0);

  test("each worker (writer and readers) raises its own thread's nice value by workerNiceness; the caller's stays", async () => {
    const niceness = 7;
    const store = await openStore({ backend: "sqlite-worker", path, readers: 2, workerNiceness: niceness });
    const { writer, readers } = workersOf(store);
    const threads = [writer, ...readers].map((connection) => connection.thread!);
    // Three threads of their own, named as Bun names a Worker's, each at the value the kernel reports.
    expect(new Set(threads.map((thread) => thread.id)).size).toBe(3);
    for (const thread of threads) {
      expect(thread.nice).toBe(own + niceness);
      expect(threadOf(thread.id)).toEqual({ name: "Worker", nice: own + niceness });
    }
    expect(threadOf(process.pid)!.nice).toBe(own);
    await store.close();
    // The threads were the store's: gone with it.
    for (let i = 0; i < 50 && threads.some((thread) => threadOf(thread.id) !== null); i++) await Bun.sleep(20);
    expect(threads.map((thread) => threadOf(thread.id))).toEqual([null, null, null]);
  });

  test("by default 10 below; workerNiceness 0 keeps them level", async () => {
    const lowered = await oneReader();
    expect(workersOf(lowered).readers[0]!.thread!.nice).toBe(Math.min(19, own + DEFAULT_WORKER_NICENESS));
    const level = await openStore({ backend: "sqlite-worker", path, readers: 1, workerNiceness: 0 });
    stores.push(level);
    const { writer, readers } = workersOf(level);
    expect([writer.thread!.nice, readers[0]!.thread!.nice]).toEqual([own, own]);
    expect(threadOf(readers[0]!.thread!.id)!.nice).toBe(own);
  });

  test("workerNiceness must be a whole number 0-19", async () => {
    for (const workerNiceness of [-1, 20, 1.5, Number.NaN]) {
      const error = await openStore({ backend: "sqlite-worker", path, workerNiceness }).then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error, String(workerNiceness)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues[0]!.field).toBe("workerNiceness");
    }
  });
});

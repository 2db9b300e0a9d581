/**
 * The sqlite-worker backend under load and faults, on real files: the caller's event loop keeps
 * turning during a 1M-row insert, a killed worker fails its requests with WORKER_DIED and is
 * replaced (with a recovery metric), a full queue refuses at once with QUEUE_FULL, close() with
 * requests in flight leaves a clean file, reads on reader workers see every write that resolved,
 * withActor names the actor in the audit log, and bad open options are refused.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { openStore, StorageError, ValidationError, type Bar, type Store, type WorkerStoreOptions } from "../../src/mod.ts";
import { WORKER_RESTART_METRIC, workersOf } from "../../src/worker/store.ts";
import { runPython } from "../support/interop-python.ts";
import { tempDir } from "../support/files.ts";
import {
  barAt,
  barColumns,
  barObjects,
  eventually,
  fileSize,
  measureLoopGap,
  MINUTE,
  settleWithin,
  T0,
  type Outcome,
} from "../support/worker-load.ts";

const dir = tempDir("tradelite-worker-faults-");
afterAll(() => dir.cleanup());

const open: Store[] = [];
let files = 0;
async function workerStore(options: WorkerStoreOptions = {}): Promise<{ store: Store; path: string }> {
  const path = dir.file(`store-${++files}.db`);
  const store = await openStore({ backend: "sqlite-worker", path, ...options });
  open.push(store);
  return { store, path };
}
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
});

/** The StorageError code `outcome` failed with; fails the test when it succeeded or threw another class. */
function storageCode(outcome: Outcome<unknown>): string {
  expect(outcome.ok).toBe(false);
  const error = (outcome as { error: unknown }).error;
  expect(error).toBeInstanceOf(StorageError);
  return (error as StorageError).code;
}

async function rejection(promise: Promise<unknown>, ms = 10_000): Promise<unknown> {
  const outcome = await settleWithin(promise, ms);
  expect(outcome.ok).toBe(false);
  return (outcome as { error: unknown }).error;
}

async function countOf(store: Store, symbol: string): Promise<number> {
  return (await store.overview()).find((entry) => entry.symbol === symbol)?.count ?? 0;
}

/** Waits until the restart metric for `role`/`index` is recorded (the writer records it asynchronously); returns every sample. */
function restartSamples(store: Store, role: "writer" | "reader", index: number) {
  return eventually(async () => {
    const samples = await store.metrics.query(WORKER_RESTART_METRIC, { labels: { role, index: String(index) } });
    return samples.length > 0 ? samples : undefined;
  }, 5_000, `${WORKER_RESTART_METRIC} {role: ${role}, index: ${index}}`);
}

const BUDGET_MS = 50;
const MILLION = 1_000_000;
const gaps: Record<string, number> = {};
afterAll(() => {
  const shown = Object.entries(gaps).map(([name, gap]) => `${name}: ${gap.toFixed(1)} ms`);
  if (shown.length > 0) console.log(`event-loop max gap (10 ms interval) during 1M-row inserts\n  ${shown.join("\n  ")}`);
});

describe("sqlite-worker: the event loop keeps turning during a 1,000,000-row insert", () => {
  const expectAllStored = async (store: Store, symbol: string) => {
    expect(await store.overview()).toEqual([{ symbol, count: MILLION, start: T0, end: T0 + (MILLION - 1) * MINUTE }]);
    expect(await store.latestBar(symbol)).toEqual(barAt(T0, MILLION - 1));
    const middle = barAt(T0, 500_000).timestamp;
    expect(await store.getBars(symbol, { start: middle, end: middle + 99 * MINUTE })).toEqual(
      Array.from({ length: 100 }, (_, k) => barAt(T0, 500_000 + k)),
    );
  };

  test("columnar input (Float64Array columns): no tick slips by more than 50 ms, every row is stored", async () => {
    const { store } = await workerStore();
    const columns = barColumns(MILLION);
    const run = await measureLoopGap(() => store.insertBars("COLS", columns));
    gaps["sqlite-worker, columns"] = run.maxGapMs;
    console.log(`sqlite-worker columns: max gap ${run.maxGapMs.toFixed(1)} ms over ${run.durationMs.toFixed(0)} ms (${run.ticks} ticks)`);
    expect(run.value).toBe(MILLION);
    // The caller's columns are copied, never detached by the transfer.
    expect(columns.timestamp.length).toBe(MILLION);
    expect(run.maxSlipMs).toBeLessThanOrEqual(BUDGET_MS);
    await expectAllStored(store, "COLS");
  });

  test("an array of 1M bar objects: no tick slips by more than 50 ms, every row is stored", async () => {
    const { store } = await workerStore();
    const bars = barObjects(MILLION);
    const run = await measureLoopGap(() => store.insertBars("OBJS", bars));
    gaps["sqlite-worker, objects"] = run.maxGapMs;
    console.log(`sqlite-worker objects: max gap ${run.maxGapMs.toFixed(1)} ms over ${run.durationMs.toFixed(0)} ms (${run.ticks} ticks)`);
    expect(run.value).toBe(MILLION);
    await expectAllStored(store, "OBJS");
    expect(run.maxSlipMs).toBeLessThanOrEqual(BUDGET_MS);
  });

  test("contrast: the same inserts on the in-thread sqlite backend (gaps logged, not asserted)", async () => {
    const path = dir.file("in-thread.db");
    const store = await openStore({ backend: "sqlite", path });
    open.push(store);
    const columns = barColumns(MILLION);
    const onColumns = await measureLoopGap(() => store.insertBars("COLS", columns));
    gaps["in-thread sqlite, columns"] = onColumns.maxGapMs;
    const bars = barObjects(MILLION, T0 + MILLION * MINUTE);
    const onObjects = await measureLoopGap(() => store.insertBars("OBJS", bars));
    gaps["in-thread sqlite, objects"] = onObjects.maxGapMs;
    console.log(
      `in-thread sqlite: columns max gap ${onColumns.maxGapMs.toFixed(1)} ms, objects max gap ${onObjects.maxGapMs.toFixed(1)} ms`,
    );
    expect(onColumns.value).toBe(MILLION);
    expect(onObjects.value).toBe(MILLION);
    expect((await store.overview()).map((entry) => [entry.symbol, entry.count])).toEqual([
      ["COLS", MILLION],
      ["OBJS", MILLION],
    ]);
  });
});

describe("sqlite-worker: a worker killed mid-request", () => {
  test("the writer killed inside a 1M-row insert: WORKER_DIED, all-or-nothing, store keeps working, restart metric", async () => {
    const { store, path } = await workerStore({ readers: 1 });
    const base = barObjects(1_000, T0 - 10_000 * MINUTE);
    expect(await store.insertBars("BASE", base)).toBe(1_000);
    const wal = `${path}-wal`;
    const walBefore = fileSize(wal);

    const insert = store.insertBars("BIG", barColumns(MILLION));
    let settled = false;
    insert.then(
      () => (settled = true),
      () => (settled = true),
    );
    // Kill once the writer is inside the transaction: its pages are streaming into the WAL.
    const deadline = performance.now() + 20_000;
    while (fileSize(wal) < walBefore + 4 * 1024 * 1024) {
      if (settled) throw new Error("the insert finished before the test could kill the writer");
      if (performance.now() > deadline) throw new Error("the insert never started writing");
      await Bun.sleep(2);
    }
    expect(workersOf(store).writer.queued).toBe(1);
    workersOf(store).writer.kill();

    const outcome = await settleWithin(insert, 15_000, "the insert whose writer was killed");
    expect(storageCode(outcome)).toBe("WORKER_DIED");
    expect(workersOf(store).writer.restarts).toBe(1);

    // All or nothing, never a part of it.
    expect([0, MILLION]).toContain(await countOf(store, "BIG"));
    // What was committed before is intact, and the chain of audit entries still verifies.
    expect(await store.getBars("BASE")).toEqual(base);
    expect((await store.audit.verify()).ok).toBe(true);
    // The replacement writer takes new writes; a reader sees them.
    const after = barObjects(500, T0 + 5 * MILLION * MINUTE);
    expect(await store.insertBars("AFTER", after)).toBe(500);
    expect(await store.getBars("AFTER")).toEqual(after);

    const samples = await restartSamples(store, "writer", 0);
    expect(samples).toHaveLength(1);
    expect(samples[0]!.value).toBe(1);
    expect(samples[0]!.labels).toEqual({ role: "writer", index: "0" });
    expect(await store.metrics.query(WORKER_RESTART_METRIC, { labels: { role: "reader" } })).toEqual([]);
    expect((await store.maintenance.integrityCheck()).ok).toBe(true);
  });

  test("the writer killed while a sliced insert is still being posted: WORKER_DIED, nothing written, a retry stores it whole", async () => {
    const { store } = await workerStore({ readers: 1 });
    const columns = barColumns(120_000); // three slices
    const insert = store.insertBars("STAGED", columns);
    expect(workersOf(store).writer.queued).toBe(1); // the first slice is in flight
    workersOf(store).writer.kill();
    expect(storageCode(await settleWithin(insert, 10_000))).toBe("WORKER_DIED");
    expect(await countOf(store, "STAGED")).toBe(0);

    expect(await store.insertBars("STAGED", columns)).toBe(120_000);
    expect(await countOf(store, "STAGED")).toBe(120_000);
    expect(await store.latestBar("STAGED")).toEqual(barAt(T0, 119_999));
    expect((await restartSamples(store, "writer", 0)).length).toBe(1);
  });

  test("a reader killed during big getBars: every request it held fails with WORKER_DIED, reads go on", async () => {
    const { store } = await workerStore({ readers: 1 });
    expect(await store.insertBars("S", barColumns(300_000))).toBe(300_000);
    const reader = workersOf(store).readers[0]!;
    const reads = [store.getBars("S"), store.getBars("S"), store.getBars("S", { order: "desc" })];
    expect(reader.queued).toBe(3);
    await Bun.sleep(5);
    expect(reader.queued).toBe(3); // still in flight: 300k rows take far longer than 5 ms
    reader.kill();
    const outcomes = await Promise.all(reads.map((read) => settleWithin(read, 10_000)));
    expect(outcomes.map(storageCode)).toEqual(["WORKER_DIED", "WORKER_DIED", "WORKER_DIED"]);

    expect(reader.restarts).toBe(1);
    expect(workersOf(store).writer.restarts).toBe(0);
    const at = barAt(T0, 123_456).timestamp;
    expect(await store.getBars("S", { start: at, end: at + 9 * MINUTE })).toEqual(
      Array.from({ length: 10 }, (_, k) => barAt(T0, 123_456 + k)),
    );
    expect(await countOf(store, "S")).toBe(300_000);
    const samples = await restartSamples(store, "reader", 0);
    expect(samples.map((sample) => sample.labels)).toEqual([{ role: "reader", index: "0" }]);
  });

  test("a reader killed while iterateBars waits for a page: the iteration rejects with WORKER_DIED", async () => {
    const { store } = await workerStore({ readers: 1 });
    expect(await store.insertBars("S", barColumns(30_000))).toBe(30_000);
    const reader = workersOf(store).readers[0]!;
    const iterator = store.iterateBars("S")[Symbol.asyncIterator]();
    let seen = 0;
    // The first page (8,192 rows, the worker's page size) arrives whole.
    for (;;) {
      const next = await iterator.next();
      expect(next.done).toBe(false);
      expect(next.value).toEqual(barAt(T0, seen));
      seen++;
      if (seen === 8_192) break;
    }
    const pending = iterator.next(); // asks the worker for the second page
    for (let hop = 0; hop < 50 && reader.queued === 0; hop++) await null;
    expect(reader.queued).toBe(1);
    reader.kill();
    expect(storageCode(await settleWithin(pending, 10_000, "the iteration"))).toBe("WORKER_DIED");

    // A new iteration on the replacement reader reads everything.
    let rows = 0;
    for await (const bar of store.iterateBars("S")) expect(bar.timestamp).toBe(T0 + rows++ * MINUTE);
    expect(rows).toBe(30_000);
    expect((await restartSamples(store, "reader", 0)).length).toBe(1);
  });

  test("a reader killed between two pages of a for-await iteration: the iteration rejects with WORKER_DIED", async () => {
    const { store } = await workerStore({ readers: 1 });
    expect(await store.insertBars("S", barColumns(30_000))).toBe(30_000);
    const reader = workersOf(store).readers[0]!;
    let seen = 0;
    const iteration = (async () => {
      for await (const bar of store.iterateBars("S")) {
        expect(bar.timestamp).toBe(T0 + seen * MINUTE);
        seen++;
        if (seen === 8_192) {
          // The consumer is busy with the last bar of page one (awaiting real work) when the
          // reader that holds the iteration dies and is replaced.
          reader.kill();
          await Bun.sleep(50);
        }
      }
      return seen;
    })();
    const outcome = await settleWithin(iteration, 10_000, "the iteration");
    expect(seen).toBe(8_192);
    expect(outcome.ok).toBe(false);
    const error = (outcome as { error: unknown }).error;
    expect({ name: (error as Error).name, code: (error as StorageError).code }).toEqual({ name: "StorageError", code: "WORKER_DIED" });
  });
});

describe("sqlite-worker: a full queue refuses at once", () => {
  const settledFlags = (promises: Promise<unknown>[]) => {
    const flags = promises.map(() => false);
    promises.forEach((promise, i) => {
      promise.then(
        () => (flags[i] = true),
        () => (flags[i] = true),
      );
    });
    return flags;
  };

  test("maxQueue 4, one reader: the first 4 writes and 4 reads are served, the rest get QUEUE_FULL, nothing half-done", async () => {
    const { store } = await workerStore({ readers: 1, maxQueue: 4 });
    const base = barObjects(2_000, T0 - 100_000 * MINUTE);
    await store.insertBars("BASE", base);

    const writeBars = Array.from({ length: 10 }, (_, i) => barObjects(200, T0, i));
    const writes = writeBars.map((bars, i) => store.insertBars(`Q${i}`, bars));
    const reads = Array.from({ length: 10 }, () => store.getBars("BASE"));
    // A large (sliced) insert whose first slice meets a full writer queue.
    const big = store.insertBars("QBIG", barColumns(120_000));
    const all: Promise<unknown>[] = [...writes, ...reads, big];
    const settled = settledFlags(all);

    // Refusals come at once: settled after a few microtask hops, before any worker could answer.
    for (let hop = 0; hop < 50; hop++) await null;
    const refused = [...writes.slice(4), ...reads.slice(4), big].map((promise) => settled[all.indexOf(promise)]);
    expect(refused.every(Boolean)).toBe(true);
    const served = [...writes.slice(0, 4), ...reads.slice(0, 4)].map((promise) => settled[all.indexOf(promise)]);
    expect(served.some(Boolean)).toBe(false);

    const outcomes = await Promise.all(all.map((promise) => settleWithin(promise, 15_000)));
    for (let i = 0; i < 10; i++) {
      const write = outcomes[i]!;
      if (i < 4) expect(write).toEqual({ ok: true, value: 200 });
      else expect(storageCode(write)).toBe("QUEUE_FULL");
      const read = outcomes[10 + i]!;
      if (i < 4) expect(read).toEqual({ ok: true, value: base });
      else expect(storageCode(read)).toBe("QUEUE_FULL");
    }
    expect(storageCode(outcomes[20]!)).toBe("QUEUE_FULL");

    // Nothing half-done: served writes are whole, refused ones left nothing.
    const overview = await store.overview();
    expect(overview.map((entry) => [entry.symbol, entry.count])).toEqual([
      ["BASE", 2_000],
      ["Q0", 200],
      ["Q1", 200],
      ["Q2", 200],
      ["Q3", 200],
    ]);
    for (let i = 0; i < 4; i++) expect(await store.getBars(`Q${i}`)).toEqual(writeBars[i]!);

    // Once settled, the store takes a full queue's worth again, and the large insert.
    const again = await Promise.all([
      ...[4, 5, 6, 7].map((i) => store.insertBars(`Q${i}`, writeBars[i]!)),
      ...[0, 1, 2, 3].map(() => store.latestBar("BASE")),
    ]);
    expect(again).toEqual([200, 200, 200, 200, base.at(-1)!, base.at(-1)!, base.at(-1)!, base.at(-1)!]);
    expect(await store.insertBars("QBIG", barColumns(120_000))).toBe(120_000);
    expect(await countOf(store, "QBIG")).toBe(120_000);
  });

  test("a sliced insert refused part-way (QUEUE_FULL) leaves none of its slices staged in the writer", async () => {
    const { store } = await workerStore({ readers: 1, maxQueue: 1 });
    const writer = workersOf(store).writer;
    // The insert's first slice takes the writer's only slot; a steady stream of small writes
    // then takes the slot whenever it frees, so a later slice meets a full queue.
    const insert = settleWithin(store.insertBars("BIG", barColumns(120_000)), 20_000, "the sliced insert");
    let stop = false;
    let refusedWrites = 0;
    const stream = (async () => {
      for (let n = 0; !stop; n++) {
        try {
          await store.prefs.set("stream", n);
        } catch (error) {
          if ((error as StorageError).code !== "QUEUE_FULL") throw error;
          refusedWrites++;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    })();
    const outcome = await insert;
    stop = true;
    await stream;

    if (outcome.ok) {
      // The stream never got in the way this time: the insert is whole.
      expect(outcome.value).toBe(120_000);
      expect(await countOf(store, "BIG")).toBe(120_000);
      return;
    }
    expect(storageCode(outcome)).toBe("QUEUE_FULL");
    expect(await countOf(store, "BIG")).toBe(0);
    expect(refusedWrites).toBeGreaterThan(0);
    // Through the diagnostics handle: ask the writer to write whatever is still staged under the
    // first upload ids. A refused insert must have left nothing there (no rows, no memory held).
    for (const id of [1, 2, 3]) await writer.request("insertBars", [`LEFT${id}`, { staged: id }]).catch(() => 0);
    expect((await store.overview()).filter((entry) => entry.symbol.startsWith("LEFT"))).toEqual([]);
  });

  test("maxQueue 4, no readers: reads and writes share the writer's queue", async () => {
    const { store } = await workerStore({ readers: 0, maxQueue: 4 });
    const bars = barObjects(50);
    const requests: Promise<unknown>[] = [
      store.insertBars("A", bars),
      store.insertBars("B", bars),
      store.overview(),
      store.insertBars("C", bars),
      store.getBars("A"), // fifth: refused
      store.insertBars("D", bars), // refused
      store.prefs.set("ui.theme", "dark"), // refused
    ];
    const outcomes = await Promise.all(requests.map((promise) => settleWithin(promise, 10_000)));
    expect(outcomes.slice(0, 4).map((outcome) => outcome.ok)).toEqual([true, true, true, true]);
    expect(outcomes.slice(4).map(storageCode)).toEqual(["QUEUE_FULL", "QUEUE_FULL", "QUEUE_FULL"]);
    expect((await store.overview()).map((entry) => entry.symbol)).toEqual(["A", "B", "C"]);
    expect(await store.prefs.get("ui.theme")).toBeNull();
    expect(await store.getBars("C")).toEqual(bars);
    expect(await store.insertBars("D", bars)).toBe(50);
  });
});

describe("sqlite-worker: close() with requests in flight", () => {
  test("every request settles (resolved correctly or a StorageError), close resolves, the file is clean", async () => {
    const { store, path } = await workerStore({ readers: 2 });
    const seeded = barObjects(50_000, T0 - MILLION * MINUTE);
    await store.insertBars("S", seeded);

    // Each request's outcome is taken from the start, so none is an unhandled rejection.
    const settle = <T>(promise: Promise<T>, what: string) => settleWithin(promise, 20_000, what);
    const inserts: { symbol: string; bars: Bar[]; outcome: Promise<Outcome<number>> }[] = [];
    const big = barObjects(120_000, T0, 1);
    inserts.push({ symbol: "C0", bars: big, outcome: settle(store.insertBars("C0", barColumns(120_000, T0, 1)), "a sliced insert") });
    for (let i = 1; i <= 4; i++) {
      const bars = barObjects(2_000, T0, i);
      inserts.push({ symbol: `C${i}`, bars, outcome: settle(store.insertBars(`C${i}`, bars), "an insert") });
    }
    const alice = barObjects(300, T0, 9);
    inserts.push({ symbol: "ALICE", bars: alice, outcome: settle(store.withActor("alice").insertBars("ALICE", alice), "an actor's insert") });
    const reads = [store.getBars("S"), store.getBars("S"), store.getBars("S")].map((read) => settle(read, "a read"));
    const latest = settle(store.latestBar("S"), "latestBar");

    const closing = settle(store.close(), "close()");
    // Refused from the moment close() is called.
    const late = settle(store.insertBars("LATE", barObjects(10)), "an insert after close()");

    for (const { outcome, bars } of inserts) {
      const settled = await outcome;
      if (settled.ok) expect(settled.value).toBe(bars.length);
      else expect(settled.error).toBeInstanceOf(StorageError);
    }
    for (const read of reads) {
      const settled = await read;
      if (settled.ok) expect(settled.value).toEqual(seeded);
      else expect(settled.error).toBeInstanceOf(StorageError);
    }
    const latestOutcome = await latest;
    if (latestOutcome.ok) expect(latestOutcome.value).toEqual(seeded.at(-1)!);
    else expect(latestOutcome.error).toBeInstanceOf(StorageError);
    expect(await closing).toEqual({ ok: true, value: undefined });
    expect(storageCode(await late)).toBe("CLOSED");

    // Afterwards every call is refused with CLOSED; close() again is a no-op.
    const after = [
      store.insertBars("X", barObjects(1)),
      store.getBars("S"),
      store.latestBar("S"),
      store.overview(),
      store.metrics.record("m", 1),
      store.prefs.get("k"),
      store.withActor("bob").deleteBars("S"),
      (async () => {
        for await (const _ of store.iterateBars("S")) return "yielded";
      })(),
    ].map((call) => settleWithin<unknown>(call, 5_000, "a call after close()"));
    expect((await Promise.all(after)).map(storageCode)).toEqual(Array(after.length).fill("CLOSED"));
    expect(await settleWithin(store.close(), 5_000)).toEqual({ ok: true, value: undefined });

    // The file was closed cleanly: the WAL checkpointed away, and SQLite's own check passes.
    expect(existsSync(`${path}-wal`)).toBe(false);
    const checked = await runPython<{ integrity: string; counts: [string, number][] }>(
      `import json, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
counts = con.execute("SELECT symbol, COUNT(*) FROM market_data GROUP BY symbol ORDER BY symbol").fetchall()
print(json.dumps({"integrity": integrity, "counts": counts}))`,
      [path],
    );
    expect(checked.integrity).toBe("ok");

    // Every insert that resolved is there, whole, when the file is reopened in-thread.
    const reopened = await openStore({ backend: "sqlite", path });
    open.push(reopened);
    const counts = new Map(checked.counts);
    expect(await reopened.getBars("S")).toEqual(seeded);
    for (const { symbol, bars, outcome: settled } of inserts) {
      const outcome = await settled;
      if (outcome.ok) expect(await reopened.getBars(symbol)).toEqual(bars);
      else expect([0, bars.length]).toContain(counts.get(symbol) ?? 0);
    }
    expect(counts.has("LATE")).toBe(false);
  });

  test("a second close() made while the first drains resolves only once the file is closed", async () => {
    const { store, path } = await workerStore({ readers: 1 });
    const pending = settleWithin(store.insertBars("C", barColumns(200_000)), 20_000, "the insert");
    const first = settleWithin(store.close(), 20_000, "the first close()");
    const second = settleWithin(store.close(), 20_000, "the second close()");
    expect(await second).toEqual({ ok: true, value: undefined });
    // A resolved close() means the workers are done with the file (the WAL is checkpointed away).
    const walAtSecond = existsSync(`${path}-wal`);
    expect(await first).toEqual({ ok: true, value: undefined });
    expect(await pending).toEqual({ ok: true, value: 200_000 });
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(walAtSecond).toBe(false);
  });

  test("an iteration cut off by close() is told the store closed, not that a worker died", async () => {
    const { store } = await workerStore({ readers: 1 });
    await store.insertBars("S", barColumns(100_000));
    let rows = 0;
    const iteration = (async () => {
      for await (const _ of store.iterateBars("S")) rows++;
      return rows;
    })();
    const closing = store.close();
    const outcome = await settleWithin(iteration, 10_000, "the iteration");
    await closing;
    if (outcome.ok) {
      expect(outcome.value).toBe(100_000);
    } else {
      const error = outcome.error as StorageError;
      expect({ name: error.name, code: error.code }).toEqual({ name: "StorageError", code: "CLOSED" });
    }
    expect(workersOf(store).readers[0]!.restarts).toBe(0);
  });
});

describe("sqlite-worker: read-after-write on reader workers", () => {
  test("a read issued after a write resolved sees it, on either reader, 150 times over", async () => {
    const { store } = await workerStore({ readers: 2 });
    const { writer, readers } = workersOf(store);
    // A paused iteration on a reader must not pin an old snapshot there.
    await store.insertBars("PAUSED", barColumns(20_000, T0 - MILLION * MINUTE));
    const paused = store.iterateBars("PAUSED")[Symbol.asyncIterator]();
    expect((await paused.next()).value).toEqual(barAt(T0 - MILLION * MINUTE, 0));

    const symbols = ["RA", "RB", "RC", "RD", "RE", "RF", "RG"];
    const expected = new Map<string, Bar[]>(symbols.map((symbol) => [symbol, []]));
    const readersUsed = new Set<number>();
    for (let i = 0; i < 150; i++) {
      const symbol = symbols[(i * 3) % symbols.length]!;
      const held = expected.get(symbol)!;
      let bar = barAt(T0, i);
      if (i % 5 === 4 && held.length > 0) {
        // An upsert of the newest bar: the read must see the new close, not the old one.
        bar = { ...held.at(-1)!, close: held.at(-1)!.close! + 0.25 };
        held[held.length - 1] = bar;
      } else {
        held.push(bar);
      }
      expect(await store.insertBars(symbol, [bar])).toBe(1);

      const range = store.getBars(symbol, { start: bar.timestamp, end: bar.timestamp });
      const newest = store.latestBar(symbol);
      const overview = store.overview();
      // All three reads went to reader workers, none to the writer.
      expect(writer.queued).toBe(0);
      expect(readers.reduce((sum, reader) => sum + reader.queued, 0)).toBe(3);
      readers.forEach((reader, index) => reader.queued > 0 && readersUsed.add(index));

      expect(await range).toEqual([bar]);
      expect(await newest).toEqual(bar);
      const entry = (await overview).find((row) => row.symbol === symbol);
      expect(entry).toEqual({ symbol, count: held.length, start: held[0]!.timestamp, end: bar.timestamp });

      if (i % 25 === 24) {
        // A delete is seen at once too.
        const gone = held.shift()!;
        expect(await store.deleteBars(symbol, { start: gone.timestamp, end: gone.timestamp })).toBe(1);
        expect(await store.getBars(symbol, { start: gone.timestamp, end: gone.timestamp })).toEqual([]);
        expect(await store.getBars(symbol)).toEqual(held);
      }
    }
    expect([...readersUsed].sort()).toEqual([0, 1]);
    for (const [symbol, held] of expected) expect(await store.getBars(symbol)).toEqual(held);

    let rest = 1;
    for (;;) {
      const next = await paused.next();
      if (next.done) break;
      rest++;
    }
    expect(rest).toBe(20_000);
  });
});

describe("sqlite-worker: withActor", () => {
  test("an insert through withActor('alice') is audited as alice, on the writer, sliced or not", async () => {
    const { store } = await workerStore({ readers: 1, actor: "service" });
    const alice = store.withActor("alice");
    expect(alice.backend).toBe("sqlite-worker");
    // Entries of their own (a small insert is otherwise a live append, rolled up).
    expect(await alice.insertBars("ACT", barObjects(10), { audit: "entry" })).toBe(10);
    expect(await store.insertBars("OWN", barObjects(5), { audit: "entry" })).toBe(5);
    // A sliced insert carries the actor on its final (writing) request.
    expect(await alice.insertBars("ACT2", barColumns(60_000))).toBe(60_000);
    expect(await alice.deleteBars("ACT", { start: T0, end: T0 })).toBe(1);

    const byAlice = await store.audit.query({ actor: "alice" });
    expect(byAlice.map((entry) => [entry.action, entry.entity, entry.details])).toEqual([
      ["bars.insert", "ACT", { rows: 10, start: T0, end: T0 + 9 * MINUTE }],
      ["bars.insert", "ACT2", { rows: 60_000, start: T0, end: T0 + 59_999 * MINUTE }],
      ["bars.delete", "ACT", { deleted: 1, start: T0, end: T0 }],
    ]);
    const own = await store.audit.query({ action: "bars.insert" });
    expect(own.map((entry) => [entry.actor, entry.entity])).toEqual([
      ["alice", "ACT"],
      ["service", "OWN"],
      ["alice", "ACT2"],
    ]);
    expect((await store.audit.verify()).ok).toBe(true);
  });

  test("artifacts.register through withActor('alice') names alice, with the file hashed on the writer", async () => {
    const { store } = await workerStore({ readers: 1 });
    const file = dir.file("model.bin");
    const content = new Uint8Array(100_000).map((_, i) => (i * 31) % 251);
    writeFileSync(file, content);
    const sha256 = new Bun.CryptoHasher("sha256").update(content).digest("hex");

    const artifact = await store.withActor("alice").artifacts.register({ name: "model", version: "1", path: file });
    expect({ sha256: artifact.sha256, size: artifact.size }).toEqual({ sha256, size: 100_000 });
    await store.withActor("bob").artifacts.register({ name: "model", version: "2", path: "/elsewhere.bin", sha256: "a".repeat(64), size: 1 }, { readFile: false });
    await store.artifacts.register({ name: "model", version: "3", path: "/other.bin", sha256: "b".repeat(64), size: 2 }, { readFile: false });

    const registered = await store.audit.query({ action: "artifacts.register" });
    expect(registered.map((entry) => [entry.actor, entry.entity])).toEqual([
      ["alice", "model@1"],
      ["bob", "model@2"],
      ["tradelite", "model@3"],
    ]);
    expect(registered[0]!.details).toEqual({ size: 100_000, sha256 });
  });
});

describe("sqlite-worker: opening", () => {
  const refused = async (options: WorkerStoreOptions): Promise<ValidationError> => {
    const error = await rejection(openStore({ backend: "sqlite-worker", ...options }), 10_000);
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  };

  test.each([-1, 17, 1.5, Number.NaN])("readers: %p is refused with a ValidationError naming readers, before any file is made", async (readers) => {
    const path = dir.file(`readers-${String(readers)}.db`);
    const error = await refused({ path, readers });
    expect(error.issues.map((issue) => issue.field)).toEqual(["readers"]);
    expect(existsSync(path)).toBe(false);
  });

  test("readers 0 and 16 are the bounds that open", async () => {
    for (const readers of [0, 16]) {
      const { store } = await workerStore({ readers });
      expect(workersOf(store).readers).toHaveLength(readers);
      expect(await store.insertBars("S", barObjects(3))).toBe(3);
      expect(await store.getBars("S")).toEqual(barObjects(3));
    }
  });

  test("maxQueue 0 is refused with a ValidationError naming maxQueue", async () => {
    const error = await refused({ path: dir.file("queue-0.db"), maxQueue: 0 });
    expect(error.issues.map((issue) => issue.field)).toEqual(["maxQueue"]);
  });

  test('":memory:" is refused with a ValidationError naming path', async () => {
    const error = await refused({ path: ":memory:" });
    expect(error.issues.map((issue) => issue.field)).toEqual(["path"]);
    expect(error.message).toContain("in-memory");
  });

  test("readonly is refused with a ValidationError naming readonly, even on an existing file", async () => {
    const { store, path } = await workerStore({ readers: 0 });
    await store.insertBars("S", barObjects(3));
    await store.close();
    const error = await refused({ path, readonly: true });
    expect(error.issues.map((issue) => issue.field)).toEqual(["readonly"]);
    // The file is untouched and opens normally.
    const again = await openStore({ backend: "sqlite", path, readonly: true });
    open.push(again);
    expect(await again.getBars("S")).toEqual(barObjects(3));
  });
});

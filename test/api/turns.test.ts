/**
 * Turns for hang-ups (src/api/turns.ts): a burst of clients hanging up is cancelled a few per
 * loop iteration, so the loop polls between them and /health is answered while most of the
 * cancellations still wait. In process, over the sqlite-worker store on a real SQLite file; the
 * same storm through a real server is test/api/abandoned.test.ts and `bun run bench:abandon`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../../src/api/app.ts";
import { createTurns } from "../../src/api/turns.ts";
import { openStore, type Store } from "../../src/mod.ts";
import { tempDir } from "../support/files.ts";
import { HEAVY_SYMBOL, writeHeavySymbol } from "../support/worker-load.ts";

/** Resolves after `n` iterations of the event loop (each setImmediate runs on the next). */
function loopIterations(n: number): Promise<void> {
  return new Promise((resolve) => {
    const step = (left: number) => (left === 0 ? resolve() : setImmediate(() => step(left - 1)));
    step(n);
  });
}

describe("createTurns", () => {
  test("a deferred signal aborts on a later turn, with the caller's reason; an aborted one gives an aborted one", async () => {
    const turns = createTurns();
    const controller = new AbortController();
    const deferred = turns.defer(controller.signal);
    const reason = new Error("gone");
    controller.abort(reason);
    expect(deferred.aborted).toBe(false);
    expect(turns.waiting).toBe(1);
    await loopIterations(2);
    expect(deferred.aborted).toBe(true);
    expect(deferred.reason).toBe(reason);
    expect(turns.waiting).toBe(0);
    const at = turns.defer(AbortSignal.abort("already"));
    expect(at.aborted).toBe(true);
    expect(at.reason).toBe("already");
  });

  test("hang-ups are let through in order, at most perTurn per loop iteration", async () => {
    const turns = createTurns(10);
    const order: number[] = [];
    const controllers = Array.from({ length: 35 }, () => new AbortController());
    controllers.forEach((controller, i) => turns.defer(controller.signal).addEventListener("abort", () => order.push(i)));
    for (const controller of controllers) controller.abort();
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      await loopIterations(1);
      seen.push(order.length);
    }
    expect(order).toEqual(Array.from({ length: 35 }, (_, i) => i));
    // Each iteration adds at most 10: the loop came round between them.
    const steps = seen.map((count, i) => count - (i === 0 ? 0 : seen[i - 1]!));
    expect(Math.max(...steps)).toBeLessThanOrEqual(10);
    expect(seen.at(-1)).toBe(35);
  });

  test("perTurn must be a positive whole number", () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) expect(() => createTurns(bad)).toThrow(/perTurn/);
  });
});

describe("turns in the app", () => {
  const dir = tempDir("tradelite-turns-");
  const path = dir.file("heavy.db");
  let store: Store;
  beforeAll(async () => {
    await writeHeavySymbol(path);
    store = await openStore({ backend: "sqlite-worker", path });
  });
  afterAll(async () => {
    await store.close();
    dir.cleanup();
  });

  test("600 clients hang up together on queued reads: /health answers while most cancellations still wait, and every one is cancelled", async () => {
    const app = createApp(store, { logError: () => {} });
    const controllers = Array.from({ length: 600 }, () => new AbortController());
    let settled = 0;
    const reads = controllers.map((controller) =>
      Promise.resolve(app.fetch(new Request(`http://127.0.0.1/v1/bars/${HEAVY_SYMBOL}?interval=1w`, { signal: controller.signal }))).then(
        (answer) => ((settled++), answer.status),
        () => ((settled++), 0),
      ),
    );
    await loopIterations(3);
    for (const controller of controllers) controller.abort();
    const health = await app.fetch(new Request("http://127.0.0.1/health"));
    expect(health.status).toBe(200);
    expect(settled).toBeLessThan(300);
    const statuses = await Promise.all(reads);
    // Cancelled (499), or refused by the bounded queue before (503); none read to its end.
    expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(2);
    expect(settled).toBe(600);
  });
});

/**
 * Arrivals in slices (src/api/arrivals.ts): a turn's first `burst` arrivals run at once; past
 * them and `sliceMs` of work, the rest wait in order for later turns, `sliceMs` at a time, so the
 * loop turns (and polls its sockets) between them. Through a real server: /health is answered
 * while a burst of slow requests is still being worked through.
 */
import { describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { slicedArrivals } from "../../src/api/arrivals.ts";

/** A handler that keeps the thread `ms` per request and records the order it ran them in. */
function busyHandler(ms: number) {
  const ran: number[] = [];
  const handle = (request: Request) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
    ran.push(Number(new URL(request.url).searchParams.get("i")));
    return new Response(String(ran.length));
  };
  return { ran, handle };
}
const server = {} as Server<unknown>;
const requestNumber = (i: number) => new Request(`http://127.0.0.1/x?i=${i}`);

describe("slicedArrivals", () => {
  test("a turn's first `burst` arrivals run at once, whatever their time; the rest wait for later turns, in order", async () => {
    const { ran, handle } = busyHandler(0.5);
    const sliced = slicedArrivals(handle, { sliceMs: 2, burst: 8 });
    const answers = Array.from({ length: 40 }, (_, i) => sliced(requestNumber(i), server));
    // Eight ran in this turn (4 ms of work: more than the slice, but within the burst).
    expect(ran).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // The loop turns between slices: a callback queued now runs before the last of them.
    let turnedAt = -1;
    setImmediate(() => (turnedAt = ran.length));
    const texts = await Promise.all(answers.map(async (answer) => (await answer).text()));
    expect(ran).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(texts).toEqual(Array.from({ length: 40 }, (_, i) => String(i + 1)));
    expect(turnedAt).toBeGreaterThan(7);
    expect(turnedAt).toBeLessThan(40);
  });

  test("a turn within the burst or the slice runs everything at once; the next turn starts a new slice", async () => {
    const { ran, handle } = busyHandler(0);
    const sliced = slicedArrivals(handle, { sliceMs: 50, burst: 0 });
    for (let i = 0; i < 20; i++) sliced(requestNumber(i), server);
    expect(ran.length).toBe(20);
    await new Promise((resolve) => setImmediate(resolve));
    const slow = busyHandler(3);
    const strict = slicedArrivals(slow.handle, { sliceMs: 2, burst: 0 });
    strict(requestNumber(0), server);
    const second = strict(requestNumber(1), server);
    // The first took the turn's slice: the second waits for the next turn.
    expect(slow.ran).toEqual([0]);
    await second;
    expect(slow.ran).toEqual([0, 1]);
    await new Promise((resolve) => setImmediate(resolve));
    strict(requestNumber(2), server);
    // A new turn, a new slice: runs at once.
    expect(slow.ran).toEqual([0, 1, 2]);
  });

  test("a request let in at once goes through `handle`, one that waited through `waited` on its turn", async () => {
    const { ran, handle } = busyHandler(1);
    const late: number[] = [];
    const sliced = slicedArrivals(handle, {
      sliceMs: 1,
      burst: 2,
      waited: (request) => {
        late.push(Number(new URL(request.url).searchParams.get("i")));
        return new Response("later");
      },
    });
    const answers = [0, 1, 2, 3].map((i) => sliced(requestNumber(i), server));
    expect(ran).toEqual([0, 1]);
    const texts = await Promise.all(answers.map(async (answer) => (await answer).text()));
    expect(texts).toEqual(["1", "2", "later", "later"]);
    expect(late).toEqual([2, 3]);
    expect(ran).toEqual([0, 1]);
  });

  test("a handler that throws fails its own request only", async () => {
    const sliced = slicedArrivals(
      (request) => {
        if (request.url.endsWith("i=1")) throw new Error("boom");
        const until = performance.now() + 3;
        while (performance.now() < until);
        return new Response("ok");
      },
      { sliceMs: 1, burst: 0 },
    );
    const answers = [0, 1, 2].map((i) => Promise.resolve(sliced(requestNumber(i), server)).then((answer) => answer.text(), (error: Error) => error.message));
    expect(await Promise.all(answers)).toEqual(["ok", "boom", "ok"]);
  });

  test("bad settings are refused", () => {
    expect(() => slicedArrivals(() => new Response(), { sliceMs: 0 })).toThrow(TypeError);
    expect(() => slicedArrivals(() => new Response(), { burst: -1 })).toThrow(TypeError);
  });

  test("through a real server: /health, answered before the sliced app, gets through a burst of slow requests", async () => {
    const { ran, handle } = busyHandler(2);
    const sliced = slicedArrivals(handle);
    const served = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request, running) => (new URL(request.url).pathname === "/health" ? new Response("ok") : sliced(request, running)),
    });
    try {
      const base = `http://127.0.0.1:${served.port}`;
      // 150 requests of 2 ms each: 300 ms of work that, unsliced, would hold the loop once read.
      const burst = Array.from({ length: 150 }, (_, i) => fetch(`${base}/x?i=${i}`).then((answer) => answer.text()));
      while (ran.length === 0) await Bun.sleep(1);
      const health = await fetch(`${base}/health`).then((answer) => answer.text());
      const doneWhenHealthy = ran.length;
      expect(health).toBe("ok");
      expect(doneWhenHealthy).toBeLessThan(150);
      expect((await Promise.all(burst)).length).toBe(150);
      expect(ran.length).toBe(150);
    } finally {
      served.stop(true);
    }
  });
});

/**
 * store.watch() on every backend (src/domain/watch.ts): every bar once and in order, from this
 * store and from a separate process; replay from a cursor, mid-change, then live, with nothing
 * lost or repeated at the seam; resampled buckets as they form and once final; bad cursors and
 * options refused; return() and an aborted signal end a waiting watch; a writer killed mid-batch
 * shows nothing of it.
 */
import { expect, test } from "bun:test";
import { ValidationError, type BarEvent, type Store, type StoreOptions } from "../../src/mod.ts";
import { watchReadCounts } from "../../src/domain/watch-reads.ts";
import { take } from "./watch.ts";

const MINUTE = 60_000;
/** 2024-01-02 09:31 Shanghai: the first minute of a trading day. */
const T0 = Date.UTC(2024, 0, 2, 1, 31);
const WRITER = new URL("./watch-writer.ts", import.meta.url).pathname;

export interface WatchedStore {
  store: Store;
  /** Options that open the same database from another process. */
  location: StoreOptions;
  /** Options for a raw writer in another process: a file path or a PostgreSQL URL. */
  raw: { path: string } | { url: string };
}

export type WatchFactory = () => Promise<WatchedStore>;

const bar = (timestamp: number, i: number) => ({ timestamp, open: 10 + i, high: 11 + i, low: 9 + i, close: 10.5 + i, volume: 100 + i });
const bars = (from: number, count: number) => Array.from({ length: count }, (_, i) => bar(T0 + (from + i) * MINUTE, from + i));
const stamps = (events: readonly BarEvent[]) => events.map((event) => event.bar.timestamp);
const minutes = (from: number, count: number) => Array.from({ length: count }, (_, i) => T0 + (from + i) * MINUTE);

/** Runs the writer child to its end ("done") or until it prints "inside" (then it is left running). */
async function writer(job: Record<string, unknown>, until: "done" | "inside"): Promise<ReturnType<typeof Bun.spawn>> {
  const child = Bun.spawn(["bun", WRITER, JSON.stringify(job)], { stdout: "pipe", stderr: "pipe" });
  const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
  let seen = "";
  while (!seen.includes(until)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the writer ended before "${until}": ${await new Response(child.stderr as ReadableStream).text()}`);
    seen += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return child;
}

function expectSince(error: unknown): void {
  expect(error).toBeInstanceOf(ValidationError);
  expect((error as ValidationError).issues[0]!.field).toBe("since");
}

export function watchConformance(name: string, open: WatchFactory): void {
  const withStore = (title: string, body: (opened: WatchedStore) => Promise<void>, timeout = 60_000) =>
    test(`${name}: ${title}`, async () => {
      const opened = await open();
      try {
        await body(opened);
      } finally {
        await opened.store.close();
      }
    }, timeout);

  withStore("every bar of the watched symbols arrives once, in timestamp order, from batches, corrections and other symbols", async ({ store }) => {
    const watch = store.watch({ symbols: ["600519.SH"] });
    const all = store.watch();
    await Promise.all([watch.ready, all.ready]);
    await store.insertBars("600519.SH", bars(0, 3));
    await store.insertBars("000001.SZ", bars(0, 2));
    await store.insertBars("600519.SH", bars(3, 2));
    // A correction of a stored bar is a change: it comes again, with its new prices.
    await store.insertBars("600519.SH", [{ ...bar(T0 + 4 * MINUTE, 4), close: 14 }]);
    const events = await take(watch, 6);
    expect(stamps(events)).toEqual([...minutes(0, 5), T0 + 4 * MINUTE]);
    expect(events.every((event) => event.symbol === "600519.SH" && event.final && event.interval === null)).toBe(true);
    expect(events[5]!.bar.close).toBe(14);
    expect(events[0]!.bar).toEqual((await store.getBars("600519.SH", { limit: 1 }))[0]!);
    const everything = await take(all, 8);
    expect(everything.map((event) => `${event.symbol}@${(event.bar.timestamp - T0) / MINUTE}`)).toEqual([
      "600519.SH@0", "600519.SH@1", "600519.SH@2", "000001.SZ@0", "000001.SZ@1", "600519.SH@3", "600519.SH@4", "600519.SH@4",
    ]);
    await watch.return();
    await all.return();
  });

  withStore("many watches of different symbols each get exactly their bars once and in order, and a commit's bars are read once whatever the number of watches", async ({ store }) => {
    const symbols = Array.from({ length: 40 }, (_, i) => `${600000 + i}.SH`);
    let written = 0;
    for (const watchers of [4, 40]) {
      const probe = store.watch();
      const cursor = await probe.ready;
      await probe.return();
      // One change row per symbol, three bars each, written before the watches start: each
      // watch replays the same page of the log.
      for (const symbol of symbols) await store.insertBars(symbol, bars(written, 3));
      const before = watchReadCounts(store);
      const watches = Array.from({ length: watchers }, (_, w) => {
        // In log order (the order the symbols were written).
        const wanted = [symbols[w % symbols.length]!, symbols[(w + 7) % symbols.length]!].sort((a, b) => symbols.indexOf(a) - symbols.indexOf(b));
        return { wanted, watch: store.watch({ symbols: wanted, since: cursor }) };
      });
      const seen = await Promise.all(watches.map(({ watch }) => take(watch, 6)));
      const after = watchReadCounts(store);
      // One read of the page's bars (one statement, one worker round trip), none per symbol or per watch.
      expect({ pages: after.pages - before.pages, symbols: after.symbols - before.symbols }).toEqual({ pages: 1, symbols: 0 });
      // A sentinel minute for every symbol: each watch's next events are its own sentinels, so
      // nothing came twice.
      for (const symbol of symbols) await store.insertBars(symbol, bars(written + 3, 1));
      const next = await Promise.all(watches.map(({ watch }) => take(watch, 2)));
      watches.forEach(({ wanted }, w) => {
        expect(seen[w]!.map((event) => `${event.symbol}@${event.bar.timestamp}`)).toEqual(
          wanted.flatMap((symbol) => minutes(written, 3).map((stamp) => `${symbol}@${stamp}`)),
        );
        expect(next[w]!.map((event) => `${event.symbol}@${event.bar.timestamp}`)).toEqual(
          wanted.map((symbol) => `${symbol}@${minutes(written + 3, 1)[0]}`),
        );
      });
      expect(seen[0]![0]!.bar).toEqual((await store.getBars(watches[0]!.wanted[0]!, { start: minutes(written, 1)[0]!, limit: 1 }))[0]!);
      await Promise.all(watches.map(({ watch }) => watch.return()));
      written += 4;
    }
  });

  withStore("a page that touched more bars than one shared read holds (a backfill) is read per symbol, still every bar once and in order", async ({ store }) => {
    const probe = store.watch();
    const cursor = await probe.ready;
    await probe.return();
    // One more than PAGE_BARS (src/domain/watch.ts): a day of 240 minutes for 209 days.
    const count = 50_160;
    await store.insertBars("600519.SH", { timestamp: Float64Array.from({ length: count }, (_, i) => T0 + i * MINUTE), close: Float64Array.from({ length: count }, (_, i) => 10 + (i % 7)) });
    const before = watchReadCounts(store);
    const watch = store.watch({ symbols: ["600519.SH"], since: cursor });
    const events = await take(watch, count);
    const after = watchReadCounts(store);
    expect(after.pages - before.pages).toBe(1);
    expect(after.symbols - before.symbols).toBeGreaterThan(0);
    expect(events.length).toBe(count);
    expect(events.every((event, i) => event.bar.timestamp === T0 + i * MINUTE && event.bar.close === 10 + (i % 7))).toBe(true);
    await store.insertBars("600519.SH", bars(count, 1));
    expect(stamps(await take(watch, 1))).toEqual(minutes(count, 1));
    await watch.return();
  });

  withStore("a cursor replays what was stored after it, from the middle of a batch, then goes live with no gap and no repeat at the seam", async ({ store }) => {
    const first = store.watch({ symbols: ["600519.SH"] });
    await first.ready;
    await store.insertBars("600519.SH", bars(0, 10));
    const seen = await take(first, 4);
    await first.return();
    await store.insertBars("600519.SH", bars(10, 10));
    const resumed = store.watch({ symbols: ["600519.SH"], since: seen[3]!.cursor });
    await resumed.ready;
    const live = (async () => {
      await Bun.sleep(20);
      await store.insertBars("600519.SH", bars(20, 5));
    })();
    const rest = await take(resumed, 21);
    await live;
    expect(stamps([...seen, ...rest])).toEqual(minutes(0, 25));
    // Every cursor resumes right after its own event.
    for (const at of [0, 5, 18]) {
      const again = store.watch({ symbols: ["600519.SH"], since: rest[at]!.cursor });
      expect(stamps(await take(again, 2))).toEqual(minutes(4 + at + 1, 2));
      await again.return();
    }
  });

  withStore("with an interval, a bucket is emitted as it forms and once final when its last minute is stored, equal to getBars", async ({ store }) => {
    const watch = store.watch({ symbols: ["600519.SH"], interval: "5m" });
    await watch.ready;
    // One minute at a time, each seen before the next is written (a watch that is behind gets
    // the rows written meanwhile as one range, and each bucket once, as it then is).
    const events: BarEvent[] = [];
    for (let i = 0; i < 7; i++) {
      await store.insertBars("600519.SH", bars(i, 1));
      events.push(...(await take(watch, 1)));
    }
    const resampled = await store.getBars("600519.SH", { interval: "5m" });
    expect(events.every((event) => event.interval === "5m")).toBe(true);
    const finals = events.filter((event) => event.final);
    // The first complete bucket is final exactly once, and that event is getBars' bucket.
    expect(finals.length).toBe(1);
    const closed = resampled.find((row) => row.timestamp === finals[0]!.bar.timestamp)!;
    expect(finals[0]!.bar).toEqual(closed);
    // Before its last minute, the same bucket came as it formed, each time with one more bar.
    const forming = events.filter((event) => event.bar.timestamp === closed.timestamp && !event.final);
    expect(forming.length).toBeGreaterThan(0);
    expect(forming.map((event) => event.bar.volume)).toEqual([...forming.map((event) => event.bar.volume)].sort((a, b) => a! - b!));
    // The bucket still forming is not final, and equals getBars' last bucket so far.
    expect(events[6]!.final).toBe(false);
    expect(events[6]!.bar).toEqual(resampled[resampled.length - 1]!);
    await watch.return();
  });

  withStore("a bucket that misses its last minute is final once the next bucket's first bar is stored", async ({ store }) => {
    const watch = store.watch({ symbols: ["600519.SH"], interval: "5m" });
    await watch.ready;
    // 09:31-09:33 of the 09:31-09:35 bucket (end-stamped; 09:30-09:34 start-stamped), then 09:40.
    await store.insertBars("600519.SH", bars(0, 3));
    const forming = await take(watch, 1);
    await store.insertBars("600519.SH", bars(9, 1));
    const [closed, next] = await take(watch, 2);
    const resampled = await store.getBars("600519.SH", { interval: "5m" });
    expect(forming[0]!.final).toBe(false);
    expect(closed!.bar).toEqual(resampled[0]!);
    expect(closed!.final).toBe(true);
    expect(next!.bar).toEqual(resampled[1]!);
    expect(next!.final).toBe(false);
    await watch.return();
  });

  withStore("a batch longer than a page arrives whole and in order, and a cursor in its middle resumes at the next bar", async ({ store }) => {
    const watch = store.watch({ symbols: ["600519.SH"] });
    await watch.ready;
    await store.insertBars("600519.SH", bars(0, 12_000));
    const events = await take(watch, 12_000);
    expect(stamps(events)).toEqual(minutes(0, 12_000));
    await watch.return();
    const resumed = store.watch({ symbols: ["600519.SH"], since: events[7_499]!.cursor });
    expect(stamps(await take(resumed, 3))).toEqual(minutes(7_500, 3));
    await resumed.return();
  });

  withStore("session-aligned buckets follow the symbol's calendar as getBars does; a symbol without one is refused when the watch starts", async ({ store }) => {
    const unaligned = store.watch({ symbols: ["600519.SH"], interval: "15m", align: "session" });
    expect((await unaligned.ready.catch((error: unknown) => error) as ValidationError).issues[0]!.field).toBe("align");
    await store.calendars.assign("600519.SH", "XSHG");
    const watch = store.watch({ symbols: ["600519.SH"], interval: "15m", align: "session" });
    await watch.ready;
    await store.insertBars("600519.SH", bars(0, 40));
    const events = await take(watch, 3);
    expect(events.map((event) => event.bar)).toEqual(await store.getBars("600519.SH", { interval: "15m", align: "session" }));
    expect(events.map((event) => event.final)).toEqual([true, true, false]);
    await watch.return();
  });

  withStore("adjusted watches carry getBars' adjusted prices", async ({ store }) => {
    await store.adjustments.insert("600519.SH", [{ date: "2024-01-01", factor: 1 }, { date: "2024-01-02", factor: 2 }]);
    const watch = store.watch({ symbols: ["600519.SH"], adjust: "hfq" });
    await watch.ready;
    await store.insertBars("600519.SH", bars(0, 2));
    const events = await take(watch, 2);
    expect(events.map((event) => event.bar)).toEqual(await store.getBars("600519.SH", { adjust: "hfq" }));
    await watch.return();
  });

  withStore("three hundred watches of one store (their reads shared while in flight) each see every bar once, in order, each event with its own bar", async ({ store }) => {
    const watches = Array.from({ length: 300 }, (_, i) => store.watch(i % 2 === 0 ? { symbols: ["600519.SH"] } : {}));
    await Promise.all(watches.map((watch) => watch.ready));
    const seen = Promise.all(watches.map((watch) => take(watch, 20)));
    for (let i = 0; i < 20; i++) await store.insertBars("600519.SH", bars(i, 1));
    for (const events of await seen) expect(stamps(events)).toEqual(minutes(0, 20));
    // Each event carries its own bar: a consumer that changes one changes no other watch's.
    const next = Promise.all([take(watches[0]!, 1), take(watches[2]!, 1)]);
    await store.insertBars("600519.SH", bars(20, 1));
    const [[mine], [theirs]] = await next;
    mine!.bar.close = -1;
    expect(theirs!.bar.close).toBe(bar(T0 + 20 * MINUTE, 20).close);
    await Promise.all(watches.map((watch) => watch.return()));
  });

  withStore("bad cursors and options are refused, naming what was wrong", async ({ store }) => {
    await store.insertBars("600519.SH", bars(0, 1));
    const ready = await store.watch().ready;
    for (const since of ["nonsense", "", `${ready}x`, `0123456789abcdef.1`, ready.replace(/\.(\d+)$/, ".99999")]) {
      const watch = store.watch({ since });
      const failure = await watch.ready.catch((error: unknown) => error);
      expectSince(failure);
      expectSince(await watch.next().catch((error: unknown) => error));
    }
    expect(() => store.watch({ since: 5 as never })).toThrow(ValidationError);
    expect(() => store.watch({ interval: "7m" as never })).toThrow(/interval/);
    expect(() => store.watch({ symbols: [] })).toThrow(/symbols/);
    expect(() => store.watch({ symbols: ["bad symbol!"] })).toThrow(ValidationError);
    expect(() => store.watch({ untilDone: true } as never)).toThrow(/untilDone/);
    expect(() => store.watch({ adjust: "both" as never })).toThrow(/adjust/);
  });

  withStore("return() and an aborted signal end a watch that is waiting for changes", async ({ store }) => {
    const watch = store.watch();
    await watch.ready;
    const pending = watch.next();
    await Bun.sleep(10);
    await watch.return();
    expect((await pending).done).toBe(true);
    const controller = new AbortController();
    const aborted = store.watch({ signal: controller.signal });
    const waiting = aborted.next();
    await Bun.sleep(10);
    controller.abort();
    expect((await waiting).done).toBe(true);
  });

  withStore("bars a separate Bun process writes arrive once each, in order per symbol", async ({ store, location }) => {
    const watch = store.watch({ symbols: ["600519.SH", "000001.SZ"] });
    await watch.ready;
    const child = writer({ mode: "bars", store: location, symbols: ["600519.SH", "000001.SZ"], count: 15, t0: T0 }, "done");
    const events = await take(watch, 30);
    await child;
    for (const symbol of ["600519.SH", "000001.SZ"]) {
      expect(stamps(events.filter((event) => event.symbol === symbol))).toEqual(minutes(0, 15));
    }
    await watch.return();
  });

  withStore("a writer killed with kill -9 mid-batch shows nothing of its batch; later commits arrive", async ({ store, raw }) => {
    const watch = store.watch({ symbols: ["600519.SH"] });
    await watch.ready;
    const child = await writer({ mode: "hold", ...raw, symbol: "600519.SH", count: 5_000, t0: T0 }, "inside");
    child.kill(9);
    await child.exited;
    await store.insertBars("600519.SH", bars(10_000, 2));
    const events = await take(watch, 2);
    expect(stamps(events)).toEqual(minutes(10_000, 2));
    expect(await store.getBars("600519.SH")).toHaveLength(2);
    await watch.return();
  });
}


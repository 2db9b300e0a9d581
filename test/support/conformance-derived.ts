/**
 * Derived days (src/domain/derived-days.ts) through the Store interface, on every backend: a
 * `1d`, `1w` or `1M` read that takes days kept on write equals the same read resampling every
 * minute on the fly (`derived: false`), bit for bit, after live appends, late corrections of old
 * minutes, inserts before a day's first minute, deletes, on ranges cut inside a day, adjusted,
 * on generated data, on any sequence of writes (fast-check) and on the real TDX index minutes.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import type { Bar, BarQuery, Store } from "../../src/mod.ts";
import { randomBars, sessionBars } from "./bars.ts";
import type { StoreFactory } from "./conformance.ts";
import { readTdxBars, TDX_INDEX_1MIN } from "./real-data-tdx.ts";

const MINUTE = 60_000;
const SHANGHAI = { timezone: "Asia/Shanghai", barTimestamp: "end" as const };
const INTERVALS = ["1d", "1w", "1M"] as const;

/** Every derived interval over `ranges`, derived and on the fly, compared whole. */
export async function expectDerivedEqual(store: Store, symbol: string, ranges: readonly BarQuery[] = [{}], extra: BarQuery = {}): Promise<void> {
  for (const interval of INTERVALS) {
    for (const range of ranges) {
      const query = { ...range, ...extra, interval };
      const derived = await store.getBars(symbol, query);
      const onTheFly = await store.getBars(symbol, { ...query, derived: false });
      expect({ query, bars: derived }).toEqual({ query, bars: onTheFly });
    }
  }
}

/** Ranges that cut days, weeks and months at odd minutes, plus whole-history reads in both orders. */
function rangesOver(bars: readonly Bar[]): BarQuery[] {
  const at = (i: number) => bars[Math.min(bars.length - 1, Math.max(0, i))]!.timestamp;
  return [
    {},
    { order: "desc", limit: 3 },
    { start: at(100), end: at(bars.length - 77) },
    { start: at(241), end: at(479) },
    { start: at(240 * 3), end: at(240 * 8 - 1) },
    { start: at(5) + 1, end: at(5) + 1 },
  ];
}

export function derivedDaysConformance(fresh: StoreFactory): void {
  test("derived days: 1d, 1w and 1M equal on-the-fly resampling after live appends, late corrections, early inserts and deletes", async () => {
    for (const options of [SHANGHAI, { timezone: "UTC", barTimestamp: "start" as const }]) {
      const store = await fresh(options);
      const bars = sessionBars(45, 11, "2024-01-29");
      // Live order: one bar, then 7-bar and 240-bar batches.
      let i = 0;
      for (const size of [1, 7, 240, 13]) {
        await store.insertBars("600519.SH", bars.slice(i, i + size));
        i += size;
      }
      while (i < bars.length) {
        await store.insertBars("600519.SH", bars.slice(i, i + 240));
        i += 240;
      }
      await expectDerivedEqual(store, "600519.SH", rangesOver(bars));
      // A late correction inside an old day, and one of a day's last minute.
      const corrected = (bar: Bar, factor: number): Bar => ({ ...bar, high: bar.high! * factor, close: bar.close!, volume: bar.volume! + 1.5, amount: bar.amount! * 1.1 });
      await store.insertBars("600519.SH", [corrected(bars[500]!, 1.01), corrected(bars[719]!, 1.02)]);
      // A bar before the first minute of a day already stored (the auction print), and a whole new early day.
      await store.insertBars("600519.SH", [{ ...bars[960]!, timestamp: bars[960]!.timestamp - 60 * MINUTE }]);
      await store.insertBars("600519.SH", randomBars([bars[0]!.timestamp - 3 * 86_400_000, bars[0]!.timestamp - 3 * 86_400_000 + MINUTE], 5));
      await expectDerivedEqual(store, "600519.SH", rangesOver(bars));
      // Deletes: part of a day, a whole day, then everything in a week.
      await store.deleteBars("600519.SH", { start: bars[1210]!.timestamp, end: bars[1300]!.timestamp });
      await store.deleteBars("600519.SH", { start: bars[2400]!.timestamp, end: bars[2639]!.timestamp });
      await expectDerivedEqual(store, "600519.SH", rangesOver(bars));
      await store.deleteBars("600519.SH", { start: bars[240 * 20]!.timestamp, end: bars[240 * 25 - 1]!.timestamp });
      await store.insertBars("600519.SH", bars.slice(240 * 22, 240 * 22 + 30));
      await expectDerivedEqual(store, "600519.SH", rangesOver(bars));
    }
  });

  test("derived days: adjusted reads (qfq, hfq, with a factor changing mid-range) equal the per-minute path; adjustVolume too", async () => {
    const store = await fresh(SHANGHAI);
    const bars = sessionBars(30, 12, "2024-01-29");
    for (let i = 0; i < bars.length; i += 240) await store.insertBars("600036.SH", bars.slice(i, i + 240));
    await store.adjustments.insert("600036.SH", [
      { date: "2024-01-29", factor: 1 },
      { date: "2024-02-07", factor: 1.1377 },
      { date: "2024-03-01", factor: 1.3 },
    ]);
    for (const adjust of ["qfq", "hfq"] as const) {
      await expectDerivedEqual(store, "600036.SH", rangesOver(bars), { adjust });
      await expectDerivedEqual(store, "600036.SH", [{}], { adjust, adjustVolume: true });
    }
  });

  test("derived days: a stored daily file beside the minutes still wins its dates, and days merge as before", async () => {
    const store = await fresh(SHANGHAI);
    const bars = sessionBars(10, 13, "2024-03-04");
    await store.insertBars("000001.SZ", bars);
    await store.insertBars("000001.SZ", [{ timestamp: "2024-03-05", open: 1, high: 2, low: 0.5, close: 1.5, volume: 10, amount: 15 }], { interval: "1d" });
    for (const source of [undefined, "minutes" as const]) {
      const query = { interval: "1d" as const, ...(source ? { source } : {}) };
      expect(await store.getBars("000001.SZ", query)).toEqual(await store.getBars("000001.SZ", { ...query, derived: false }));
    }
    expect((await store.getBars("000001.SZ", { interval: "1d", start: "2024-03-05", end: "2024-03-05" }))[0]!.close).toBe(1.5);
  });

  test("derived days equal on-the-fly resampling after any sequence of appends, corrections and deletes (fast-check)", async () => {
    const store = await fresh(SHANGHAI);
    const bars = sessionBars(12, 14, "2024-02-26");
    const index = fc.integer({ min: 0, max: bars.length - 1 });
    const command = fc.oneof(
      fc.tuple(fc.constant("insert" as const), index, fc.integer({ min: 1, max: 300 })),
      fc.tuple(fc.constant("correct" as const), index, fc.integer({ min: 1, max: 5 })),
      fc.tuple(fc.constant("delete" as const), index, fc.integer({ min: 0, max: 400 })),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 6 }), async (commands) => {
        const symbol = `R${++run}`;
        for (const [kind, at, size] of commands) {
          if (kind === "insert") await store.insertBars(symbol, bars.slice(at, at + size));
          else if (kind === "correct") await store.insertBars(symbol, bars.slice(at, at + size).map((bar) => ({ ...bar, high: bar.high! + 1, volume: bar.volume! + 0.25 })));
          else await store.deleteBars(symbol, { start: bars[at]!.timestamp, end: bars[Math.min(bars.length - 1, at + size)]!.timestamp });
        }
        await expectDerivedEqual(store, symbol, [{}, { start: bars[300]!.timestamp, end: bars[2000]!.timestamp }]);
      }),
      { numRuns: 15 },
    );
  });

  test("derived days: sums where plain and compensated addition disagree, from a first minute in mid-session, equal on the fly", async () => {
    const store = await fresh(SHANGHAI);
    // 1e16 beside 1s: each day's sum depends on every addition; a first bar at 13:07 puts the
    // on-the-fly read's window edges in mid-session, where they must not cut a day in two.
    const bars = sessionBars(70, 15, "2024-01-02").slice(126).map((bar, i) => ({
      ...bar,
      amount: i % 97 === 0 ? 1e16 : i % 97 < 3 ? 1 : Math.round(bar.amount! * 100 + 0.37) / 100,
      volume: i % 50 === 7 ? null : bar.volume! + 0.1,
    }));
    for (let i = 0; i < bars.length; i += 240) await store.insertBars("000300.SH", bars.slice(i, i + 240));
    await expectDerivedEqual(store, "000300.SH", rangesOver(bars));
  });

  test("derived days: a session-aligned 1d (the XSHG calendar in the store's zone), filled or not, equals on-the-fly", async () => {
    const store = await fresh({ ...SHANGHAI, calendar: "XSHG" });
    const bars = sessionBars(30, 16, "2024-01-29").filter((_, i) => i % 240 !== 17 && Math.floor(i / 240) !== 6);
    for (let i = 0; i < bars.length; i += 240) await store.insertBars("600000.SH", bars.slice(i, i + 240));
    for (const query of [{ align: "session" as const }, { align: "session" as const, fill: "previous" as const }]) {
      for (const range of rangesOver(bars)) {
        const read = { ...range, ...query, interval: "1d" as const };
        expect(await store.getBars("600000.SH", read)).toEqual(await store.getBars("600000.SH", { ...read, derived: false }));
      }
    }
  });

  test("derived days across daylight-saving changes (New York, around the clock, sums that depend on every addition) equal on the fly", async () => {
    const store = await fresh({ timezone: "America/New_York", barTimestamp: "start" });
    const first = Date.UTC(2024, 2, 6, 5);
    const bars = randomBars(Array.from({ length: 14 * 24 * 12 }, (_, i) => first + i * 5 * MINUTE), 17).map((bar, i) => ({
      ...bar,
      amount: i % 97 === 0 ? 1e16 : i % 97 < 3 ? 1 : Math.round(bar.amount! * 100 + 0.37) / 100,
    }));
    for (let i = 0; i < bars.length; i += 288) await store.insertBars("SPY", bars.slice(i, i + 288));
    await expectDerivedEqual(store, "SPY", [{}, { start: bars[100]!.timestamp, end: bars[3000]!.timestamp }]);
  });

  test("derived days on real data: the TDX index minutes (100 days, denormal volumes) in daily batches with late corrections", async () => {
    const store = await fresh(SHANGHAI);
    const real = await readTdxBars(TDX_INDEX_1MIN);
    for (let i = 0; i < real.length; i += 240) await store.insertBars("000001.SH", real.slice(i, i + 240));
    // A late correction of an old minute (a vendor's revised print), and a re-sent day.
    await store.insertBars("000001.SH", [{ ...real[1234]!, high: real[1234]!.high + 5, amount: real[1234]!.amount * 1.001 }]);
    await store.insertBars("000001.SH", real.slice(4800, 5040));
    const bars = await store.getBars("000001.SH");
    expect(bars.length).toBe(real.length);
    await expectDerivedEqual(store, "000001.SH", rangesOver(bars));
    expect((await store.getBars("000001.SH", { interval: "1d" })).length).toBe(100);
  });
}

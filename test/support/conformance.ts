/**
 * The Store conformance suite: every backend runs these same tests through the Store interface.
 * Call it from a backend's test file with a factory that opens a fresh, empty store.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { StorageError, ValidationError, type Bar, type SettingsRequest, type Store } from "../../src/mod.ts";
import { randomBars, sessionBars } from "./bars.ts";
import { settingsConformance, type Reopen } from "./settings-conformance.ts";
import { dailySeriesConformance } from "./conformance-daily.ts";
import { cancellationConformance } from "./conformance-cancel.ts";
import { crossSectionConformance } from "./conformance-cross-section.ts";
import { adjustmentConformance } from "./conformance-adjustments.ts";
import { instrumentConformance } from "./conformance-instruments.ts";
import { summaryConformance } from "./conformance-summary.ts";
import { derivedDaysConformance } from "./conformance-derived.ts";
import { auditRollupConformance } from "./conformance-audit-rollup.ts";

export interface StoreFactoryOptions {
  timezone?: string;
  barTimestamp?: "start" | "end";
  calendar?: string | null;
  initialSettings?: SettingsRequest;
  allowSecondsLikeTimestamps?: boolean;
  auditRollupMs?: number;
}

export type StoreFactory = (options?: StoreFactoryOptions) => Promise<Store>;

const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 2, 1, 31);

function minuteBars(count: number, seed = 1, start = T0): Bar[] {
  return randomBars(Array.from({ length: count }, (_, i) => start + i * MINUTE), seed);
}

async function expectValidationError(promise: Promise<unknown>): Promise<ValidationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

/**
 * `reopen`, where the backend's database outlives a store (not :memory:), opens another store on
 * the database a store of the factory's uses: the settings cases need a second opening.
 */
export function storeConformance(name: string, openStore: StoreFactory, reopen?: Reopen): void {
  describe(`Store conformance: ${name}`, () => {
    const open: Store[] = [];
    async function fresh(options?: StoreFactoryOptions): Promise<Store> {
      const store = await openStore(options);
      open.push(store);
      return store;
    }
    afterEach(async () => {
      for (const store of open.splice(0)) await store.close();
    });

    settingsConformance(fresh, reopen, (store) => open.push(store));
    dailySeriesConformance(fresh);
    cancellationConformance(fresh);
    crossSectionConformance(fresh);
    adjustmentConformance(fresh);
    instrumentConformance(fresh);
    summaryConformance(fresh);
    derivedDaysConformance(fresh);
    auditRollupConformance(fresh, reopen);

    test("the store names its timezone and bar stamping, as opened (a view keeps them)", async () => {
      const plain = await fresh();
      expect([plain.timezone, plain.barTimestamp]).toEqual(["UTC", "start"]);
      const shanghai = await fresh({ timezone: "Asia/Shanghai", barTimestamp: "end" });
      expect([shanghai.timezone, shanghai.barTimestamp]).toEqual(["Asia/Shanghai", "end"]);
      const view = shanghai.withActor("alice");
      expect([view.timezone, view.barTimestamp]).toEqual(["Asia/Shanghai", "end"]);
    });

    test("bars round-trip exactly, ascending by default", async () => {
      const store = await fresh();
      const bars = minuteBars(500);
      expect(await store.insertBars("600519", bars)).toBe(500);
      expect(await store.getBars("600519")).toEqual(bars);
    });

    test("columnar input stores the same bars as objects", async () => {
      const store = await fresh();
      const bars = minuteBars(300, 2);
      const columns = {
        timestamp: Float64Array.from(bars, (b) => b.timestamp),
        open: Float64Array.from(bars, (b) => b.open!),
        high: Float64Array.from(bars, (b) => b.high!),
        low: Float64Array.from(bars, (b) => b.low!),
        close: Float64Array.from(bars, (b) => b.close!),
        volume: Float64Array.from(bars, (b) => b.volume!),
        amount: bars.map((b) => b.amount),
      };
      expect(await store.insertBars("COL", columns)).toBe(300);
      expect(await store.getBars("COL")).toEqual(bars);
    });

    test("range queries are inclusive at both ends", async () => {
      const store = await fresh();
      const bars = minuteBars(100);
      await store.insertBars("S", bars);
      const got = await store.getBars("S", { start: bars[10]!.timestamp, end: bars[20]!.timestamp });
      expect(got).toEqual(bars.slice(10, 21));
      const single = await store.getBars("S", { start: bars[5]!.timestamp, end: bars[5]!.timestamp });
      expect(single).toEqual([bars[5]!]);
    });

    test("range bounds accept Date, ISO with offset and naive strings in the store's timezone", async () => {
      const store = await fresh({ timezone: "Asia/Shanghai" });
      const bars = minuteBars(60); // 09:31 ... 10:30 Shanghai on 2024-01-02
      await store.insertBars("S", bars);
      const naive = await store.getBars("S", { start: "2024-01-02 09:40", end: "2024-01-02 09:49:00" });
      expect(naive).toEqual(bars.slice(9, 19));
      const iso = await store.getBars("S", { start: "2024-01-02T01:40:00Z", end: new Date(bars[18]!.timestamp) });
      expect(iso).toEqual(bars.slice(9, 19));
    });

    test("order desc and limit apply after the range", async () => {
      const store = await fresh();
      const bars = minuteBars(50);
      await store.insertBars("S", bars);
      expect(await store.getBars("S", { order: "desc", limit: 3 })).toEqual(bars.slice(-3).reverse());
      expect(await store.getBars("S", { limit: 4 })).toEqual(bars.slice(0, 4));
      expect(await store.getBars("S", { start: bars[10]!.timestamp, order: "desc", limit: 2 })).toEqual([bars[49]!, bars[48]!]);
    });

    test("upsert: a later write to the same (symbol, timestamp) replaces the earlier one", async () => {
      const store = await fresh();
      const bars = minuteBars(20);
      await store.insertBars("S", bars);
      const changed = bars.slice(5, 10).map((b) => ({ ...b, close: b.high, volume: 7 }));
      expect(await store.insertBars("S", changed)).toBe(5);
      const got = await store.getBars("S");
      expect(got).toHaveLength(20);
      expect(got.slice(5, 10)).toEqual(changed);
      expect(got.slice(0, 5)).toEqual(bars.slice(0, 5));
    });

    test("two rows for one key in a batch resolve to the later one, and count once", async () => {
      const store = await fresh();
      const [a, b] = minuteBars(2);
      const replacement = { ...a!, close: a!.low, volume: 1 };
      expect(await store.insertBars("S", [a!, b!, replacement])).toBe(2);
      expect(await store.getBars("S")).toEqual([replacement, b!]);
    });

    test("an empty batch writes nothing and returns 0", async () => {
      const store = await fresh();
      expect(await store.insertBars("S", [])).toBe(0);
      expect(await store.insertBars("S", { timestamp: [] })).toBe(0);
      expect(await store.insertQuotes("S", [])).toBe(0);
      expect(await store.overview()).toEqual([]);
    });

    test("unsorted input is stored sorted", async () => {
      const store = await fresh();
      const bars = minuteBars(30);
      const shuffled = [...bars].reverse();
      expect(await store.insertBars("S", shuffled)).toBe(30);
      expect(await store.getBars("S")).toEqual(bars);
    });

    test("a bad row rejects the whole batch and writes nothing", async () => {
      const store = await fresh();
      const good = minuteBars(10);
      await store.insertBars("S", good);
      const batch = minuteBars(10, 3, T0 + 100 * MINUTE);
      const bad = [...batch];
      bad[4] = { ...batch[4]!, low: batch[4]!.high! + 1 };
      bad[7] = { ...batch[7]!, volume: -1 };
      const error = await expectValidationError(store.insertBars("S", bad));
      expect(error.issues.map((issue) => issue.row)).toEqual(expect.arrayContaining([4, 7]));
      expect(error.issues.find((issue) => issue.row === 7)?.field).toBe("volume");
      expect(await store.getBars("S")).toEqual(good);
    });

    test("prices of zero or below, NaN and strings are refused, not coerced", async () => {
      const store = await fresh();
      const [bar] = minuteBars(1);
      for (const patch of [{ open: 0 }, { close: -1 }, { high: Number.NaN }, { volume: Infinity }, { amount: "5" }]) {
        const error = await expectValidationError(store.insertBars("S", [{ ...bar!, ...patch } as never]));
        expect(error.issues).toContainEqual({ row: 0, field: Object.keys(patch)[0], message: expect.any(String) });
      }
      expect(await store.overview()).toEqual([]);
    });

    test("null prices are stored as null", async () => {
      const store = await fresh();
      const bar = { timestamp: T0, open: null, high: null, low: null, close: 10, volume: null, amount: null };
      await store.insertBars("S", [bar]);
      expect(await store.getBars("S")).toEqual([bar]);
    });

    test("bad symbols are refused before anything is written", async () => {
      const store = await fresh();
      for (const symbol of ["", "a b", "x\u0000y", "tab\t", "x".repeat(65)]) {
        await expectValidationError(store.insertBars(symbol, minuteBars(1)));
        await expectValidationError(store.getBars(symbol));
      }
      expect(await store.overview()).toEqual([]);
    });

    test("symbols of every common market shape work", async () => {
      const store = await fresh();
      const symbols = ["600519", "600519.SH", "BTC/USDT", "ES=F", "^GSPC", "../x"];
      for (const symbol of symbols) await store.insertBars(symbol, minuteBars(2));
      const overview = await store.overview();
      expect(overview.map((row) => row.symbol).sort()).toEqual([...symbols].sort());
      for (const symbol of symbols) expect(await store.getBars(symbol)).toEqual(minuteBars(2));
    });

    test("overview is exact under repeated overlapping upserts", async () => {
      const store = await fresh();
      const bars = minuteBars(1_000);
      for (let i = 0; i < 10; i++) await store.insertBars("A", bars.slice(i * 50, i * 50 + 300));
      await store.insertBars("B", bars.slice(0, 7));
      await store.deleteBars("A", { start: bars[0]!.timestamp, end: bars[9]!.timestamp });
      expect(await store.overview()).toEqual([
        { symbol: "A", count: 740, start: bars[10]!.timestamp, end: bars[749]!.timestamp },
        { symbol: "B", count: 7, start: bars[0]!.timestamp, end: bars[6]!.timestamp },
      ]);
    });

    test("deleteBars is inclusive, returns the rows deleted, and leaves other symbols alone", async () => {
      const store = await fresh();
      const bars = minuteBars(30);
      await store.insertBars("A", bars);
      await store.insertBars("B", bars);
      expect(await store.deleteBars("A", { start: bars[10]!.timestamp, end: bars[19]!.timestamp })).toBe(10);
      expect(await store.getBars("A")).toEqual([...bars.slice(0, 10), ...bars.slice(20)]);
      expect(await store.getBars("B")).toEqual(bars);
      expect(await store.deleteBars("A")).toBe(20);
      expect(await store.getBars("A")).toEqual([]);
    });

    test("latestBar returns the newest bar, or null for an unknown symbol", async () => {
      const store = await fresh();
      const bars = minuteBars(10);
      await store.insertBars("S", [...bars].reverse());
      expect(await store.latestBar("S")).toEqual(bars[9]!);
      expect(await store.latestBar("NONE")).toBeNull();
    });

    test("iterateBars yields exactly what getBars returns, across many pages", async () => {
      const store = await fresh();
      const bars = minuteBars(20_000, 5);
      await store.insertBars("S", bars);
      for (const query of [{}, { order: "desc" as const }, { limit: 9_000 }, { start: bars[3]!.timestamp, end: bars[17_000]!.timestamp, order: "desc" as const, limit: 12_345 }]) {
        const streamed: Bar[] = [];
        for await (const bar of store.iterateBars("S", query)) streamed.push(bar);
        expect(streamed).toEqual(await store.getBars("S", query));
      }
    });

    test("start after end, a bad limit, order or interval are validation errors", async () => {
      const store = await fresh();
      await expectValidationError(store.getBars("S", { start: T0 + 1, end: T0 }));
      await expectValidationError(store.getBars("S", { limit: 0 }));
      await expectValidationError(store.getBars("S", { limit: 1.5 }));
      await expectValidationError(store.getBars("S", { order: "up" as never }));
      await expectValidationError(store.getBars("S", { interval: "2m" as never }));
      await expectValidationError(store.getBars("S", { start: "yesterday" }));
      await expectValidationError(store.deleteBars("S", { start: T0 + 1, end: T0 }));
    });

    test("unknown query options are refused: a misspelled bound never widens a delete", async () => {
      const store = await fresh();
      const bars = minuteBars(5);
      await store.insertBars("S", bars);
      const error = await expectValidationError(store.deleteBars("S", { startTime: bars[3]!.timestamp } as never));
      expect(error.issues[0]).toMatchObject({ field: "startTime" });
      await expectValidationError(store.getBars("S", { from: bars[1]!.timestamp } as never));
      await expectValidationError(store.getBars("S", { intervall: "1d" } as never));
      await expectValidationError(store.getQuotes("S", { interval: "1d" } as never));
      expect(await store.getBars("S")).toEqual(bars);
    });

    test("a Date outside years 0001-9999 is refused like any other out-of-range timestamp", async () => {
      const store = await fresh();
      for (const timestamp of [new Date(8.64e15), new Date("+010000-01-01T00:00:00Z")]) {
        const error = await expectValidationError(store.insertBars("S", [{ timestamp, close: 1 }]));
        expect(error.issues[0]).toMatchObject({ row: 0, field: "timestamp" });
      }
      await expectValidationError(store.getBars("S", { end: new Date(8.64e15) }));
      expect(await store.overview()).toEqual([]);
    });

    test("resampled iteration streams across many windows and equals the source at its own interval", async () => {
      const store = await fresh();
      // 20,000 one-minute bars on minute boundaries: a 1m resample must give them back as they are.
      const bars = minuteBars(20_000, 8, Date.UTC(2024, 0, 2, 0, 0));
      await store.insertBars("S", bars);
      const streamed: Bar[] = [];
      for await (const bar of store.iterateBars("S", { interval: "1m" })) streamed.push(bar);
      expect(streamed).toEqual(bars);
      const limited: Bar[] = [];
      for await (const bar of store.iterateBars("S", { interval: "1m", start: bars[100]!.timestamp, limit: 9_000 })) limited.push(bar);
      expect(limited).toEqual(bars.slice(100, 9_100));
      expect(await store.getBars("S", { interval: "1m", order: "desc", limit: 3 })).toEqual(bars.slice(-3).reverse());
    });

    test("resampled volume sums past 2^63 instead of failing with an integer overflow", async () => {
      const store = await fresh();
      await store.insertBars("S", [
        { timestamp: T0, close: 1, volume: 5e18 },
        { timestamp: T0 + MINUTE, close: 1, volume: 5e18 },
      ]);
      const [day] = await store.getBars("S", { interval: "1d" });
      expect(day!.volume).toBe(1e19);
    });

    test("a day that starts with a daylight-saving jump at midnight is stamped with its first instant", async () => {
      // America/Santiago, 2024-09-08: clocks go from 00:00 straight to 01:00 (-04:00 to -03:00).
      const store = await fresh({ timezone: "America/Santiago" });
      const firstInstant = Date.parse("2024-09-08T01:00:00-03:00");
      const bars = minuteBars(120, 6, firstInstant);
      await store.insertBars("CL", bars);
      const days = await store.getBars("CL", { interval: "1d" });
      expect(days).toHaveLength(1);
      expect(days[0]!.timestamp).toBe(firstInstant);
      expect(days[0]!.volume).toBe(bars.reduce((sum, bar) => sum + bar.volume!, 0));
    });

    test("end mode across a daylight-saving change: hourly buckets (start, end] on the local clock", async () => {
      // America/New_York, 2024-03-10: 02:00 EST jumps to 03:00 EDT (07:00Z).
      const store = await fresh({ timezone: "America/New_York", barTimestamp: "end" });
      const from = Date.parse("2024-03-10T00:01:00-05:00");
      const bars = minuteBars(4 * 60, 7, from); // 00:01 EST ... 04:00 EDT, end-stamped
      await store.insertBars("ES=F", bars);
      const hours = await store.getBars("ES=F", { interval: "1h" });
      const local = (ms: number) => new Date(ms).toLocaleTimeString("en-GB", { timeZone: "America/New_York", hour12: false });
      expect(hours.map((bar) => local(bar.timestamp))).toEqual(["01:00:00", "03:00:00", "04:00:00", "05:00:00"]);
      expect(hours.map((bar) => bar.volume)).toEqual([0, 60, 120, 180].map((first) =>
        bars.slice(first, first + 60).reduce((sum, bar) => sum + bar.volume!, 0),
      ));
    });

    test("resampling to 5m and 1d in end mode gives the terminal's A-share buckets", async () => {
      const store = await fresh({ timezone: "Asia/Shanghai", barTimestamp: "end" });
      const bars = sessionBars(3, 9);
      await store.insertBars("600519.SH", bars);
      const five = await store.getBars("600519.SH", { interval: "5m" });
      expect(five).toHaveLength(3 * 48);
      const shanghai = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(11, 16);
      expect(five.slice(0, 48).map((bar) => shanghai(bar.timestamp)).filter((_, i) => i % 12 === 0 || i === 23 || i === 47))
        .toEqual(["09:35", "10:35", "11:30", "13:05", "14:05", "15:00"]);
      const firstBucket = bars.slice(0, 5);
      expect(five[0]).toEqual({
        timestamp: bars[4]!.timestamp,
        open: firstBucket[0]!.open,
        high: Math.max(...firstBucket.map((b) => b.high!)),
        low: Math.min(...firstBucket.map((b) => b.low!)),
        close: firstBucket[4]!.close,
        volume: firstBucket.reduce((sum, b) => sum + b.volume!, 0),
        amount: expect.closeTo(firstBucket.reduce((sum, b) => sum + b.amount!, 0), 6),
      });
      const days = await store.getBars("600519.SH", { interval: "1d" });
      expect(days.map((bar) => new Date(bar.timestamp + 8 * 3_600_000).toISOString())).toEqual([
        "2024-01-02T00:00:00.000Z",
        "2024-01-03T00:00:00.000Z",
        "2024-01-04T00:00:00.000Z",
      ]);
      expect(days[1]!.volume).toBe(bars.slice(240, 480).reduce((sum, b) => sum + b.volume!, 0));
      expect(await store.getBars("600519.SH", { interval: "1d", order: "desc", limit: 1 })).toEqual([days[2]!]);
    });

    test("resampling in start mode buckets [start, end) stamped at the start", async () => {
      const store = await fresh();
      const bars = minuteBars(120, 4, Date.UTC(2024, 0, 2, 9, 0));
      await store.insertBars("S", bars);
      const hours = await store.getBars("S", { interval: "1h" });
      expect(hours.map((bar) => bar.timestamp)).toEqual([Date.UTC(2024, 0, 2, 9), Date.UTC(2024, 0, 2, 10)]);
      expect(hours[0]!.close).toBe(bars[59]!.close);
      expect(hours[1]!.open).toBe(bars[60]!.open);
    });

    test("bars at the first and last accepted instants store, read and resample in a DST zone", async () => {
      const store = await fresh({ timezone: "America/New_York" });
      const first = { timestamp: "0001-01-01T00:00:00.000Z", open: null, high: null, low: null, close: 1, volume: 1, amount: null };
      const last = { ...first, timestamp: "9999-12-31T23:59:59.999Z" };
      expect(await store.insertBars("EDGE", [first, last])).toBe(2);
      const stored = await store.getBars("EDGE");
      expect(stored.map((bar) => new Date(bar.timestamp).toISOString())).toEqual([first.timestamp, last.timestamp]);
      const days = await store.getBars("EDGE", { interval: "1d" });
      expect(days).toHaveLength(2);
      expect(days.map((bar) => bar.volume)).toEqual([1, 1]);
      await expectValidationError(store.insertBars("EDGE", [{ ...first, timestamp: 8.64e15 }]));
    });

    test("quotes round-trip, and a crossed quote rejects the batch", async () => {
      const store = await fresh();
      const quotes = [
        { timestamp: T0, bid: 10, bid_size: 100, ask: 10.01, ask_size: 200, last: 10, volume: 1_000 },
        { timestamp: T0 + 3_000, bid: 10.01, bid_size: 50, ask: 10.02, ask_size: 20, last: 10.02, volume: 1_200 },
      ];
      expect(await store.insertQuotes("600519", quotes)).toBe(2);
      expect(await store.getQuotes("600519")).toEqual(quotes);
      expect(await store.getQuotes("600519", { start: T0 + 1 })).toEqual([quotes[1]!]);
      const error = await expectValidationError(
        store.insertQuotes("600519", [{ timestamp: T0 + 6_000, bid: 10.05, ask: 10.04 }]),
      );
      expect(error.issues[0]).toMatchObject({ row: 0, field: "bid" });
      expect(await store.getQuotes("600519")).toHaveLength(2);
    });

    test("metrics: record, query in time order with inclusive bounds and label filters, summary", async () => {
      const store = await fresh();
      const first = await store.metrics.record("checkpoint.ms", 4, { mode: "PASSIVE" });
      await Bun.sleep(2);
      await store.metrics.record("checkpoint.ms", 10, { mode: "TRUNCATE", db: "main" });
      await Bun.sleep(2);
      const third = await store.metrics.record("checkpoint.ms", 7, { mode: "PASSIVE" });
      await store.metrics.record("other", 100);
      expect(first).toMatchObject({ name: "checkpoint.ms", value: 4, labels: { mode: "PASSIVE" } });
      const all = await store.metrics.query("checkpoint.ms");
      expect(all.map((metric) => metric.value)).toEqual([4, 10, 7]);
      expect(all[1]!.labels).toEqual({ db: "main", mode: "TRUNCATE" });
      const passive = await store.metrics.query("checkpoint.ms", { labels: { mode: "PASSIVE" } });
      expect(passive.map((metric) => metric.value)).toEqual([4, 7]);
      const since = await store.metrics.query("checkpoint.ms", { since: third.timestamp, until: third.timestamp });
      expect(since.map((metric) => metric.value)).toEqual([7]);
      expect(await store.metrics.summary("checkpoint.ms")).toEqual({ name: "checkpoint.ms", count: 3, min: 4, max: 10, mean: 7, last: 7 });
      expect(await store.metrics.summary("never")).toEqual({ name: "never", count: 0, min: null, max: null, mean: null, last: null });
      // -0 is stored and answered as 0 on every backend (SQLite cannot keep -0.0; PostgreSQL could).
      const negativeZero = await store.metrics.record("zero", -0);
      expect(Object.is(negativeZero.value, 0)).toBe(true);
      const zeros = await store.metrics.query("zero");
      expect(zeros.map((metric) => Object.is(metric.value, 0))).toEqual([true]);
      expect(Object.is((await store.metrics.summary("zero")).last, 0)).toBe(true);
    });

    test("metrics: bad names, values, labels and options are validation errors and record nothing", async () => {
      const store = await fresh();
      const bad: [string, unknown, unknown, string][] = [
        ["", 1, undefined, "name"],
        ["has space", 1, undefined, "name"],
        ["ok", Number.NaN, undefined, "value"],
        ["ok", "1", undefined, "value"],
        ["ok", 1, { kind: 5 }, "labels.kind"],
        ["ok", 1, { "bad key": "x" }, "labels.bad key"],
        ["ok", 1, { big: "x".repeat(5_000) }, "labels"],
      ];
      for (const [name, value, labels, field] of bad) {
        const error = await expectValidationError(store.metrics.record(name, value as never, labels as never));
        expect(error.issues.map((issue) => issue.field)).toContain(field);
      }
      await expectValidationError(store.metrics.query("ok", { from: 1 } as never));
      expect(await store.metrics.summary("ok")).toMatchObject({ count: 0 });
    });

    test("preferences: set, get, all and delete round-trip JSON values exactly", async () => {
      const store = await fresh();
      const layout = { panes: [{ symbol: "600519.SH", interval: "5m" }], dark: true, zoom: 1.25, note: null };
      const set = await store.prefs.set("chart.layout", layout);
      expect(set).toMatchObject({ key: "chart.layout", value: layout });
      expect(await store.prefs.get("chart.layout")).toEqual(set);
      await store.prefs.set("ui/theme", "dark");
      expect((await store.prefs.all()).map((preference) => preference.key)).toEqual(["chart.layout", "ui/theme"]);
      const replaced = await store.prefs.set("ui/theme", "light");
      expect((await store.prefs.get("ui/theme"))!.value).toBe("light");
      expect(replaced.updated_at).toBeGreaterThanOrEqual(set.updated_at);
      expect(await store.prefs.delete("ui/theme")).toBe(true);
      expect(await store.prefs.delete("ui/theme")).toBe(false);
      expect(await store.prefs.get("ui/theme")).toBeNull();
    });

    test("preferences: values JSON would change are refused, not coerced", async () => {
      const store = await fresh();
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const refused: [unknown, string][] = [
        [Number.NaN, "value"],
        [{ at: new Date(0) }, "value.at"],
        [{ ids: new Set([1]) }, "value.ids"],
        [[1, undefined], "value[1]"],
        [() => 1, "value"],
        [10n, "value"],
        [cyclic, "value.self"],
        ["x".repeat(70_000), "value"],
      ];
      for (const [value, field] of refused) {
        const error = await expectValidationError(store.prefs.set("k", value));
        expect(error.issues.map((issue) => issue.field)).toContain(field);
      }
      await expectValidationError(store.prefs.set("has space", 1));
      await expectValidationError(store.prefs.set("", 1));
      expect(await store.prefs.all()).toEqual([]);
    });

    test("preferences: a key with a defined zod schema only takes values the schema accepts", async () => {
      const store = await fresh();
      const { z } = await import("zod");
      store.prefs.define("risk.maxPosition", z.number().int().positive());
      const error = await expectValidationError(store.prefs.set("risk.maxPosition", -5));
      expect(error.issues[0]!.field).toBe("value");
      await expectValidationError(store.prefs.set("risk.maxPosition", "5"));
      expect(await store.prefs.get("risk.maxPosition")).toBeNull();
      expect((await store.prefs.set("risk.maxPosition", 500)).value).toBe(500);
    });

    test("audit: the store's own writes are chained entries that verify, and append adds one", async () => {
      const store = await fresh();
      // An operator's batch (the API's, an import's): one entry of its own.
      await store.insertBars("S", minuteBars(3), { audit: "entry" });
      await store.deleteBars("S", { start: T0, end: T0 });
      await store.prefs.set("k", 1);
      const appended = await store.audit.append({ actor: "trader-1", action: "order.note", entity: "S", details: { qty: 100 } });
      const entries = await store.audit.query();
      expect(entries.map((entry) => entry.action)).toEqual(["bars.insert", "bars.delete", "prefs.set", "order.note"]);
      expect(entries[0]).toMatchObject({ entity: "S", details: { rows: 3, start: T0, end: T0 + 2 * MINUTE } });
      expect(entries.map((entry) => entry.id)).toEqual([1, 2, 3, 4]);
      for (let i = 1; i < entries.length; i++) expect(entries[i]!.prev_hash).toBe(entries[i - 1]!.hash);
      expect(appended).toEqual(entries[3]!);
      expect(await store.audit.query({ actor: "trader-1" })).toEqual([appended]);
      expect(await store.audit.verify()).toEqual({ ok: true, checked: 4 });
      await expectValidationError(store.audit.append({ actor: "", action: "x" }));
    });

    test("artifacts: register, get the latest, list by tag, conflict on a different hash, remove", async () => {
      const store = await fresh();
      const a = "a".repeat(64);
      const b = "b".repeat(64);
      await store.artifacts.register({ name: "alpha", version: "1", path: "/models/alpha-1.bin", sha256: a, size: 10, tags: ["prod"] });
      await Bun.sleep(2);
      await store.artifacts.register({ name: "alpha", version: "2", path: "/models/alpha-2.bin", sha256: b, size: 12, params: { lr: 0.01 } });
      expect((await store.artifacts.get("alpha"))!.version).toBe("2");
      expect((await store.artifacts.get("alpha", "1"))!.tags).toEqual(["prod"]);
      expect((await store.artifacts.list({ tag: "prod" })).map((artifact) => artifact.version)).toEqual(["1"]);
      expect((await store.artifacts.register({ name: "alpha", version: "1", path: "/elsewhere", sha256: a })).path).toBe("/models/alpha-1.bin");
      const conflict = await store.artifacts.register({ name: "alpha", version: "1", path: "/x", sha256: b }).catch((e: unknown) => e);
      expect((conflict as { code?: string }).code).toBe("CONFLICT");
      expect(await store.artifacts.remove("alpha", "1")).toBe(true);
      expect(await store.artifacts.get("alpha", "1")).toBeNull();
    });

    test("maintenance: stats count rows, checkpoint, optimize and integrity check run", async () => {
      const store = await fresh();
      await store.insertBars("S", minuteBars(50), { audit: "entry" });
      const stats = (await store.maintenance.stats()) as { rows: Record<string, number> };
      expect(stats.rows.market_data).toBe(50);
      expect(stats.rows.audit_log).toBe(1);
      expect((await store.maintenance.integrityCheck({ quick: true })).ok).toBe(true);
      await store.maintenance.optimize();
      await store.maintenance.checkpoint("PASSIVE");
      // Each backend names its maintenance metrics after itself (sqlite.*, postgres.*).
      const engine = store.backend === "postgres" ? "postgres" : "sqlite";
      expect((await store.metrics.summary(`${engine}.integrity.ms`)).count).toBe(1);
    });

    test("calendars: a new store lists the shipped XSHG and XSHE", async () => {
      const store = await fresh();
      const listed = await store.calendars.list();
      expect(listed.map((calendar) => calendar.name)).toEqual(["XSHE", "XSHG"]);
      expect(listed.find((calendar) => calendar.name === "XSHG")).toMatchObject({ timezone: "Asia/Shanghai", first: "1990-12-19" });
      expect(await store.calendars.of("600519.SH")).toBeNull();
    });

    test("calendars: an assigned symbol's session-aligned 1h bars end at 10:30, 11:30, 14:00 and 15:00; the assignment is audited under the view's actor", async () => {
      const store = await fresh({ timezone: "Asia/Shanghai", barTimestamp: "end" });
      await store.insertBars("600519.SH", sessionBars(2, 11));
      await store.withActor("ops").calendars.assign("600519.SH", "XSHG");
      expect(await store.calendars.of("600519.SH")).toBe("XSHG");
      const hours = await store.getBars("600519.SH", { interval: "1h", align: "session" });
      const shanghai = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace("T", " ");
      expect(hours.map((bar) => shanghai(bar.timestamp))).toEqual([
        "2024-01-02 10:30", "2024-01-02 11:30", "2024-01-02 14:00", "2024-01-02 15:00",
        "2024-01-03 10:30", "2024-01-03 11:30", "2024-01-03 14:00", "2024-01-03 15:00",
      ]);
      const streamed: Bar[] = [];
      for await (const bar of store.iterateBars("600519.SH", { interval: "1h", align: "session" })) streamed.push(bar);
      expect(streamed).toEqual(hours);
      const assigned = await store.audit.query({ action: "calendar.assign" });
      expect(assigned.map((entry) => [entry.actor, entry.entity, entry.details])).toEqual([["ops", "600519.SH", { calendar: "XSHG" }]]);
    });

    test("calendars: completeness reports the minutes of a deleted range as missing", async () => {
      const store = await fresh({ timezone: "Asia/Shanghai", barTimestamp: "end" });
      await store.insertBars("600519.SH", sessionBars(3, 12));
      await store.calendars.assign("600519.SH", "XSHG");
      await store.deleteBars("600519.SH", { start: "2024-01-03 13:01", end: "2024-01-03 13:30" });
      const report = await store.completeness("600519.SH");
      expect(report.calendar).toBe("XSHG");
      expect(report.days.map((day) => [day.date, day.expected, day.present])).toEqual([
        ["2024-01-02", 240, 240],
        ["2024-01-03", 240, 210],
        ["2024-01-04", 240, 240],
      ]);
      expect(report.days[1]!.missing).toEqual([{ start: Date.parse("2024-01-03T13:01:00+08:00"), end: Date.parse("2024-01-03T13:30:00+08:00") }]);
      expect([report.outside, report.nonTradingDays]).toEqual([0, []]);
    });

    test("calendars: overview({ completeness: true }) adds each symbol's expected and missing minutes, the sums of completeness()", async () => {
      const store = await fresh({ timezone: "Asia/Shanghai", barTimestamp: "end" });
      await store.insertBars("600519.SH", sessionBars(3, 12));
      await store.insertBars("000001.SZ", sessionBars(1, 12));
      await store.insertBars("NOCAL", sessionBars(1, 12));
      await store.insertBars("DAILYONLY", [{ timestamp: "2024-01-02", open: 1, high: 1, low: 1, close: 1 }], { interval: "1d" });
      await store.calendars.assign("600519.SH", "XSHG");
      await store.calendars.assign("000001.SZ", "XSHE");
      await store.calendars.assign("DAILYONLY", "XSHG");
      await store.deleteBars("600519.SH", { start: "2024-01-03 13:01", end: "2024-01-03 13:30" });
      await store.deleteBars("600519.SH", { start: "2024-01-04 09:31", end: "2024-01-04 09:31" });
      await store.deleteBars("000001.SZ", { start: "2024-01-02 15:00", end: "2024-01-02 15:00" });
      const plain = await store.overview();
      expect(plain.some((row) => "expected" in row || "missing" in row)).toBe(false);
      const counted = await store.overview({ completeness: true });
      const bySymbol = Object.fromEntries(counted.map((row) => [row.symbol, row]));
      expect([bySymbol["600519.SH"]!.expected, bySymbol["600519.SH"]!.missing]).toEqual([720, 31]);
      expect([bySymbol["000001.SZ"]!.expected, bySymbol["000001.SZ"]!.missing]).toEqual([240, 1]);
      // No calendar: no counts. Daily bars only: no minutes expected.
      expect("expected" in bySymbol["NOCAL"]!).toBe(false);
      expect([bySymbol["DAILYONLY"]!.expected, bySymbol["DAILYONLY"]!.missing]).toEqual([0, 0]);
      // Everything else is the plain overview, and the counts are what completeness() says.
      expect(counted.map(({ expected: _e, missing: _m, ...row }) => row)).toEqual(plain);
      for (const symbol of ["600519.SH", "000001.SZ"]) {
        const days = (await store.completeness(symbol)).days;
        expect(bySymbol[symbol]!.missing).toBe(days.reduce((sum, day) => sum + day.expected - day.present, 0));
      }
      expect((await expectValidationError(store.overview({ completeness: "yes" } as never))).issues[0]).toMatchObject({ field: "completeness" });
      expect((await expectValidationError(store.overview({ gaps: true } as never))).issues[0]).toMatchObject({ field: "gaps" });
    });

    test("calendars: a session-aligned read or completeness without a calendar is refused, naming the fix", async () => {
      const store = await fresh({ timezone: "Asia/Shanghai" });
      await store.insertBars("600519.SH", sessionBars(1, 13));
      const read = await expectValidationError(store.getBars("600519.SH", { interval: "1h", align: "session" }));
      expect(read.message).toMatch(/no calendar for 600519\.SH: set the database's default calendar \(tradelite settings set calendar XSHG\) or assign the symbol one/);
      const report = await expectValidationError(store.completeness("600519.SH"));
      expect(report.issues[0]).toMatchObject({ field: "calendar" });
      // The clock needs no calendar.
      expect((await store.getBars("600519.SH", { interval: "1h" })).length).toBeGreaterThan(0);
    });

    test("calendars: the stored default calendar applies to every symbol without its own; a default or an assignment naming no stored calendar is refused, listing those stored", async () => {
      const store = await fresh({ timezone: "Asia/Shanghai", barTimestamp: "end" });
      await store.insertBars("600519.SH", sessionBars(1, 15));
      await expectValidationError(store.getBars("600519.SH", { interval: "1h", align: "session" }));
      await store.updateSettings({ calendar: "XSHG" });
      expect(await store.calendars.of("600519.SH")).toBe("XSHG");
      expect(await store.getBars("600519.SH", { interval: "1h", align: "session" })).toHaveLength(4);
      const refused = await expectValidationError(store.updateSettings({ calendar: "XNYS" }));
      expect(refused.issues[0]).toEqual({ field: "calendar", message: 'no calendar named "XNYS" (stored: XSHE, XSHG; tradelite calendar import adds one)' });
      const assign = await expectValidationError(store.calendars.assign("600519.SH", "XNYS"));
      expect(assign.issues[0]).toEqual(refused.issues[0]);
      expect(store.calendar).toBe("XSHG");
    });

    test("fill: previous: missing minutes and session hours come back at the previous close, flagged, the same through getBars and iterateBars", async () => {
      const store = await fresh({ timezone: "Asia/Shanghai", barTimestamp: "end" });
      await store.insertBars("600519.SH", sessionBars(2, 14));
      await store.calendars.assign("600519.SH", "XSHG");
      await store.deleteBars("600519.SH", { start: "2024-01-02 10:01", end: "2024-01-02 10:03" });
      await store.deleteBars("600519.SH", { start: "2024-01-02 13:01", end: "2024-01-02 14:00" });
      const before = await store.getBars("600519.SH", { start: "2024-01-02 10:00", end: "2024-01-02 10:00" });
      const minutes = await store.getBars("600519.SH", { start: "2024-01-02 10:00", end: "2024-01-02 10:04", fill: "previous" });
      expect(minutes.map((bar) => [bar.timestamp, bar.close, bar.volume, bar.filled ?? false])).toEqual([
        [Date.parse("2024-01-02T10:00:00+08:00"), before[0]!.close, before[0]!.volume, false],
        [Date.parse("2024-01-02T10:01:00+08:00"), before[0]!.close, 0, true],
        [Date.parse("2024-01-02T10:02:00+08:00"), before[0]!.close, 0, true],
        [Date.parse("2024-01-02T10:03:00+08:00"), before[0]!.close, 0, true],
        [Date.parse("2024-01-02T10:04:00+08:00"), expect.any(Number), expect.any(Number), false],
      ]);
      const hours = await store.getBars("600519.SH", { interval: "1h", align: "session", fill: "previous" });
      expect(hours).toHaveLength(8);
      expect(hours[2]).toMatchObject({ timestamp: Date.parse("2024-01-02T14:00:00+08:00"), volume: 0, close: hours[1]!.close, filled: true });
      const streamed: Bar[] = [];
      for await (const bar of store.iterateBars("600519.SH", { interval: "1h", align: "session", fill: "previous", order: "desc" })) streamed.push(bar);
      expect(streamed).toEqual([...hours].reverse());
      await expectValidationError(store.getBars("600519.SH", { interval: "1h", fill: "previous" }));
    });

    test("a closed store refuses calls with a StorageError", async () => {
      const store = await openStore();
      await store.close();
      const error = await store.getBars("S").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).code).toBe("CLOSED");
    });
  });
}

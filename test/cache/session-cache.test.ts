/**
 * SessionCache (src/cache/session-cache.ts) on a real file database and a real cache folder:
 * the compaction counter, each retention rule alone and together (an 8 MiB file among them),
 * duplicates across writes, reads equal to db.getBars, validation, stats/list/rebuild, and the
 * real TDX minute export stored a trading day per call. The metadata row is checked against the
 * file on disk after every operation (test/support/cache-invariants.ts).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { barObjects, randomWalk, sessionTimestamps } from "../../scripts/synthetic-bars.ts";
import { CACHE_DEFAULTS } from "../../src/config.ts";
import { cacheFileName } from "../../src/cache/file-name.ts";
import { ValidationError, type Bar, type BarInput, type TimeRange } from "../../src/mod.ts";
import { SessionCache } from "../../src/cache/session-cache.ts";
import type { CacheEntry } from "../../src/domain/cache.ts";
import { createSqliteStore } from "../../src/sqlite/store.ts";
import { randomBars, seededRandom, sessionBars } from "../support/bars.ts";
import { closeCacheFixtures, openCacheFixture, type CacheFixture } from "../support/cache-fixture.ts";
import {
  cacheDataLines,
  cacheFileBars,
  cacheFilePath,
  EXPECTED_CSV_HEADER,
  expectMetadataTrue,
  expectSameBars,
} from "../support/cache-invariants.ts";
import { csvLine, DAY_MS, latestOf, retentionWindow, type RetentionRules } from "../support/cache-retention.ts";
import { readTdxBars, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";

const SYMBOL = "600519.SH";
const MINUTE = 60_000;
/** 2024-01-02 09:31 Shanghai. */
const T0 = Date.UTC(2024, 0, 2, 1, 31);
const DENORMAL = 5.877471754111438e-39;

/** `count` consecutive minute bars from minute `from` after T0. */
function minuteBars(count: number, from = 0, seed = 1): Bar[] {
  return randomBars(Array.from({ length: count }, (_, i) => T0 + (from + i) * MINUTE), seed);
}

/** The same bars with every value nudged, so a later write is told from an earlier one. */
function rewritten(bars: readonly Bar[], step = 1): Bar[] {
  return bars.map((bar) => ({
    ...bar,
    open: bar.open! + step,
    high: bar.high! + step,
    low: bar.low! + step,
    close: bar.close! + step,
    volume: bar.volume! + step,
  }));
}

async function caught(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}

function rulesOf(fx: CacheFixture): RetentionRules {
  const { retentionDays, maxRows, maxBytes } = fx.cache.settings;
  return { retentionDays, maxRows, maxBytes };
}

afterEach(closeCacheFixtures);

describe("defaults", () => {
  test("dir defaults to $TRADELITE_CACHE_DIR, the settings to CACHE_DEFAULTS", async () => {
    const fx = openCacheFixture();
    const saved = process.env.TRADELITE_CACHE_DIR;
    process.env.TRADELITE_CACHE_DIR = join(fx.root, "default_cache");
    try {
      const cache = new SessionCache({ store: createSqliteStore(fx.db) });
      expect(cache.settings).toEqual({ ...CACHE_DEFAULTS, dir: join(fx.root, "default_cache") });
      await cache.storeBars(SYMBOL, minuteBars(3));
      await expectMetadataTrue(cache, SYMBOL);
      expect(readdirSync(join(fx.root, "default_cache"))).toEqual([cacheFileName(SYMBOL)]);
      expectSameBars(fx.db.getBars(SYMBOL), minuteBars(3));
    } finally {
      if (saved === undefined) delete process.env.TRADELITE_CACHE_DIR;
      else process.env.TRADELITE_CACHE_DIR = saved;
    }
  });
});

describe("compaction every compactEvery writes", () => {
  test("the 240th storeBars call compacts (default compactEvery) and none of the 239 before it does", async () => {
    const fx = openCacheFixture();
    expect(fx.cache.settings.compactEvery).toBe(240);
    const writes: Bar[][] = [];
    for (let call = 1; call <= 240; call++) {
      // Each call rewrites minute 0 and adds minute `call`, so a compaction shows in the file.
      const batch = [...rewritten(minuteBars(1, 0), call), ...minuteBars(1, call, call)];
      writes.push(batch);
      const before = Date.now();
      const result = await fx.cache.storeBars(SYMBOL, batch);
      const row = await expectMetadataTrue(fx.cache, SYMBOL);
      if (call < 240) {
        expect(result).toEqual({ written: 2, compacted: false });
        expect(row.writes_since_compaction).toBe(call);
        expect(row.last_compacted).toBeNull();
        expect(row.row_count).toBe(2 * call);
      } else {
        expect(result).toEqual({ written: 2, compacted: true });
        expect(row.writes_since_compaction).toBe(0);
        expect(row.last_compacted).toBeGreaterThanOrEqual(before);
        expect(row.last_compacted).toBeLessThanOrEqual(Date.now());
        expect(row.row_count).toBe(241);
      }
    }
    expectSameBars(cacheFileBars(fx.cache, SYMBOL), latestOf(...writes));
    expectSameBars(await fx.cache.getBars(SYMBOL), fx.db.getBars(SYMBOL));
  });

  test("the write counter survives a restart: 120 writes, a new Database and SessionCache, and the 240th overall compacts", async () => {
    const fx = openCacheFixture();
    for (let call = 1; call <= 120; call++) {
      expect(await fx.cache.storeBars(SYMBOL, minuteBars(1, call))).toEqual({ written: 1, compacted: false });
      expect((await expectMetadataTrue(fx.cache, SYMBOL)).writes_since_compaction).toBe(call);
    }
    fx.restart();
    expect((await expectMetadataTrue(fx.cache, SYMBOL)).writes_since_compaction).toBe(120);
    for (let call = 121; call <= 240; call++) {
      const result = await fx.cache.storeBars(SYMBOL, minuteBars(1, call));
      const row = await expectMetadataTrue(fx.cache, SYMBOL);
      expect(result.compacted).toBe(call === 240);
      expect(row.writes_since_compaction).toBe(call === 240 ? 0 : call);
    }
    expect(fx.events).toEqual([]);
  });

  test("the counter starts over after each compaction, and an explicit compact() resets it too", async () => {
    const fx = openCacheFixture({ compactEvery: 5 });
    const compactedAt: number[] = [];
    for (let call = 1; call <= 12; call++) {
      if ((await fx.cache.storeBars(SYMBOL, minuteBars(1, call))).compacted) compactedAt.push(call);
      await expectMetadataTrue(fx.cache, SYMBOL);
    }
    expect(compactedAt).toEqual([5, 10]);
    expect((await fx.cache.stats(SYMBOL))!.writes_since_compaction).toBe(2);
    await fx.cache.compact(SYMBOL);
    expect((await expectMetadataTrue(fx.cache, SYMBOL)).writes_since_compaction).toBe(0);
    for (let call = 13; call <= 17; call++) {
      const { compacted } = await fx.cache.storeBars(SYMBOL, minuteBars(1, call));
      await expectMetadataTrue(fx.cache, SYMBOL);
      expect(compacted).toBe(call === 17);
    }
  });

  test("an empty batch writes nothing and does not count as a write", async () => {
    const fx = openCacheFixture({ compactEvery: 3 });
    expect(await fx.cache.storeBars(SYMBOL, [])).toEqual({ written: 0, compacted: false });
    expect(await fx.cache.stats(SYMBOL)).toBeNull();
    await fx.cache.storeBars(SYMBOL, minuteBars(2));
    const before = await expectMetadataTrue(fx.cache, SYMBOL);
    expect(await fx.cache.storeBars(SYMBOL, [])).toEqual({ written: 0, compacted: false });
    expect(await expectMetadataTrue(fx.cache, SYMBOL)).toEqual(before);
  });

  test("compact() returns the rows and bytes before and after, as the row and the file say", async () => {
    const fx = openCacheFixture({ compactEvery: 100 });
    await fx.cache.storeBars(SYMBOL, minuteBars(10));
    await fx.cache.storeBars(SYMBOL, rewritten(minuteBars(4, 3)));
    const before = await expectMetadataTrue(fx.cache, SYMBOL);
    const result = await fx.cache.compact(SYMBOL);
    const after = await expectMetadataTrue(fx.cache, SYMBOL);
    expect(result).toEqual({ rowsBefore: 14, rowsAfter: 10, bytesBefore: before.size_bytes, bytesAfter: after.size_bytes });
    expect(after.size_bytes).toBeLessThan(before.size_bytes);
  });
});

describe("retention", () => {
  test("maxRows alone keeps the newest maxRows rows", async () => {
    const fx = openCacheFixture({ maxRows: 100, retentionDays: 100_000, compactEvery: 1_000 });
    const writes = [minuteBars(60, 0, 1), minuteBars(60, 50, 2), minuteBars(40, 110, 3)];
    for (const bars of writes) {
      await fx.cache.storeBars(SYMBOL, bars);
      await expectMetadataTrue(fx.cache, SYMBOL);
    }
    await fx.cache.compact(SYMBOL);
    const row = await expectMetadataTrue(fx.cache, SYMBOL);
    const all = latestOf(...writes);
    expect(all.length).toBe(150);
    expectSameBars(cacheFileBars(fx.cache, SYMBOL), all.slice(-100));
    expect(row.row_count).toBe(100);
    expect(row.covered_from).toBe(all[50]!.timestamp);
    expectSameBars(await fx.cache.getBars(SYMBOL), all);
  });

  test("retentionDays alone counts back from the newest bar: a bar exactly at the cutoff is kept, one 1 ms older is dropped", async () => {
    const fx = openCacheFixture({ retentionDays: 2, compactEvery: 1_000 });
    const newest = T0 + 10 * DAY_MS + 123;
    const cutoff = newest - 2 * DAY_MS;
    const at = (timestamp: number, seed: number) => randomBars([timestamp], seed)[0]!;
    const old = [cutoff - DAY_MS, cutoff - 2, cutoff - 1].map((t, i) => at(t, i + 1));
    const kept = [cutoff, cutoff + 1, cutoff + DAY_MS, newest - 1, newest].map((t, i) => at(t, i + 10));
    // Out of order on purpose: the newest bar is written first and the cutoff is found anyway.
    for (const bars of [[kept[4]!], old, kept.slice(0, 4)]) {
      await fx.cache.storeBars(SYMBOL, bars);
      await expectMetadataTrue(fx.cache, SYMBOL);
    }
    await fx.cache.compact(SYMBOL);
    const row = await expectMetadataTrue(fx.cache, SYMBOL);
    expectSameBars(cacheFileBars(fx.cache, SYMBOL), kept);
    expect(row.covered_from).toBe(cutoff);
    expect(row.first_timestamp).toBe(cutoff);
    // A rebuild from market_data draws the same line.
    await fx.cache.rebuild(SYMBOL);
    await expectMetadataTrue(fx.cache, SYMBOL);
    expectSameBars(cacheFileBars(fx.cache, SYMBOL), kept);
    expectSameBars(await fx.cache.getBars(SYMBOL), [...old, ...kept]);
  });

  test("maxBytes alone drops from the oldest until the file, header included, is at most maxBytes", async () => {
    const fx = openCacheFixture({ maxBytes: 4_096, retentionDays: 100_000, compactEvery: 1_000 });
    const writes = [minuteBars(150, 0, 5), minuteBars(60, 140, 6)];
    for (const bars of writes) {
      await fx.cache.storeBars(SYMBOL, bars);
      await expectMetadataTrue(fx.cache, SYMBOL);
    }
    await fx.cache.compact(SYMBOL);
    const row = await expectMetadataTrue(fx.cache, SYMBOL);
    const all = latestOf(...writes);
    const expected = retentionWindow(all, rulesOf(fx));
    expect(expected.length).toBeGreaterThan(10);
    expect(expected.length).toBeLessThan(all.length);
    const text = readFileSync(cacheFilePath(fx.cache, SYMBOL), "utf8");
    // The file is the newest bars in JavaScript's shortest round-trip number text.
    expect(text).toBe(`${EXPECTED_CSV_HEADER}\n${expected.map(csvLine).join("")}`);
    expect(row.size_bytes).toBeLessThanOrEqual(4_096);
    const nextOlder = all[all.length - expected.length - 1]!;
    expect(row.size_bytes + csvLine(nextOlder).length).toBeGreaterThan(4_096);
    expectSameBars(await fx.cache.getBars(SYMBOL), all);
  });

  test("a file of exactly maxBytes is kept whole; one byte less drops the oldest row", async () => {
    const bars = minuteBars(100, 0, 8);
    const exact = `${EXPECTED_CSV_HEADER}\n${bars.slice(-40).map(csvLine).join("")}`.length;
    const fx = openCacheFixture({ maxBytes: exact, compactEvery: 1_000 });
    await fx.cache.storeBars(SYMBOL, bars);
    await fx.cache.compact(SYMBOL);
    const row = await expectMetadataTrue(fx.cache, SYMBOL);
    expect(row.size_bytes).toBe(exact);
    expectSameBars(cacheFileBars(fx.cache, SYMBOL), bars.slice(-40));

    const tighter = fx.open({ maxBytes: exact - 1, compactEvery: 1_000 });
    await tighter.cache.compact(SYMBOL);
    expect((await expectMetadataTrue(tighter.cache, SYMBOL)).size_bytes).toBe(exact - csvLine(bars[60]!).length);
    expectSameBars(cacheFileBars(tighter.cache, SYMBOL), bars.slice(-39));
  });

  // 10 trading days of minute bars; each case names the rule that must bind and checks that
  // the other two alone would have kept more.
  test.each([
    { binding: "retentionDays", rules: { retentionDays: 2, maxRows: 5_000, maxBytes: 1_048_576 } },
    { binding: "maxRows", rules: { retentionDays: 5, maxRows: 500, maxBytes: 1_048_576 } },
    { binding: "maxBytes", rules: { retentionDays: 5, maxRows: 2_000, maxBytes: 20_000 } },
  ] as const)("all three rules together: $binding binds and the result is what the rules give", async ({ binding, rules }) => {
    const fx = openCacheFixture({ ...rules, compactEvery: 1_000 });
    const all = sessionBars(10, 7);
    for (let day = 0; day < 10; day++) {
      await fx.cache.storeBars(SYMBOL, all.slice(day * 240, (day + 1) * 240));
      await expectMetadataTrue(fx.cache, SYMBOL);
    }
    await fx.cache.compact(SYMBOL);
    await expectMetadataTrue(fx.cache, SYMBOL);
    const expected = retentionWindow(all, rules);
    expectSameBars(cacheFileBars(fx.cache, SYMBOL), expected);
    const loose = { retentionDays: 100_000, maxRows: 1_000_000, maxBytes: 1 << 30 };
    for (const rule of ["retentionDays", "maxRows", "maxBytes"] as const) {
      const alone = retentionWindow(all, { ...loose, [rule]: rules[rule] });
      if (rule === binding) expect(alone.length).toBe(expected.length);
      else expect(alone.length).toBeGreaterThan(expected.length);
    }
    expectSameBars(await fx.cache.getBars(SYMBOL), all);
  });

  test("an 8 MiB file of real-size A-share minute rows: bytes binds, the file is at most 8 MiB and within one line of it", async () => {
    const fx = openCacheFixture({ retentionDays: 100_000, maxRows: 10_000_000, compactEvery: 1_000 });
    expect(fx.cache.settings.maxBytes).toBe(8 * 1024 * 1024);
    // 565 trading days x 240 bars: prices in fen from 5 to 100 yuan, volume in board lots.
    const days = 565;
    const columns = randomWalk(sessionTimestamps("2021-01-04", days * 240), 42);
    const step = 57 * 240;
    for (let from = 0; from < days * 240; from += step) {
      const to = Math.min(from + step, days * 240);
      const slice = Object.fromEntries(Object.entries(columns).map(([name, column]) => [name, column.subarray(from, to)]));
      await fx.cache.storeBars(SYMBOL, slice as typeof columns);
      await expectMetadataTrue(fx.cache, SYMBOL);
    }
    const before = await expectMetadataTrue(fx.cache, SYMBOL);
    expect(before.size_bytes).toBeGreaterThan(8 * 1024 * 1024);
    await fx.cache.compact(SYMBOL);
    const row = await expectMetadataTrue(fx.cache, SYMBOL);
    const all = barObjects(columns);
    const fileBars = cacheFileBars(fx.cache, SYMBOL);
    expect(fileBars.length).toBeGreaterThan(100_000);
    expectSameBars(fileBars, all.slice(all.length - fileBars.length));
    expect(row.size_bytes).toBeLessThanOrEqual(8 * 1024 * 1024);
    const nextOlder = all[all.length - fileBars.length - 1]!;
    expect(row.size_bytes + csvLine(nextOlder).length).toBeGreaterThan(8 * 1024 * 1024);
    expect(row.size_bytes / row.row_count).toBeGreaterThan(60);
    expect(row.covered_from).toBe(fileBars[0]!.timestamp);
    expectSameBars(await fx.cache.getBars(SYMBOL), all);
  });
});

describe("duplicates across writes", () => {
  for (const writeThrough of [true, false]) {
    test(`the later write wins before and after compaction (writeThrough ${writeThrough})`, async () => {
      const fx = openCacheFixture({ compactEvery: 4, writeThrough });
      const first = minuteBars(10, 0, 1);
      const second = rewritten(first.slice(3, 7), 1);
      const third = rewritten(first.slice(5, 6), 2);
      const writes = [first, second, third];
      for (const bars of writes) {
        expect((await fx.cache.storeBars(SYMBOL, bars)).compacted).toBe(false);
        await expectMetadataTrue(fx.cache, SYMBOL);
      }
      // Every write is still a line of its own, and reads already see the later values.
      expect((await fx.cache.stats(SYMBOL))!.row_count).toBe(15);
      const expected = latestOf(...writes);
      expectSameBars(await fx.cache.getBars(SYMBOL), expected);
      expectSameBars(await fx.cache.getBars(SYMBOL, { start: first[4]!.timestamp, end: first[5]!.timestamp }), expected.slice(4, 6));
      if (writeThrough) expectSameBars(fx.db.getBars(SYMBOL), expected);

      const fourth = minuteBars(1, 10, 4);
      expect((await fx.cache.storeBars(SYMBOL, fourth)).compacted).toBe(true);
      const row = await expectMetadataTrue(fx.cache, SYMBOL);
      expect(row.row_count).toBe(11);
      expectSameBars(cacheFileBars(fx.cache, SYMBOL), latestOf(...writes, fourth));
      expectSameBars(await fx.cache.getBars(SYMBOL), latestOf(...writes, fourth));
      if (writeThrough) expectSameBars(fx.db.getBars(SYMBOL), latestOf(...writes, fourth));
      else expect(fx.db.getBars(SYMBOL)).toEqual([]);
    });
  }

  test("within one call the later row for a timestamp wins and is written once", async () => {
    const fx = openCacheFixture();
    const [bar] = minuteBars(1);
    const [later] = rewritten([bar!], 3);
    expect(await fx.cache.storeBars(SYMBOL, [bar!, ...minuteBars(1, 1), later!])).toEqual({ written: 2, compacted: false });
    const row = await expectMetadataTrue(fx.cache, SYMBOL);
    expect(row.row_count).toBe(2);
    expectSameBars(cacheFileBars(fx.cache, SYMBOL), [later!, ...minuteBars(1, 1)]);
    expectSameBars(await fx.cache.getBars(SYMBOL), fx.db.getBars(SYMBOL));
  });
});

describe("getBars equals db.getBars", () => {
  /** Ranges around what the file covers: inside, across covered_from, before it, empty, points. */
  function rangesAround(row: CacheEntry, all: readonly Bar[]): (TimeRange | undefined)[] {
    const first = all[0]!.timestamp;
    // Before any cut the file covers all time (covered_from is the year 0001): use its first bar.
    const covered = Math.max(row.covered_from!, first);
    const last = all[all.length - 1]!.timestamp;
    const middle = all[Math.floor(all.length * 0.8)]!.timestamp;
    return [
      undefined,
      {},
      { start: covered },
      { start: covered - 1 },
      { end: covered - 1 },
      { end: covered },
      { start: covered - 30 * MINUTE, end: covered + 30 * MINUTE },
      { start: first, end: last },
      { start: middle, end: last },
      { start: middle, end: middle },
      { start: middle + 1, end: middle + MINUTE - 1 },
      { start: last + 1 },
      { end: first - 1 },
      { start: new Date(middle - DAY_MS), end: new Date(middle).toISOString() },
      { start: "2024-01-05T12:00:00+08:00", end: "2024-01-05 05:00" },
    ];
  }

  test("whole range, inside the file, reaching before covered_from, empty ranges, before and after compaction", async () => {
    const fx = openCacheFixture({ retentionDays: 2, compactEvery: 5 });
    const all = sessionBars(6, 3);
    const check = async () => {
      const row = await expectMetadataTrue(fx.cache, SYMBOL);
      const ranges = rangesAround(row, all);
      const random = seededRandom(row.row_count);
      for (let i = 0; i < 40; i++) {
        const a = all[0]!.timestamp - DAY_MS + Math.floor(random() * 8 * DAY_MS);
        const b = a + Math.floor(random() * 2 * DAY_MS);
        ranges.push({ start: a, end: b });
      }
      for (const range of ranges) expectSameBars(await fx.cache.getBars(SYMBOL, range), fx.db.getBars(SYMBOL, range));
      return row;
    };
    for (let day = 0; day < 4; day++) {
      await fx.cache.storeBars(SYMBOL, all.slice(day * 240, (day + 1) * 240));
      // Nothing older than the file exists yet: it covers every range.
      expect((await check()).covered_from).toBeLessThanOrEqual(all[0]!.timestamp);
    }
    // The fifth write compacts: the file is cut to two days and the older part comes from market_data.
    expect((await fx.cache.storeBars(SYMBOL, all.slice(4 * 240, 5 * 240))).compacted).toBe(true);
    const compacted = await check();
    expect(compacted.covered_from).toBeGreaterThan(all[0]!.timestamp);
    expect(compacted.covered_from).toBe(compacted.first_timestamp);
    expect(compacted.row_count).toBeLessThan(5 * 240);
    await fx.cache.storeBars(SYMBOL, all.slice(5 * 240));
    await check();
    expect(await fx.cache.getBars(SYMBOL, { start: all[0]!.timestamp - DAY_MS, end: all[0]!.timestamp - 1 })).toEqual([]);
  });

  test("with writeThrough false the bars that exist only in the file come back from getBars", async () => {
    const fx = openCacheFixture({ writeThrough: false, compactEvery: 3 });
    const writes = [minuteBars(30, 0, 1), minuteBars(30, 20, 2), rewritten(minuteBars(5, 40, 2))];
    for (const bars of writes) {
      await fx.cache.storeBars(SYMBOL, bars);
      await expectMetadataTrue(fx.cache, SYMBOL);
    }
    expect(fx.db.getBars(SYMBOL)).toEqual([]);
    const expected = latestOf(...writes);
    expectSameBars(await fx.cache.getBars(SYMBOL), expected);
    expectSameBars(await fx.cache.getBars(SYMBOL, { start: T0 + 10 * MINUTE, end: T0 + 42 * MINUTE }), expected.slice(10, 43));
    expect(await fx.cache.getBars(SYMBOL, { start: T0 + 60 * MINUTE })).toEqual([]);
    // A new instance (a restart) reads them back from the file too.
    const { cache, events } = fx.open();
    expectSameBars(await cache.getBars(SYMBOL), expected);
    expect(events).toEqual([]);
  });

  test("a symbol the cache never saw is read from market_data", async () => {
    const fx = openCacheFixture();
    fx.db.insertBars("000001.SZ", minuteBars(5));
    expectSameBars(await fx.cache.getBars("000001.SZ"), fx.db.getBars("000001.SZ"));
    expect(await fx.cache.stats("000001.SZ")).toBeNull();
    expect(readdirSync(fx.cacheDir)).toEqual([]);
  });
});

describe("validation", () => {
  const GOOD: BarInput = { timestamp: T0, open: 10, high: 11, low: 9, close: 10.5, volume: 100, amount: 1_000 };
  const badBatches: [string, BarInput[] | Record<string, unknown>][] = [
    ["high below low", [GOOD, { ...GOOD, timestamp: T0 + MINUTE, high: 8 }]],
    ["an unknown field", [{ ...GOOD, vol: 5 } as BarInput]],
    ["a negative volume and a zero price in two rows", [{ ...GOOD, volume: -1 }, { ...GOOD, timestamp: T0 + MINUTE, open: 0 }]],
    ["a timestamp that is no date", [{ ...GOOD, timestamp: "2024-02-30 09:31" }]],
    ["NaN inside a typed array", { timestamp: [T0, T0 + MINUTE], close: new Float64Array([1, Number.NaN]) }],
    ["columns of unequal length", { timestamp: [T0, T0 + MINUTE], open: [1] }],
    ["not bars at all", "bars" as unknown as BarInput[]],
  ];

  test.each(badBatches)("storeBars rejects %s with insertBars' ValidationError and writes nothing", async (_, bars) => {
    const fx = openCacheFixture();
    const expected = (() => {
      try {
        fx.db.insertBars(SYMBOL, bars as BarInput[]);
      } catch (error) {
        return error as ValidationError;
      }
      throw new Error("insertBars accepted it");
    })();
    expect(expected).toBeInstanceOf(ValidationError);
    const error = await caught(() => fx.cache.storeBars(SYMBOL, bars as BarInput[]));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual(expected.issues);
    expect(fx.db.getBars(SYMBOL)).toEqual([]);
    expect(await fx.cache.stats(SYMBOL)).toBeNull();
    expect(readdirSync(fx.cacheDir)).toEqual([]);

    // And on a symbol that has a file: the file, its row and market_data stay as they were.
    await fx.cache.storeBars(SYMBOL, minuteBars(3, 100));
    const row = await expectMetadataTrue(fx.cache, SYMBOL);
    const bytes = readFileSync(cacheFilePath(fx.cache, SYMBOL));
    expect(await caught(() => fx.cache.storeBars(SYMBOL, bars as BarInput[]))).toBeInstanceOf(ValidationError);
    expect(await expectMetadataTrue(fx.cache, SYMBOL)).toEqual(row);
    expect(readFileSync(cacheFilePath(fx.cache, SYMBOL))).toEqual(bytes);
    expectSameBars(fx.db.getBars(SYMBOL), minuteBars(3, 100));
    expect(fx.events).toEqual([]);
  });

  test("naive timestamps are read in the database's timezone, as insertBars reads them", async () => {
    const fx = openCacheFixture({ timezone: "Asia/Shanghai" });
    await fx.cache.storeBars(SYMBOL, [{ ...GOOD, timestamp: "2024-01-02 09:31" }]);
    await expectMetadataTrue(fx.cache, SYMBOL);
    const [line] = cacheDataLines(readFileSync(cacheFilePath(fx.cache, SYMBOL), "utf8"));
    expect(line!.startsWith("2024-01-02T01:31:00.000Z,")).toBe(true);
    expect((await fx.cache.getBars(SYMBOL, { start: "2024-01-02 09:31", end: "2024-01-02 09:31" })).length).toBe(1);
  });

  test.each([
    ["compactEvery 0", { compactEvery: 0 }, "compactEvery"],
    ["compactEvery 1.5", { compactEvery: 1.5 }, "compactEvery"],
    ["maxBytes 10", { maxBytes: 10 }, "maxBytes"],
    ["maxRows 0", { maxRows: 0 }, "maxRows"],
    ["retentionDays 0", { retentionDays: 0 }, "retentionDays"],
    ["retentionDays Infinity", { retentionDays: Number.POSITIVE_INFINITY }, "retentionDays"],
    ["retentionDays NaN", { retentionDays: Number.NaN }, "retentionDays"],
    ["writeThrough 'yes'", { writeThrough: "yes" }, "writeThrough"],
    ["an empty dir", { dir: "" }, "dir"],
    ["an unknown option", { compactEvry: 5 }, "compactEvry"],
  ] as const)("the option %s is a ValidationError naming it, and no folder is created", (_, options, field) => {
    const fx = openCacheFixture();
    const dir = join(fx.root, "never");
    let error: unknown;
    try {
      new SessionCache({ store: createSqliteStore(fx.db), dir, ...(options as object) });
    } catch (caughtError) {
      error = caughtError;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.field)).toContain(field);
    expect(existsSync(dir)).toBe(false);
  });

  test.each([
    ["empty", ""],
    ["with a space", "600519 SH"],
    ["with NUL", "BTC\0USDT"],
    ["with a zero-width space", "BTC\u200bUSDT"],
    ["65 characters", "A".repeat(65)],
    ["decomposed (not NFC)", "Socie\u0301te\u0301"],
    ["not a string", 600519 as unknown as string],
  ])("a symbol %s is refused by every method and nothing is created", async (_, symbol) => {
    const fx = openCacheFixture();
    const calls: (() => Promise<unknown>)[] = [
      () => fx.cache.storeBars(symbol, minuteBars(1)),
      () => fx.cache.compact(symbol),
      () => fx.cache.rebuild(symbol),
      () => fx.cache.getBars(symbol),
      () => fx.cache.stats(symbol),
    ];
    for (const call of calls) {
      const error = await caught(call);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues[0]!.field).toBe("symbol");
    }
    expect(readdirSync(fx.cacheDir)).toEqual([]);
    expect(await fx.cache.list()).toEqual([]);
    expect(fx.db.overview()).toEqual([]);
  });
});

describe("stats, list and rebuild", () => {
  test("stats of a symbol without a file is null and creates nothing", async () => {
    const fx = openCacheFixture();
    await fx.cache.storeBars(SYMBOL, minuteBars(2));
    expect(await fx.cache.stats("000001.SZ")).toBeNull();
    expect(readdirSync(fx.cacheDir)).toEqual([cacheFileName(SYMBOL)]);
    expect(await fx.cache.stats(SYMBOL)).toEqual(await expectMetadataTrue(fx.cache, SYMBOL));
  });

  test("list returns every row, sorted by symbol", async () => {
    const fx = openCacheFixture();
    const symbols = ["600519.SH", "^GSPC", "BTC/USDT", "000001.SZ", "AAPL", "ES=F", "btc"];
    for (const [i, symbol] of symbols.entries()) {
      await fx.cache.storeBars(symbol, minuteBars(i + 1));
      await expectMetadataTrue(fx.cache, symbol);
    }
    const rows = await fx.cache.list();
    const utf8 = (text: string) => Buffer.from(text, "utf8");
    expect(rows.map((row) => row.symbol)).toEqual([...symbols].sort((a, b) => Buffer.compare(utf8(a), utf8(b))));
    for (const row of rows) expect(row).toEqual(await expectMetadataTrue(fx.cache, row.symbol));
    expect(rows.map((row) => row.row_count)).toEqual(rows.map((row) => symbols.indexOf(row.symbol) + 1));
  });

  test("rebuild writes the retention window of market_data, bars written outside the cache included", async () => {
    const fx = openCacheFixture({ retentionDays: 3, maxRows: 600, compactEvery: 1_000 });
    const all = sessionBars(8, 11);
    fx.db.insertBars(SYMBOL, all.slice(0, 5 * 240));
    await fx.cache.storeBars(SYMBOL, all.slice(5 * 240, 6 * 240));
    await expectMetadataTrue(fx.cache, SYMBOL);
    fx.db.insertBars(SYMBOL, all.slice(6 * 240));
    const returned = await fx.cache.rebuild(SYMBOL);
    const row = await expectMetadataTrue(fx.cache, SYMBOL);
    expect(returned).toEqual(row);
    const window = retentionWindow(fx.db.getBars(SYMBOL), rulesOf(fx));
    expect(window.length).toBe(600);
    expectSameBars(cacheFileBars(fx.cache, SYMBOL), window);
    expect(row.covered_from).toBe(window[0]!.timestamp);
    expect(row.market_version).toBe(row.file_version);
    expectSameBars(await fx.cache.getBars(SYMBOL), all);
    expect(fx.events).toEqual([]);
  });

  test("rebuild of a symbol the cache never saw creates its file from market_data; with no bars the file is a header", async () => {
    const fx = openCacheFixture();
    fx.db.insertBars("000001.SZ", minuteBars(7));
    await fx.cache.rebuild("000001.SZ");
    expect((await expectMetadataTrue(fx.cache, "000001.SZ")).row_count).toBe(7);
    expectSameBars(cacheFileBars(fx.cache, "000001.SZ"), minuteBars(7));
    await fx.cache.rebuild("NOBARS");
    const empty = await expectMetadataTrue(fx.cache, "NOBARS");
    expect(empty.row_count).toBe(0);
    expect(readFileSync(cacheFilePath(fx.cache, "NOBARS"), "utf8")).toBe(`${EXPECTED_CSV_HEADER}\n`);
  });
});

describe("real TDX minute bars (000001.SH, 100 trading days)", () => {
  test("stored a trading day per call: no compaction in 100 writes, then compact keeps the last 45 days and the denormals bit for bit", async () => {
    const fx = openCacheFixture({ timezone: "Asia/Shanghai" });
    expect(fx.cache.settings).toMatchObject(CACHE_DEFAULTS);
    const tdx = await readTdxBars(TDX_INDEX_1MIN);
    expect(tdx.length).toBe(24_000);
    for (let day = 0; day < 100; day++) {
      const result = await fx.cache.storeBars(TDX_SYMBOL, tdx.slice(day * 240, (day + 1) * 240));
      expect(result).toEqual({ written: 240, compacted: false });
      expect((await expectMetadataTrue(fx.cache, TDX_SYMBOL)).writes_since_compaction).toBe(day + 1);
    }
    const full = await expectMetadataTrue(fx.cache, TDX_SYMBOL);
    expect(full.writes_since_compaction).toBe(100);
    expect(full.row_count).toBe(24_000);
    const stored = fx.db.getBars(TDX_SYMBOL);
    expectSameBars(await fx.cache.getBars(TDX_SYMBOL), stored);
    expectSameBars(cacheFileBars(fx.cache, TDX_SYMBOL), stored);

    await fx.cache.compact(TDX_SYMBOL);
    const row = await expectMetadataTrue(fx.cache, TDX_SYMBOL);
    const newest = stored[stored.length - 1]!.timestamp;
    const window = retentionWindow(stored, { retentionDays: 45, maxRows: 12_000, maxBytes: 8 * 1024 * 1024 });
    expect(window[0]!.timestamp).toBeGreaterThanOrEqual(newest - 45 * DAY_MS);
    expect(stored[stored.length - window.length - 1]!.timestamp).toBeLessThan(newest - 45 * DAY_MS);
    const fileBars = cacheFileBars(fx.cache, TDX_SYMBOL);
    expectSameBars(fileBars, window);
    expectSameBars(fileBars, fx.db.getBars(TDX_SYMBOL, { start: row.covered_from! }));
    expect(row.covered_from).toBe(window[0]!.timestamp);

    // 14:59 of each day carries the terminal's denormal volume and amount.
    const denormals = fileBars.filter((bar) => Object.is(bar.volume, DENORMAL));
    expect(denormals.length).toBeGreaterThan(25);
    expect(denormals.length).toBe(window.filter((bar) => Object.is(bar.volume, DENORMAL)).length);
    for (const bar of denormals) expect(Object.is(bar.amount, DENORMAL)).toBe(true);
    expect(readFileSync(cacheFilePath(fx.cache, TDX_SYMBOL), "utf8")).toContain(`,${DENORMAL},${DENORMAL}\n`);
    const served = await fx.cache.getBars(TDX_SYMBOL, { start: row.covered_from! });
    expect(served.filter((bar) => Object.is(bar.volume, DENORMAL) && Object.is(bar.amount, DENORMAL)).length).toBe(denormals.length);
    expectSameBars(await fx.cache.getBars(TDX_SYMBOL), stored);
  });
});

const TDX_SYMBOL = "000001.SH";

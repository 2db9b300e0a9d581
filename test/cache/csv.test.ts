/**
 * The cache file format (src/cache/csv.ts) as it lands on disk: the header, ISO-8601 UTC
 * timestamps with milliseconds across the whole 0001-9999 range, empty fields for NULL, numbers
 * that read back bit for bit, and the strict reading used when a file must be salvaged: a line
 * that is not exactly what the writer writes is dropped and counted, never guessed at.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { CSV_HEADER } from "../../src/cache/csv.ts";
import { formatIsoUtc } from "../../src/domain/time.ts";
import type { Bar } from "../../src/mod.ts";
import { randomBars } from "../support/bars.ts";
import { closeCacheFixtures, openCacheFixture } from "../support/cache-fixture.ts";
import {
  cacheDataLines,
  cacheFileBars,
  cacheFilePath,
  EXPECTED_CSV_HEADER,
  expectMetadataTrue,
  expectSameBars,
} from "../support/cache-invariants.ts";
import { latestOf } from "../support/cache-retention.ts";

const SYMBOL = "BTC/USDT";
const T0 = Date.UTC(2024, 0, 2, 1, 31);
const MINUTE = 60_000;
/** The first and last instants tradelite accepts: years 0001 and 9999. */
const FIRST_INSTANT = -62_135_596_800_000;
const LAST_INSTANT = 253_402_300_799_999;

afterEach(closeCacheFixtures);

describe("the format on disk", () => {
  test("the header is the issue's, and a new file is the header plus one line per bar with \\n endings", async () => {
    expect(CSV_HEADER).toBe("timestamp,open,high,low,close,volume,amount");
    const fx = openCacheFixture();
    const bars = randomBars([T0, T0 + MINUTE], 1);
    await fx.cache.storeBars(SYMBOL, bars);
    await expectMetadataTrue(fx.cache, SYMBOL);
    const text = readFileSync(cacheFilePath(fx.cache, SYMBOL), "utf8");
    expect(text.split("\n")).toEqual([
      EXPECTED_CSV_HEADER,
      `2024-01-02T01:31:00.000Z,${bars[0]!.open},${bars[0]!.high},${bars[0]!.low},${bars[0]!.close},${bars[0]!.volume},${bars[0]!.amount}`,
      `2024-01-02T01:32:00.000Z,${bars[1]!.open},${bars[1]!.high},${bars[1]!.low},${bars[1]!.close},${bars[1]!.volume},${bars[1]!.amount}`,
      "",
    ]);
  });

  test("NULL values are empty fields and read back as null, from the file and from market_data alike", async () => {
    for (const writeThrough of [true, false]) {
      const fx = openCacheFixture({ writeThrough });
      const bars: Bar[] = [
        { timestamp: T0, open: null, high: null, low: null, close: 10, volume: null, amount: null },
        { timestamp: T0 + MINUTE, open: 10, high: 11, low: 9, close: null, volume: 0, amount: null },
        { timestamp: T0 + 2 * MINUTE, open: null, high: null, low: null, close: null, volume: null, amount: null },
      ];
      await fx.cache.storeBars(SYMBOL, bars);
      await expectMetadataTrue(fx.cache, SYMBOL);
      expect(cacheDataLines(readFileSync(cacheFilePath(fx.cache, SYMBOL), "utf8"))).toEqual([
        "2024-01-02T01:31:00.000Z,,,,10,,",
        "2024-01-02T01:32:00.000Z,10,11,9,,0,",
        "2024-01-02T01:33:00.000Z,,,,,,",
      ]);
      expectSameBars(await fx.cache.getBars(SYMBOL), bars);
      if (writeThrough) expectSameBars(fx.db.getBars(SYMBOL), bars);
    }
  });

  test("extreme numbers read back bit for bit from the file, and equal what market_data returns", async () => {
    const values = [5e-324, 5.877471754111438e-39, 2.2250738585072014e-308, 0.1 + 0.2, 1 / 3, 123456789.12345679, 1e21, 2 ** 53 + 2, Number.MAX_VALUE];
    const bars: Bar[] = values.map((value, i) => ({
      timestamp: T0 + i * MINUTE,
      open: value,
      high: value,
      low: value,
      close: value,
      volume: value,
      amount: i === 0 ? -0 : value,
    }));
    const fileOnly = openCacheFixture({ writeThrough: false });
    await fileOnly.cache.storeBars(SYMBOL, bars);
    await expectMetadataTrue(fileOnly.cache, SYMBOL);
    const fromFile = await fileOnly.open().cache.getBars(SYMBOL);
    // -0 is written as "0" (SQLite stores it as 0 too); every other value is exact.
    expectSameBars(fromFile, bars.map((bar, i) => (i === 0 ? { ...bar, amount: 0 } : bar)));

    const through = openCacheFixture();
    await through.cache.storeBars(SYMBOL, bars);
    await expectMetadataTrue(through.cache, SYMBOL);
    expectSameBars(await through.cache.getBars(SYMBOL), through.db.getBars(SYMBOL));
    expectSameBars(cacheFileBars(through.cache, SYMBOL), through.db.getBars(SYMBOL));
  });

  test("timestamps from year 0001 to 9999 are fixed-width ISO with ms and compaction sorts them in time order", async () => {
    const fx = openCacheFixture({ retentionDays: 1e7, compactEvery: 2 });
    const instants = [LAST_INSTANT, FIRST_INSTANT, -1, 0, 1, Date.UTC(999, 11, 31, 23, 59, 59, 999), Date.UTC(1000, 0, 1), T0];
    const bars = randomBars(instants, 3);
    await fx.cache.storeBars(SYMBOL, bars.slice(0, 4));
    await expectMetadataTrue(fx.cache, SYMBOL);
    expect((await fx.cache.storeBars(SYMBOL, bars.slice(4))).compacted).toBe(true);
    await expectMetadataTrue(fx.cache, SYMBOL);
    const lines = cacheDataLines(readFileSync(cacheFilePath(fx.cache, SYMBOL), "utf8"));
    expect(lines.map((line) => line.slice(0, line.indexOf(",")))).toEqual([
      "0001-01-01T00:00:00.000Z",
      "0999-12-31T23:59:59.999Z",
      "1000-01-01T00:00:00.000Z",
      "1969-12-31T23:59:59.999Z",
      "1970-01-01T00:00:00.000Z",
      "1970-01-01T00:00:00.001Z",
      formatIsoUtc(T0),
      "9999-12-31T23:59:59.999Z",
    ]);
    expectSameBars(await fx.cache.getBars(SYMBOL), fx.db.getBars(SYMBOL));
    expectSameBars(await fx.cache.getBars(SYMBOL), latestOf(bars));
  });
});

describe("strict reading when a file is salvaged (writeThrough false: the file is the only copy)", () => {
  const good = randomBars(Array.from({ length: 6 }, (_, i) => T0 + i * MINUTE), 9);
  const goodLine = (i: number) => {
    const bar = good[i]!;
    return `${formatIsoUtc(bar.timestamp)},${bar.open},${bar.high},${bar.low},${bar.close},${bar.volume},${bar.amount}\n`;
  };
  const BAD_LINES: [string, string][] = [
    ["six fields", "2024-01-02T02:00:00.000Z,1,1,1,1,1\n"],
    ["eight fields", "2024-01-02T02:01:00.000Z,1,1,1,1,1,1,1\n"],
    ["a word for a number", "2024-01-02T02:02:00.000Z,abc,1,1,1,1,1\n"],
    ["NaN", "2024-01-02T02:03:00.000Z,NaN,1,1,1,1,1\n"],
    ["Infinity", "2024-01-02T02:04:00.000Z,1,Infinity,1,1,1,1\n"],
    ["hex", "2024-01-02T02:05:00.000Z,0x10,1,1,1,1,1\n"],
    ["a bar that breaks the rules (high below low)", "2024-01-02T02:06:00.000Z,1,1,2,1,1,1\n"],
    ["a timestamp without ms", "2024-01-02T02:07:00Z,1,1,1,1,1,1\n"],
    ["a timestamp with an offset", "2024-01-02T10:08:00.000+08:00,1,1,1,1,1,1\n"],
    ["a date that does not exist", "2024-02-30T02:09:00.000Z,1,1,1,1,1,1\n"],
    ["a CRLF ending", "2024-01-02T02:10:00.000Z,1,1,1,1,1,1\r\n"],
    ["an empty line", "\n"],
  ];

  test.each(BAD_LINES)("a line with %s is dropped and counted; the good lines around it are kept exactly", async (_, badLine) => {
    const fx = openCacheFixture({ writeThrough: false });
    await fx.cache.storeBars(SYMBOL, good);
    await expectMetadataTrue(fx.cache, SYMBOL);
    const path = cacheFilePath(fx.cache, SYMBOL);
    writeFileSync(path, `${EXPECTED_CSV_HEADER}\n${goodLine(0)}${goodLine(1)}${goodLine(2)}${badLine}${goodLine(3)}${goodLine(4)}${goodLine(5)}`);

    const { cache, events } = fx.open();
    expectSameBars(await cache.getBars(SYMBOL), good);
    expect(events).toEqual([{ kind: "salvaged", symbol: SYMBOL, reason: expect.any(String), rows: 6, droppedLines: 1 }]);
    await expectMetadataTrue(cache, SYMBOL);
    expect(readFileSync(path, "utf8")).toBe(`${EXPECTED_CSV_HEADER}\n${[0, 1, 2, 3, 4, 5].map(goodLine).join("")}`);
  });

  test("a file with a foreign header keeps its lines under the right header, and every bad line is counted", async () => {
    const fx = openCacheFixture({ writeThrough: false });
    await fx.cache.storeBars(SYMBOL, good.slice(0, 1));
    await expectMetadataTrue(fx.cache, SYMBOL);
    const path = cacheFilePath(fx.cache, SYMBOL);
    writeFileSync(path, `datetime,o,h,l,c,v,a\n${goodLine(0)}${BAD_LINES[0]![1]}${goodLine(1)}${BAD_LINES[2]![1]}${goodLine(2)}`);

    const { cache, events } = fx.open();
    expectSameBars(await cache.getBars(SYMBOL), good.slice(0, 3));
    expect(events).toEqual([{ kind: "salvaged", symbol: SYMBOL, reason: expect.any(String), rows: 3, droppedLines: 3 }]);
    await expectMetadataTrue(cache, SYMBOL);
    // The salvaged file carries on: appends and a compaction work on it.
    await cache.storeBars(SYMBOL, good.slice(3));
    await cache.compact(SYMBOL);
    await expectMetadataTrue(cache, SYMBOL);
    expectSameBars(cacheFileBars(cache, SYMBOL), good);
  });

  test("lines out of order and repeated in a salvaged file are kept as they are; reads see the later one", async () => {
    const fx = openCacheFixture({ writeThrough: false });
    await fx.cache.storeBars(SYMBOL, good);
    await expectMetadataTrue(fx.cache, SYMBOL);
    const changed = { ...good[1]!, close: good[1]!.close! + 0.01, high: good[1]!.high! + 0.01 };
    const changedLine = `${formatIsoUtc(changed.timestamp)},${changed.open},${changed.high},${changed.low},${changed.close},${changed.volume},${changed.amount}\n`;
    const body = [5, 4, 3, 2, 1, 0].map(goodLine).join("") + changedLine;
    writeFileSync(cacheFilePath(fx.cache, SYMBOL), `${EXPECTED_CSV_HEADER}\n${body}`);

    const { cache, events } = fx.open();
    const expected = good.map((bar, i) => (i === 1 ? changed : bar));
    expectSameBars(await cache.getBars(SYMBOL), expected);
    expect(events).toEqual([{ kind: "salvaged", symbol: SYMBOL, reason: expect.any(String), rows: 7, droppedLines: 0 }]);
    await expectMetadataTrue(cache, SYMBOL);
    expect(readFileSync(cacheFilePath(cache, SYMBOL), "utf8")).toBe(`${EXPECTED_CSV_HEADER}\n${body}`);
    await cache.compact(SYMBOL);
    await expectMetadataTrue(cache, SYMBOL);
    expectSameBars(cacheFileBars(cache, SYMBOL), expected);
  });
});

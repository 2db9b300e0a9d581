/**
 * The TDX binary reader: the real files against a second reader (Python's struct), files written
 * from the documented layouts read back, and every kind of damage refused with nothing written.
 */
import { describe, expect, test } from "bun:test";
import { BarFileError, importTdxFile, tdxFileName, tdxPriceDivisor, tdxSymbol, type TdxFileOptions } from "../../src/entries/import.ts";
import type { Bar } from "../../src/mod.ts";
import { dayFile, minuteFile, readWithPython, REAL_TDX_BINARIES, sessionCloses, type DayRecord, type MinuteRecord } from "../support/tdx-binary.ts";

const SHANGHAI = "Asia/Shanghai";

/** Every bar a file gives, with the batches' record spans, read through importTdxFile. */
async function readBars(bytes: Blob, fileName: string, options: Partial<TdxFileOptions> = {}) {
  const bars: Bar[] = [];
  const batches: { first: number; last: number }[] = [];
  const bad: { record: number; reason: string }[] = [];
  const summary = await importTdxFile(bytes, tdxFileName(fileName)!, {
    timeZone: SHANGHAI,
    onBadRecord: (record) => bad.push(record),
    ...options,
    write: async (columns, records) => {
      batches.push(records);
      for (let i = 0; i < columns.timestamp.length; i++) {
        const value = (field: "open" | "high" | "low" | "close" | "volume" | "amount") => Number(columns[field]![i]);
        bars.push({ timestamp: Number(columns.timestamp[i]), open: value("open"), high: value("high"), low: value("low"), close: value("close"), volume: value("volume"), amount: value("amount") });
      }
      return columns.timestamp.length;
    },
  });
  return { bars, batches, bad, summary };
}

const shanghai = (date: string, minute: string | null) => Date.parse(`${date}T${minute ?? "00:00"}:00+08:00`);
const wallMinute = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(11, 16);

describe("the real files", () => {
  test("sz000001.day: 4,995 daily bars 2000-02-14..2021-05-14, each equal to Python's reading (prices in hundredths, shares, yuan)", async () => {
    const { bars, summary } = await readBars(Bun.file(REAL_TDX_BINARIES.day), "sz000001.day");
    const python = await readWithPython(REAL_TDX_BINARIES.day);
    expect(summary).toMatchObject({ records: 4_995, written: 4_995, badRecords: 0 });
    expect(bars.length).toBe(python.length);
    python.forEach((record, i) => {
      const [open, high, low, close, amount, volume] = record.values as [number, number, number, number, number, number];
      expect(bars[i]).toEqual({ timestamp: shanghai(record.date, null), open: open / 100, high: high / 100, low: low / 100, close: close / 100, amount, volume });
    });
    // Spot checks a reader of Tushare's 000001.SZ can repeat: 2000-02-14 (vol 233,710 手,
    // amount 460,705.0461 千元) and 2018-08-15 (9.02 9.02 8.75 8.79, vol 670,442.85 手).
    expect(bars[0]).toEqual({ timestamp: shanghai("2000-02-14", null), open: 19.2, high: 20.38, low: 18.7, close: 20.37, volume: 23_370_900, amount: 460_704_992 });
    const day = bars.find((bar) => bar.timestamp === shanghai("2018-08-15", null))!;
    expect(day).toMatchObject({ open: 9.02, high: 9.02, low: 8.75, close: 8.79, volume: 67_044_285 });
    expect(Math.abs(day.amount! - 594_759_517) / 594_759_517).toBeLessThan(1e-6);
    expect(bars.at(-1)!.timestamp).toBe(shanghai("2021-05-14", null));
    // Plausible for Ping An Bank over 2000-2021, and the average trade price lies in the day's range.
    for (const bar of bars) {
      expect(bar.low! >= 3 && bar.high! <= 50).toBe(true);
      expect(bar.high!).toBeGreaterThanOrEqual(Math.max(bar.open!, bar.close!));
      if (bar.volume! > 0) expect(bar.amount! / bar.volume!).toBeWithin(bar.low! * 0.99, bar.high! * 1.01);
    }
  });

  for (const [kind, records, step, days] of [["lc1", 2_880, 1, 12], ["lc5", 144, 5, 3]] as const) {
    test(`sh688001.${kind}: ${records} bars on ${days} days, on the session's closing minutes, each equal to Python's reading`, async () => {
      const path = REAL_TDX_BINARIES[kind];
      const { bars, summary } = await readBars(Bun.file(path), `sh688001.${kind}`);
      const python = await readWithPython(path);
      expect(summary).toMatchObject({ records, written: records, badRecords: 0 });
      expect(bars.length).toBe(python.length);
      python.forEach((record, i) => {
        const [open, high, low, close, amount, volume] = record.values as [number, number, number, number, number, number];
        const bar = bars[i]!;
        expect(bar.timestamp).toBe(shanghai(record.date, record.minute));
        // Prices are the shortest decimal the float32 stands for: the same float32 as the file's.
        expect([bar.open, bar.high, bar.low, bar.close].map((price) => Math.fround(price!))).toEqual([open, high, low, close]);
        expect([bar.amount, bar.volume]).toEqual([amount, volume]);
      });
      const grid = sessionCloses(step);
      expect(bars.filter((bar) => !grid.has(wallMinute(bar.timestamp)))).toEqual([]);
      expect(new Set(bars.map((bar) => new Date(bar.timestamp + 8 * 3_600_000).toISOString().slice(0, 10))).size).toBe(days);
      expect(bars.length).toBe(days * grid.size);
      // Prices tick in fen: every decoded price has at most two decimals.
      for (const bar of bars) for (const price of [bar.open, bar.high, bar.low, bar.close]) expect(Math.round(price! * 100) / 100).toBe(price!);
      // Shares and yuan: a day's average trade price lies within the day's range. (Not each bar's:
      // minute volumes are whole hundreds of shares, so a small bar's average strays by a few %.)
      expect(bars.every((bar) => bar.volume! % 100 === 0)).toBe(true);
      const byDay = Map.groupBy(bars, (bar) => new Date(bar.timestamp + 8 * 3_600_000).toISOString().slice(0, 10));
      for (const dayBars of byDay.values()) {
        const sum = (field: "amount" | "volume") => dayBars.reduce((total, bar) => total + bar[field]!, 0);
        expect(sum("amount") / sum("volume")).toBeWithin(Math.min(...dayBars.map((bar) => bar.low!)), Math.max(...dayBars.map((bar) => bar.high!)));
      }
    });
  }

  test("the first 1-minute bar is 09:31 on 2021-04-23 at 36.71/37.02/36.71/36.80, 7,000 shares", async () => {
    const { bars } = await readBars(Bun.file(REAL_TDX_BINARIES.lc1), "sh688001.lc1");
    expect(bars[0]).toEqual({ timestamp: shanghai("2021-04-23", "09:31"), open: 36.71, high: 37.02, low: 36.71, close: 36.8, volume: 7_000, amount: 256_647 });
  });
});

describe("files written in the documented layouts, read back", () => {
  const days: DayRecord[] = [
    { date: 20240102, open: 1_000, high: 1_050, low: 990, close: 1_020, amount: 1_234_567, volume: 120_000 },
    { date: 20240103, open: 1_020, high: 1_021, low: 1_001, close: 1_005, amount: 0, volume: 0 },
  ];

  test("a .day file of a stock is in hundredths, of a Shanghai ETF in thousandths; dates at local midnight", async () => {
    const stock = await readBars(new Blob([dayFile(days)]), "sh600519.day");
    expect(stock.bars).toEqual([
      { timestamp: shanghai("2024-01-02", null), open: 10, high: 10.5, low: 9.9, close: 10.2, volume: 120_000, amount: 1_234_567 },
      { timestamp: shanghai("2024-01-03", null), open: 10.2, high: 10.21, low: 10.01, close: 10.05, volume: 0, amount: 0 },
    ]);
    const etf = await readBars(new Blob([dayFile(days.map((day) => ({ ...day, amount: day.amount / 10 })))]), "sh510050.day");
    expect(etf.bars.map((bar) => [bar.open, bar.high, bar.low, bar.close])).toEqual([[1, 1.05, 0.99, 1.02], [1.02, 1.021, 1.001, 1.005]]);
    const utc = await readBars(new Blob([dayFile(days)]), "bj430047.day", { timeZone: "UTC" });
    expect(utc.bars[0]!.timestamp).toBe(Date.parse("2024-01-02T00:00:00Z"));
  });

  test("a .lc5 file: the packed date, the closing minute in the exchange zone, float32 prices as the decimals written", async () => {
    const records: MinuteRecord[] = [
      { year: 2024, month: 12, day: 31, minutes: 9 * 60 + 35, open: 3.456, high: 3.5, low: 3.401, close: 3.47, amount: 34_700.5, volume: 10_000 },
      { year: 2024, month: 12, day: 31, minutes: 15 * 60, open: 3.47, high: 3.48, low: 3.46, close: 3.48, amount: 0, volume: 0 },
      { year: 2035, month: 1, day: 2, minutes: 13 * 60 + 5, open: 1_234.56, high: 1_234.56, low: 1_234.56, close: 1_234.56, amount: 1e9, volume: 4_294_967_295 },
    ];
    const { bars, batches } = await readBars(new Blob([minuteFile(records)]), "sz159915.lc5", { batchRecords: 2 });
    expect(batches).toEqual([{ first: 1, last: 2 }, { first: 3, last: 3 }]);
    expect(bars).toEqual([
      { timestamp: shanghai("2024-12-31", "09:35"), open: 3.456, high: 3.5, low: 3.401, close: 3.47, volume: 10_000, amount: 34_700.5 },
      { timestamp: shanghai("2024-12-31", "15:00"), open: 3.47, high: 3.48, low: 3.46, close: 3.48, volume: 0, amount: 0 },
      { timestamp: shanghai("2035-01-02", "13:05"), open: 1_234.56, high: 1_234.56, low: 1_234.56, close: 1_234.56, volume: 4_294_967_295, amount: 1e9 },
    ]);
  });

  test("a .day file whose prices disagree tenfold with its amounts is refused (a price unit its code range does not have)", async () => {
    // 10.00 yuan x 120,000 shares is 1.2 million yuan; read as an ETF's thousandths it would be 120,000.
    const traded: DayRecord[] = [{ date: 20240102, open: 1_000, high: 1_050, low: 990, close: 1_000, amount: 1_200_000, volume: 120_000 }];
    expect((await readBars(new Blob([dayFile(traded)]), "sh600519.day")).bars.length).toBe(1);
    let writes = 0;
    const error = await importTdxFile(new Blob([dayFile(traded)]), tdxFileName("sh510050.day")!, { timeZone: SHANGHAI, write: async () => ++writes }).catch((e: unknown) => e);
    expect((error as Error).message).toBe("sh510050: its prices read in thousandths of a yuan (the unit of its code range) times its volumes come to 0.100 times its amounts: the file does not keep its prices in that unit; nothing was written");
    expect(writes).toBe(0);
    // An index's volume is not in shares of its points: no such check.
    expect((await readBars(new Blob([dayFile(traded)]), "sh000001.day")).bars.length).toBe(1);
  });

  test("names: sz000001.day is 000001.SZ; case does not matter; a code range without a known price unit is refused", () => {
    expect(tdxSymbol(tdxFileName("sz000001.day")!)).toBe("000001.SZ");
    expect(tdxFileName("SH600519.LC1")).toEqual({ exchange: "sh", code: "600519", kind: "lc1" });
    expect(tdxFileName("600519.day")).toBeNull();
    expect(tdxFileName("sh600519.lc2")).toBeNull();
    expect(tdxPriceDivisor(tdxFileName("sz399001.day")!)).toBe(100);
    expect(tdxPriceDivisor(tdxFileName("sh113050.day")!)).toBe(1000);
    expect(() => tdxPriceDivisor(tdxFileName("sh700001.day")!)).toThrow(/no known price unit for sh codes starting 70/);
  });
});

describe("damage is refused, naming where, with nothing written", () => {
  const good: MinuteRecord = { year: 2024, month: 1, day: 15, minutes: 9 * 60 + 31, open: 10, high: 10.2, low: 9.9, close: 10.1, amount: 10_100, volume: 1_000 };
  const at = (minutes: number, change: Partial<MinuteRecord> = {}): MinuteRecord => ({ ...good, minutes, ...change });
  const refused = async (bytes: Uint8Array, fileName: string) => {
    let writes = 0;
    const error = await importTdxFile(new Blob([bytes]), tdxFileName(fileName)!, { timeZone: SHANGHAI, write: async () => ++writes }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BarFileError);
    expect(writes).toBe(0);
    return (error as BarFileError).message;
  };

  test("a size that is not a whole number of 32-byte records", async () => {
    const bytes = dayFile([{ date: 20240102, open: 1_000, high: 1_050, low: 990, close: 1_020, amount: 1, volume: 1 }]);
    expect(await refused(bytes.subarray(0, 31), "sz000001.day")).toBe("31 bytes is not a whole number of 32-byte records (0 and 31 bytes over): the file is cut short or not a TDX .day file; nothing was written");
    expect(await refused(new Uint8Array([...minuteFile([good, at(9 * 60 + 32)]), 0]), "sh600519.lc1")).toContain("65 bytes is not a whole number");
  });

  test("an impossible date or minute names the record", async () => {
    const day = (date: number): DayRecord => ({ date, open: 1_000, high: 1_000, low: 1_000, close: 1_000, amount: 0, volume: 0 });
    expect(await refused(dayFile([day(20240102), day(20240230)]), "sz000001.day")).toBe("record 2 of 2 (byte 32): time: date 20240230 is not a calendar date from 1990 on (YYYYMMDD); nothing was written");
    expect(await refused(dayFile([day(0)]), "sz000001.day")).toContain("record 1 of 1 (byte 0): time: date 0 is not a calendar date");
    expect(await refused(minuteFile([good, at(1_440)]), "sh600519.lc1")).toContain("record 2 of 2 (byte 32): time: minute 1440 of 2024-01-15 is past the end of the day");
    expect(await refused(minuteFile([good, at(600, { month: 13 })]), "sh600519.lc1")).toContain("record 2 of 2 (byte 32): time: date");
  });

  test("zero, negative and NaN prices, and a high below the close, are bad records, not coerced", async () => {
    expect(await refused(minuteFile([good, at(9 * 60 + 32, { open: 0 })]), "sh600519.lc1")).toBe("record 2 of 2 (byte 32): open: must be > 0, got 0; nothing was written");
    expect(await refused(minuteFile([at(9 * 60 + 32, { low: -1 })]), "sh600519.lc1")).toContain("record 1 of 1 (byte 0): low: must be > 0, got -1");
    expect(await refused(minuteFile([at(9 * 60 + 32, { close: Number.NaN })]), "sh600519.lc1")).toContain("close: NaN is not a number a bar can hold");
    expect(await refused(minuteFile([at(9 * 60 + 32, { amount: Number.POSITIVE_INFINITY })]), "sh600519.lc1")).toContain("amount: Infinity is not a number a bar can hold");
    expect(await refused(minuteFile([at(9 * 60 + 32, { high: 10.05 })]), "sh600519.lc1")).toContain("high: high 10.05 is below close 10.1");
  });

  test("a repeated or earlier time than the record before it, across batches too", async () => {
    const records = [good, at(9 * 60 + 32), at(9 * 60 + 32)];
    expect(await refused(minuteFile(records), "sh600519.lc1")).toBe("record 3 of 3 (byte 64): time: 2024-01-15 09:32 does not come after the record before it (2024-01-15 09:32); records ascend in time; nothing was written");
    let writes = 0;
    const error = await importTdxFile(new Blob([minuteFile([good, at(9 * 60 + 33), at(9 * 60 + 32)])]), tdxFileName("sh600519.lc1")!, { timeZone: SHANGHAI, batchRecords: 2, write: async () => ++writes }).catch((e: unknown) => e);
    expect((error as Error).message).toContain("record 3 of 3");
    expect(writes).toBe(0);
  });

  test("the first bad record in the file is the one named, whichever check found it", async () => {
    // Record 2's zero price is found by the bar rules, after record 3's impossible minute.
    expect(await refused(minuteFile([good, at(9 * 60 + 32, { open: 0 }), at(1_500)]), "sh600519.lc1")).toContain("record 2 of 3");
  });

  test("skipBad: every bad record reported, the others written", async () => {
    const records = [good, at(9 * 60 + 32, { open: 0 }), at(9 * 60 + 33), at(9 * 60 + 33), at(9 * 60 + 34)];
    const { bars, bad, summary } = await readBars(new Blob([minuteFile(records)]), "sh600519.lc1", { skipBad: true, batchRecords: 2 });
    expect(bad).toEqual([
      { record: 2, reason: "open: must be > 0, got 0" },
      { record: 4, reason: "time: 2024-01-15 09:33 does not come after the record before it (2024-01-15 09:33); records ascend in time" },
    ]);
    expect(bars.map((bar) => wallMinute(bar.timestamp))).toEqual(["09:31", "09:33", "09:34"]);
    expect(summary).toMatchObject({ records: 5, written: 3, badRecords: 2 });
  });
});

/**
 * importBarFile: the header spellings users bring, the value forms, bad rows with their line
 * numbers, batches, and the real TDX exports read as they are.
 */
import { describe, expect, test } from "bun:test";
import { BarFileError, importBarFile, mapHeader, type BadRow, type BarFileOptions } from "../../src/import/bar-file.ts";
import { openDatabase, type Bar, type BarColumns } from "../../src/mod.ts";
import { readTdxBars, realDataPath, TDX_ETF_5MIN_DESC, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";

const SHANGHAI = "Asia/Shanghai";

/** A stream of `text`'s UTF-8 bytes, cut into pieces of `piece` bytes (to cross every boundary). */
function streamOf(text: string | Uint8Array, piece = 7): ReadableStream<Uint8Array> {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + piece));
      at += piece;
    },
  });
}

interface Imported {
  bars: Bar[];
  batches: { first: number; last: number; rows: number }[];
  bad: BadRow[];
  summary: Awaited<ReturnType<typeof importBarFile>>;
}

/** Imports `text` into an in-memory database and reads back what was written. */
async function importText(text: string | Uint8Array, options: Partial<BarFileOptions> = {}, piece = 7): Promise<Imported> {
  const db = openDatabase({ path: ":memory:", timezone: SHANGHAI });
  const batches: Imported["batches"] = [];
  const bad: BadRow[] = [];
  try {
    const summary = await importBarFile(streamOf(text, piece), {
      timeZone: SHANGHAI,
      onBadRow: (row) => bad.push(row),
      write: async (bars: BarColumns, lines) => {
        const rows = db.insertBars("X", bars);
        batches.push({ ...lines, rows });
        return rows;
      },
      ...options,
    });
    return { bars: db.getBars("X"), batches, bad, summary };
  } finally {
    db.close();
  }
}

const at = (text: string) => Date.parse(text);

describe("header spellings", () => {
  const expected = [
    { timestamp: at("2024-01-15T09:31:00+08:00"), open: 10, high: 10.2, low: 9.9, close: 10.1, volume: 1000, amount: 10100 },
    { timestamp: at("2024-01-15T09:32:00+08:00"), open: 10.1, high: 10.3, low: 10, close: 10.2, volume: 1200, amount: 12240 },
  ];
  const cases: [string, string][] = [
    ["english, one datetime column", "datetime,open,high,low,close,volume,amount\n2024-01-15 09:31:00,10,10.2,9.9,10.1,1000,10100\n2024-01-15 09:32,10.1,10.3,10,10.2,1200,12240\n"],
    ["timestamp with offsets, vol and turnover, other order", "close,timestamp,turnover,vol,low,high,open\n10.1,2024-01-15T01:31:00Z,10100,1000,9.9,10.2,10\n10.2,2024-01-15T09:32:00+08:00,12240,1200,10,10.3,10.1\n"],
    ["epoch milliseconds", `timestamp,open,high,low,close,volume,amount\n${at("2024-01-15T09:31:00+08:00")},10,10.2,9.9,10.1,1000,10100\n${at("2024-01-15T09:32:00+08:00")},10.1,10.3,10,10.2,1200,12240\n`],
    ["date and time columns", "date,time,open,high,low,close,volume,amount\n2024-01-15,09:31,10,10.2,9.9,10.1,1000,10100\n20240115,093200,10.1,10.3,10,10.2,1200,12240\n"],
    ["time alone holding the whole timestamp, capitals and spaces", " Time , Open,High,Low,Close,Volume,Amount\n2024/01/15 09:31:00,10,10.2,9.9,10.1,1000,10100\n20240115 09:32,10.1,10.3,10,10.2,1200,12240\n"],
    ["Chinese headers with a BOM and CRLF", "\uFEFF日期,时间,开盘,最高,最低,收盘,成交量,成交额\r\n2024-01-15,09:31,10,10.2,9.9,10.1,1000,10100\r\n2024/01/15,0932,10.1,10.3,10,10.2,1200,12240\r\n"],
    ["Chinese headers with 价", "日期,时间,开盘价,最高价,最低价,收盘价,成交量,成交额\n2024-01-15,9:31,10,10.2,9.9,10.1,1000,10100\n2024-01-15,09:32:00,10.1,10.3,10,10.2,1200,12240\n"],
  ];
  for (const [name, text] of cases) {
    test(name, async () => {
      const imported = await importText(text);
      expect(imported.bad).toEqual([]);
      expect(imported.bars).toEqual(expected);
      expect(imported.summary).toMatchObject({ rows: 2, written: 2, batches: 1, badRows: 0, stoppedAt: null });
    });
  }

  test("trade_date alone: daily bars stamped at local midnight", async () => {
    const imported = await importText("trade_date,open,high,low,close,vol,amount\n20240115,10,10.2,9.9,10.1,1000,10100\n20240116,10.1,10.3,10,10.2,1200,12240\n");
    expect(imported.bars.map((bar) => bar.timestamp)).toEqual([at("2024-01-15T00:00:00+08:00"), at("2024-01-16T00:00:00+08:00")]);
  });

  test("volume and amount are optional (NULL when absent); an empty cell is NULL", async () => {
    const imported = await importText("datetime,open,high,low,close\n2024-01-15 09:31,10,10.2,9.9,10.1\n2024-01-15 09:32,,,,\n");
    expect(imported.bars).toEqual([
      { timestamp: at("2024-01-15T09:31:00+08:00"), open: 10, high: 10.2, low: 9.9, close: 10.1, volume: null, amount: null },
      { timestamp: at("2024-01-15T09:32:00+08:00"), open: null, high: null, low: null, close: null, volume: null, amount: null },
    ]);
  });

  test("mapHeader: the first spelling present wins, the rest are named as ignored", () => {
    const map = mapHeader(["datetime", "open", "close", "high", "low", "vol", "volume", "amount", "year", "datetime", "date"]);
    expect(map.time).toEqual({ kind: "datetime", column: 0 });
    expect(map.values).toEqual({ open: 1, high: 3, low: 4, close: 2, volume: 6, amount: 7 });
    expect(map.ignored).toEqual(["vol", "year", "datetime", "date"]);
  });

  test("a header without a time column, or without a price, is refused naming what is missing", () => {
    expect(() => mapHeader(["open", "high", "low", "close"])).toThrow(/no time column/);
    expect(() => mapHeader(["date", "open", "high", "close"])).toThrow(/no low\/最低\/最低价 column/);
  });

  test("an empty file, a file that is not UTF-8, and a header-only file", async () => {
    await expect(importText("")).rejects.toThrow(BarFileError);
    await expect(importText(new Uint8Array([0x64, 0x61, 0x74, 0x65, 0x0a, 0xb0, 0xa1, 0xff]))).rejects.toThrow(/not UTF-8/);
    const headerOnly = await importText("datetime,open,high,low,close\n");
    expect(headerOnly.summary).toMatchObject({ rows: 0, written: 0, batches: 0 });
  });
});

describe("bad rows", () => {
  const text = [
    "datetime,open,high,low,close,volume,amount", // line 1
    "2024-01-15 09:31,10,10.2,9.9,10.1,1000,10100", // 2
    "2024-01-15 09:32,10.1,10.3,10,10.2,1200,12240", // 3
    "", // 4: blank, skipped
    "2024-01-15 09:33,10.2,10.1,10.3,10.2,900,9180", // 5: high below low
    "2024-01-15 09:34,abc,10.3,10,10.2,1200,12240", // 6: not a number
    "2024-02-30 09:35,10.1,10.3,10,10.2,1200,12240", // 7: no such day
    "2024-01-15 09:36,10.1,10.3,10,10.2", // 8: too few fields
    "2024-01-15 09:37,1e3,1e3,1e3,1e3,0,0", // 9: fine
    "",
  ].join("\n");

  test("without skipBad the first bad row stops the import: the rows before it are written, nothing after", async () => {
    const imported = await importText(text);
    expect(imported.bad).toEqual([{ line: 5, reason: expect.stringContaining("high") }]);
    expect(imported.summary.stoppedAt).toEqual(imported.bad[0]!);
    expect(imported.bars.map((bar) => bar.timestamp)).toEqual([at("2024-01-15T09:31:00+08:00"), at("2024-01-15T09:32:00+08:00")]);
  });

  test("with skipBad every bad row is reported with its line and reason, and the good rows are written", async () => {
    const imported = await importText(text, { skipBad: true });
    expect(imported.bad.map((bad) => bad.line).sort((a, b) => a - b)).toEqual([5, 6, 7, 8]);
    const reasons = Object.fromEntries(imported.bad.map((bad) => [bad.line, bad.reason]));
    expect(reasons[6]).toBe('open: not a number: "abc"');
    expect(reasons[7]).toContain("invalid day");
    expect(reasons[8]).toBe("5 fields; the header has 7");
    expect(imported.bars.map((bar) => bar.open)).toEqual([10, 10.1, 1000]);
    expect(imported.summary).toMatchObject({ rows: 7, written: 3, badRows: 4, stoppedAt: null });
  });

  test("a record is one line: a quoted line break is a bad row on each of its lines, and the lines after keep their numbers", async () => {
    const quoted = 'datetime,open,high,low,close,volume,amount\n"2024-01-15\n09:31",10,10.2,9.9,10.1,1,1\n2024-01-15 09:32,x,10.3,10,10.2,1,1\n2024-01-15 09:33,10,10.2,9.9,10.1,1,1\n';
    const imported = await importText(quoted, { skipBad: true });
    expect(imported.bad.map((bad) => bad.line)).toEqual([2, 3, 4]);
    expect(imported.bars.length).toBe(1);
    const broken = await importText('datetime,open,high,low,close\n2024-01-15 09:31,10,10.2,9.9,10.1\n2024-01-15 09:32,"10"1,10.3,10,10.2\n', {}, 1_000);
    expect(broken.summary.stoppedAt?.line).toBe(3);
    expect(broken.bars.length).toBe(1);
  });

  test("numbers are read as written: no thousands separators, no units, no guessing", async () => {
    const imported = await importText("datetime,open,high,low,close,volume\n2024-01-15 09:31,10,10.2,9.9,10.1,\"1,000\"\n2024-01-15 09:32,10,10.2,9.9,10.1,1000手\n", { skipBad: true });
    expect(imported.bad.map((bad) => bad.reason)).toEqual(['volume: not a number: "1,000"', 'volume: not a number: "1000手"']);
    expect(imported.bars).toEqual([]);
  });
});

describe("what review found", () => {
  const header = "datetime,open,high,low,close,volume,amount";
  const row = (minute: number, open = "10") => `2024-01-15 ${String(9 + Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")},${open},10.2,9.9,10.1,1,1`;

  test("a broken quote in the middle of a large file spoils its own line only: every later row is read, and later lines keep their numbers", async () => {
    const lines = [header];
    for (let i = 0; i < 20_000; i++) lines.push(i === 10 ? row(i, '"10"x') : i === 15_000 ? row(i, "y") : row(i % 600).replace("2024-01-15", `2024-${String(1 + Math.floor(i / 600 / 28)).padStart(2, "0")}-${String(1 + (Math.floor(i / 600) % 28)).padStart(2, "0")}`));
    const imported = await importText(`${lines.join("\n")}\n`, { skipBad: true }, 64 * 1024);
    expect(imported.bad.map((bad) => bad.line)).toEqual([12, 15_002]);
    expect(imported.bad[0]!.reason).toStartWith("CSV:");
    expect(imported.summary).toMatchObject({ rows: 20_000, written: 19_998, badRows: 2 });
  });

  test("line endings may mix (a CRLF header over LF rows, and the other way round)", async () => {
    for (const text of [`${header}\r\n${row(1)}\n${row(2)}\n`, `${header}\n${row(1)}\r\n${row(2)}\r\n`, `${header}\r\n${row(1)}\r\n${row(2)}`]) {
      const imported = await importText(text);
      expect(imported.bad).toEqual([]);
      expect(imported.bars.map((bar) => bar.close)).toEqual([10.1, 10.1]);
    }
  });

  test("times in one column: YYYYMMDDHHMM[SS] is a date and time, 13 digits are epoch ms, 12 are not; H:MM is a time", async () => {
    const epoch = Date.parse("2024-01-15T09:33:00+08:00");
    const imported = await importText(
      `${header}\n202401150931,10,10.2,9.9,10.1,1,1\n20240115093200,10,10.2,9.9,10.1,1,1\n${epoch},10,10.2,9.9,10.1,1,1\n2024-01-15 9:34,10,10.2,9.9,10.1,1,1\n170530000000,10,10.2,9.9,10.1,1,1\n`,
      { skipBad: true },
    );
    expect(imported.bars.map((bar) => bar.timestamp)).toEqual(["09:31", "09:32", "09:33", "09:34"].map((time) => Date.parse(`2024-01-15T${time}:00+08:00`)));
    expect(imported.bad.map((bad) => bad.line)).toEqual([6]);
  });

  test("a time seen twice is a bad row naming the first: a repeated row, the hour clocks go back, a time column not read", async () => {
    const twice = await importText(`${header}\n${row(1)}\n${row(2)}\n${row(1, "11")}\n`, { skipBad: true });
    expect(twice.bad).toEqual([{ line: 4, reason: expect.stringContaining("line 2 has it") }]);
    expect(twice.bars.map((bar) => bar.open)).toEqual([10, 10]);
    // 01:30 on 3 November 2024 happened twice in New York; the naive text cannot say which.
    const db = openDatabase({ path: ":memory:", timezone: "America/New_York" });
    try {
      const bad: BadRow[] = [];
      await importBarFile(streamOf(`${header}\n2024-11-03 01:30,1,1,1,1,1,1\n2024-11-03 01:30,2,2,2,2,2,2\n`), {
        timeZone: "America/New_York",
        skipBad: true,
        onBadRow: (row) => bad.push(row),
        write: async (bars) => db.insertBars("NY", bars),
      });
      expect(bad.map((row) => row.line)).toEqual([3]);
    } finally {
      db.close();
    }
    // `minute` is not a time spelling: every row of the day would land on midnight.
    const unread = await importText("date,minute,open,high,low,close\n2024-01-15,0931,10,10.2,9.9,10.1\n2024-01-15,0932,10,10.2,9.9,10.1\n");
    expect(unread.summary.stoppedAt).toEqual({ line: 3, reason: expect.stringContaining("line 2 has it") });
    expect(unread.summary.header?.ignored).toEqual(["minute"]);
  });

  test("an overlong line is a bad row skipped to its end (never buffered whole); a file that stops being UTF-8 keeps the rows before", async () => {
    const long = `${row(2)},${"9".repeat(1_100_000)}`;
    const imported = await importText(`${header}\n${row(1)}\n${long}\n${row(3)}\n`, { skipBad: true }, 64 * 1024);
    expect(imported.bad).toEqual([{ line: 3, reason: expect.stringContaining("runs past") }]);
    expect(imported.bars.length).toBe(2);
    const good = new TextEncoder().encode(`${header}\n${row(1)}\n${row(2)}\n`);
    const gbk = new Uint8Array([...good, 0xb0, 0xa1, 0x0a]);
    const db = openDatabase({ path: ":memory:", timezone: SHANGHAI });
    try {
      const failure = await importBarFile(streamOf(gbk, 1_000), { timeZone: SHANGHAI, write: async (bars) => db.insertBars("G", bars) }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(BarFileError);
      expect((failure as Error).message).toContain("(line 4)");
      expect(db.getBars("G").length).toBe(2);
    } finally {
      db.close();
    }
  });
});

describe("batches and the real exports", () => {
  test("batches of batchRows, each written whole, lines in order", async () => {
    const lines = ["datetime,open,high,low,close,volume,amount"];
    for (let i = 0; i < 25; i++) lines.push(`2024-01-15 10:${String(i).padStart(2, "0")},10,10.2,9.9,10.1,100,1010`);
    const imported = await importText(`${lines.join("\n")}\n`, { batchRows: 10 });
    expect(imported.batches).toEqual([
      { first: 2, last: 11, rows: 10 },
      { first: 12, last: 21, rows: 10 },
      { first: 22, last: 26, rows: 5 },
    ]);
    expect(imported.bars.length).toBe(25);
  });

  for (const file of [TDX_INDEX_1MIN, TDX_ETF_5MIN_DESC]) {
    test(`${file}: every row, exactly as the file says (denormal volumes, three-decimal prices, descending order)`, async () => {
      const expected = await readTdxBars(file);
      const imported = await importText(await Bun.file(realDataPath(file)).bytes(), { batchRows: 5_000 }, 64 * 1024);
      expect(imported.bad).toEqual([]);
      expect(imported.summary.header?.ignored).toContain("vol");
      const byTime = new Map(expected.map((bar) => [Date.parse(`${bar.timestamp.replace(" ", "T")}+08:00`), bar]));
      expect(imported.bars.length).toBe(byTime.size);
      for (const bar of imported.bars) {
        const want = byTime.get(bar.timestamp)!;
        expect(bar).toEqual({ timestamp: bar.timestamp, open: want.open, high: want.high, low: want.low, close: want.close, volume: want.volume, amount: want.amount });
      }
    });
  }
});

describe("a daily file (interval: 1d)", () => {
  test("dates alone, or times at local midnight, are read; any other time is a bad row by line, with or without skipBad", async () => {
    const text = [
      "date,open,high,low,close,volume,amount", // 1
      "2024-01-15,10,10.2,9.9,10.1,1000,10100", // 2
      "2024-01-16 00:00,10.1,10.3,10,10.2,1200,12240", // 3: a local midnight
      "2024-01-17 15:00,10.2,10.3,10.1,10.2,900,9180", // 4: a time of day
      "2024-01-18,10.2,10.1,10.3,10.2,900,9180", // 5: high below low
      "2024-01-19,10.2,10.3,10.1,10.2,900,9180", // 6
      "",
    ].join("\n");
    const mixed = text.replace("date,", "datetime,");
    const stopped = await importText(mixed, { interval: "1d" });
    expect(stopped.bad).toEqual([{ line: 4, reason: expect.stringContaining("timestamp: a daily bar is stamped at the local midnight") }]);
    expect(stopped.bars.map((bar) => bar.timestamp)).toEqual([at("2024-01-15T00:00:00+08:00"), at("2024-01-16T00:00:00+08:00")]);
    const skipped = await importText(mixed, { interval: "1d", skipBad: true });
    expect(skipped.bad.map((bad) => bad.line)).toEqual([4, 5]);
    expect(skipped.bars).toHaveLength(3);
    // Without interval the same rows are minute-series rows: the 15:00 one is fine.
    expect((await importText(mixed, { skipBad: true })).bad.map((bad) => bad.line)).toEqual([5]);
  });
});

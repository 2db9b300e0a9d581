/**
 * The vendor profiles (src/import/profiles.ts, header.ts) through importBarFile: the real files in
 * test/fixtures/vendor (and the Tushare daily file the calendar tests use), and the layouts of
 * the vendors without a real file written inline, each naming the documentation it follows.
 * Sizes must come out in shares and yuan, exactly; files with a code column split per symbol;
 * adjusted prices refused unless told; GBK read when it is GBK.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BarFileError, importBarFile, type BadRow, type BarFileOptions, type BarFileSummary } from "../../src/import/bar-file.ts";
import type { Bar, BarColumns } from "../../src/mod.ts";

const SHANGHAI = "Asia/Shanghai";
const fixture = (name: string) => join(import.meta.dir, "..", "fixtures", name);

type Row = Bar;

interface Read {
  /** Rows per symbol (the file's own symbol is ""), in the order written. */
  bars: Map<string, Row[]>;
  batches: { symbol: string; first: number; last: number }[];
  bad: BadRow[];
  summary: BarFileSummary;
}

function rowsOf(columns: BarColumns): Row[] {
  return Array.from(columns.timestamp as ArrayLike<number>, (timestamp, i) => ({
    timestamp,
    open: (columns.open as ArrayLike<number | null>)[i] ?? null,
    high: (columns.high as ArrayLike<number | null>)[i] ?? null,
    low: (columns.low as ArrayLike<number | null>)[i] ?? null,
    close: (columns.close as ArrayLike<number | null>)[i] ?? null,
    volume: (columns.volume as ArrayLike<number | null> | undefined)?.[i] ?? null,
    amount: (columns.amount as ArrayLike<number | null> | undefined)?.[i] ?? null,
  }));
}

async function read(source: string | Uint8Array, options: Partial<BarFileOptions> = {}, piece = 4_096): Promise<Read> {
  const bytes = typeof source === "string" ? new TextEncoder().encode(source) : source;
  let at = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + piece));
      at += piece;
    },
  });
  const bars = new Map<string, Row[]>();
  const batches: Read["batches"] = [];
  const bad: BadRow[] = [];
  const summary = await importBarFile(stream, {
    timeZone: SHANGHAI,
    onBadRow: (row) => bad.push(row),
    write: async (columns, lines, symbol) => {
      const rows = rowsOf(columns);
      bars.set(symbol ?? "", [...(bars.get(symbol ?? "") ?? []), ...rows]);
      batches.push({ symbol: symbol ?? "", ...lines });
      return rows.length;
    },
    ...options,
  });
  return { bars, batches, bad, summary };
}

const shanghai = (text: string) => Date.parse(`${text}+08:00`);

describe("real files", () => {
  test("Tushare daily: ts_code splits, vol in 手 x 100 and amount in 千元 x 1000 exactly; newest first; the index column ignored", async () => {
    const file = await Bun.file(fixture("calendar/000001.SZ-tushare-daily-raw-1991-2018.csv")).bytes();
    const got = await read(file, { skipBad: true, interval: "1d" });
    expect(got.summary.header).toMatchObject({ profile: "tushare", units: { volume: "lots", amount: "thousands" }, conversions: ["vol: lots (手) x 100 -> shares", "amount: thousands of yuan (千元) x 1000 -> yuan"] });
    expect(got.summary.header!.ignored).toEqual(["(unnamed)", "pre_close", "change", "pct_change"]);
    expect([...got.bars.keys()]).toEqual(["000001.SZ"]);
    const rows = got.bars.get("000001.SZ")!;
    // 0,000001.SZ,20180815,9.02,9.02,8.75,8.79,9.0,-0.21,-2.3333,670442.85,594759.517
    expect(rows[0]).toEqual({ timestamp: shanghai("2018-08-15T00:00:00"), open: 9.02, high: 9.02, low: 8.75, close: 8.79, volume: 67_044_285, amount: 594_759_517 });
    // The vendor's own error: 1992-08-03 opens at 46.6 above its high of 45.6. Reported, not stored.
    expect(got.bad).toEqual([{ line: 6342, reason: "high: high 45.6 is below open 46.6" }]);
    expect(got.summary).toMatchObject({ rows: 6_678, written: 6_677, symbols: { "000001.SZ": 6_677 } });
  });

  test("AKShare 5-minute (English and Chinese names, CRLF): volume in 手 x 100, 成交额 in yuan", async () => {
    const got = await read(await Bun.file(fixture("vendor/600519-akshare-min-em-5m-2026.csv")).bytes());
    expect(got.summary.header).toMatchObject({ profile: "akshare", code: null, conversions: ["volume: lots (手) x 100 -> shares"], assumed: [] });
    const rows = got.bars.get("")!;
    expect(rows.length).toBe(1_488);
    // 2026-02-05 09:35:00,1520.0,1544.0,1547.0,1515.0,1.25,19.0,9340,1431754879.0,2.1,0.07
    expect(rows[0]).toEqual({ timestamp: shanghai("2026-02-05T09:35:00"), open: 1520, high: 1547, low: 1515, close: 1544, volume: 934_000, amount: 1_431_754_879 });
    // What makes 手 the right reading: the amount over the volume is a price inside the bar.
    for (const row of rows.slice(0, 50)) if (row.volume! > 0) expect(row.amount! / row.volume!).toBeWithin(row.low! * 0.99, row.high! * 1.01);
  });

  test("a TDX export in GBK: detected, its title and footer skipped, the tab-padded header read over comma rows", async () => {
    const got = await read(await Bun.file(fixture("vendor/SH#601003-tdx-export-raw-gbk.txt")).bytes(), { interval: "1d" }, 16);
    expect(got.summary.encoding).toEqual({ name: "gbk", detected: true });
    expect(got.summary).toMatchObject({ headerLine: 2, rows: 2, written: 2, adjusted: null });
    expect(got.summary.header).toMatchObject({ profile: "tdx", ignored: [] });
    expect(got.summary.header!.assumed).toEqual([expect.stringContaining("成交量 read as shares"), expect.stringContaining("成交额 read as yuan")]);
    expect(got.bars.get("")).toEqual([
      { timestamp: shanghai("2021-09-22T00:00:00"), open: 7.4, high: 7.52, low: 7.29, close: 7.44, volume: 15_339_115, amount: 113_605_952 },
      { timestamp: shanghai("2021-09-23T00:00:00"), open: 7.57, high: 7.74, low: 7.35, close: 7.48, volume: 17_796_153, amount: 134_352_208 },
    ]);
  });

  test("adjusted files are refused before anything is written, naming why; with adjusted: true they are read", async () => {
    const qfq = await Bun.file(fixture("vendor/SH#601003-tdx-export-qfq-gbk.txt")).bytes();
    const refused = await read(qfq, { interval: "1d" }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(BarFileError);
    expect((refused as Error).message).toContain("前复权");
    // Told to, the forward-adjusted series goes in, but not its impossible rows: in 2008 the
    // adjustment pushes this stock's lows below zero.
    const told = await read(qfq, { interval: "1d", adjusted: true, skipBad: true });
    expect(told.summary.adjusted).toBe("前复权");
    expect(told.bad.length).toBeGreaterThan(0);
    expect(told.bad.every((bad) => /must be > 0/.test(bad.reason))).toBe(true);

    const baostock = await Bun.file(fixture("vendor/sh.600036-baostock-qfq-2000-2020.csv")).bytes();
    const flagged = await read(baostock, { interval: "1d" }).catch((error: unknown) => error);
    expect((flagged as Error).message).toContain("adjustflag 2 (前复权, forward-adjusted)");
    const stored = await read(baostock, { interval: "1d", adjusted: true });
    expect(stored.summary.header!.profile).toBe("baostock");
    expect([...stored.bars.keys()]).toEqual(["sh.600036"]);
    // 2002-04-09,sh.600036,2.4092178100,2.4940332800,2.4092178100,2.4436024600,...,414108831,4418821513.0000,2,...
    expect(stored.bars.get("sh.600036")![0]).toEqual({ timestamp: shanghai("2002-04-09T00:00:00"), open: 2.40921781, high: 2.49403328, low: 2.40921781, close: 2.44360246, volume: 414_108_831, amount: 4_418_821_513 });
  });
});

describe("layouts without a real file", () => {
  test("Tushare stk_mins (doc_id 370: ts_code, trade_time, open, close, high, low, vol, amount): shares and yuan, no conversion", async () => {
    const got = await read("ts_code,trade_time,open,close,high,low,vol,amount\n600000.SH,2024-01-02 09:31:00,6.6,6.61,6.62,6.59,327200.0,2160944.0\n600000.SH,2024-01-02 09:32:00,6.61,6.6,6.61,6.6,89800.0,593202.0\n");
    expect(got.summary.header).toMatchObject({ profile: "tushare", conversions: [], assumed: [] });
    expect(got.bars.get("600000.SH")!.map((row) => [row.timestamp, row.volume, row.amount])).toEqual([
      [shanghai("2024-01-02T09:31:00"), 327_200, 2_160_944],
      [shanghai("2024-01-02T09:32:00"), 89_800, 593_202],
    ]);
  });

  test("a whole-market Tushare daily file is split by ts_code; a bad row stops every symbol at its line", async () => {
    const header = "ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount";
    const lines = [header];
    for (const date of ["20240103", "20240102"]) {
      for (const code of ["000001.SZ", "600000.SH", "830799.BJ"]) lines.push(`${code},${date},10,10.5,9.5,10.2,10,0.2,2,1234.56,1262.5`);
    }
    const got = await read(`${lines.join("\n")}\n`, { interval: "1d", batchRows: 4 });
    expect([...got.bars.keys()]).toEqual(["000001.SZ", "600000.SH", "830799.BJ"]);
    for (const rows of got.bars.values()) {
      expect(rows.map((row) => row.timestamp)).toEqual([shanghai("2024-01-03T00:00:00"), shanghai("2024-01-02T00:00:00")]);
      expect(rows[0]).toMatchObject({ volume: 123_456, amount: 1_262_500 });
    }
    expect(got.summary.symbols).toEqual({ "000001.SZ": 2, "600000.SH": 2, "830799.BJ": 2 });
    // Each batch is one symbol's rows; the first four rows are one batch of three symbols.
    expect(got.batches.slice(0, 3).map((batch) => batch.symbol)).toEqual(["000001.SZ", "600000.SH", "830799.BJ"]);

    const broken = [...lines];
    broken[5] = broken[5]!.replace("10,10.5,9.5", "10,9,9.5"); // 600000.SH on 20240102: high below low
    const stopped = await read(`${broken.join("\n")}\n`, { interval: "1d" });
    expect(stopped.summary.stoppedAt).toEqual({ line: 6, reason: expect.stringContaining("high") });
    expect(stopped.summary.symbols).toEqual({ "000001.SZ": 2, "600000.SH": 1, "830799.BJ": 1 });
  });

  test("AKShare stock_zh_a_hist (日期, 股票代码, 开盘, 收盘, 最高, 最低, 成交量, 成交额, 振幅, 涨跌幅, 涨跌额, 换手率)", async () => {
    const got = await read("日期,股票代码,开盘,收盘,最高,最低,成交量,成交额,振幅,涨跌幅,涨跌额,换手率\n2024-01-02,600519,1715.0,1685.01,1718.19,1678.1,32156,5440082487.0,2.34,-1.75,-30.0,0.26\n", { interval: "1d" });
    expect(got.summary.header).toMatchObject({ profile: "akshare", conversions: ["成交量: lots (手) x 100 -> shares"] });
    expect(got.bars.get("600519")).toEqual([{ timestamp: shanghai("2024-01-02T00:00:00"), open: 1715, high: 1718.19, low: 1678.1, close: 1685.01, volume: 3_215_600, amount: 5_440_082_487 }]);
  });

  test("baostock 5-minute (query_history_k_data_plus: date, time 20240102093500000, code ...): the time column is the whole time", async () => {
    const got = await read("date,time,code,open,high,low,close,volume,amount,adjustflag\n2024-01-02,20240102093500000,sh.600000,6.60,6.62,6.58,6.61,1234500,8154321.0000,3\n2024-01-02,20240102094000000,sh.600000,6.61,6.63,6.60,6.62,987600,6531234.0000,3\n");
    expect(got.summary.header).toMatchObject({ profile: "baostock", time: { kind: "datetime" }, ignored: [] });
    expect(got.bars.get("sh.600000")!.map((row) => row.timestamp)).toEqual([shanghai("2024-01-02T09:35:00"), shanghai("2024-01-02T09:40:00")]);
    const odd = await read("date,time,code,open,high,low,close,volume,amount,adjustflag\n2024-01-02,20240102093500000,sh.600000,6.60,6.62,6.58,6.61,1,1,9\n", { skipBad: true });
    expect(odd.bad).toEqual([{ line: 2, reason: 'adjustflag: "9" is not 1, 2 or 3' }]);
  });

  test("JoinQuant get_price written by pandas: the time in the unnamed index column, money as the amount; with panel=False, time and code", async () => {
    const single = await read(",open,close,high,low,volume,money\n2024-01-02 09:31:00,9.39,9.4,9.42,9.38,1873300.0,17596921.0\n");
    expect(single.summary.header).toMatchObject({ profile: "joinquant", time: { kind: "datetime", column: 0 }, ignored: [] });
    expect(single.bars.get("")).toEqual([{ timestamp: shanghai("2024-01-02T09:31:00"), open: 9.39, high: 9.42, low: 9.38, close: 9.4, volume: 1_873_300, amount: 17_596_921 }]);
    const many = await read("time,code,open,close,high,low,volume,money\n2024-01-02 09:31:00,000001.XSHE,9.39,9.4,9.42,9.38,1873300.0,17596921.0\n2024-01-02 09:31:00,600000.XSHG,6.6,6.61,6.62,6.59,327200.0,2160944.0\n");
    expect([...many.bars.keys()]).toEqual(["000001.XSHE", "600000.XSHG"]);
  });

  test("RiceQuant get_price (order_book_id, datetime ..., total_turnover)", async () => {
    const got = await read("order_book_id,datetime,num_trades,low,high,open,close,volume,total_turnover\n000001.XSHE,2024-01-02 09:31:00,512,9.38,9.42,9.39,9.4,1873300.0,17596921.0\n");
    expect(got.summary.header).toMatchObject({ profile: "ricequant", ignored: ["num_trades"] });
    expect(got.bars.get("000001.XSHE")![0]).toMatchObject({ volume: 1_873_300, amount: 17_596_921 });
  });
});

describe("choosing and overriding", () => {
  test("a header no profile reads is refused listing every profile and what it needs", async () => {
    const error = (await read("when,o,h,l,c\n1,2,3,4,5\n").catch((failure: unknown) => failure)) as Error;
    expect(error).toBeInstanceOf(BarFileError);
    for (const name of ["cache", "tushare", "akshare", "baostock", "joinquant", "ricequant", "tdx"]) expect(error.message).toContain(`${name} (`);
  });

  test("a profile named that the header is not is refused naming what it needs", async () => {
    const error = (await read("datetime,open,high,low,close,volume\n2024-01-02 09:31,1,1,1,1,1\n", { profile: "tushare" }).catch((failure: unknown) => failure)) as Error;
    expect(error.message).toContain("not a tushare file's: it needs ts_code");
  });

  test("units the header does not say are assumed and said; volumeUnit and amountUnit override any profile's", async () => {
    const text = "datetime,open,high,low,close,vol,amount\n2024-01-02 09:31,10,10,10,10,12.5,1.5\n";
    const assumed = await read(text);
    expect(assumed.summary.header!.assumed).toEqual([
      "vol read as shares (the header does not say; --volume-unit lots if it is in 手)",
      "amount read as yuan (the header does not say; --amount-unit thousands if it is in 千元)",
    ]);
    const told = await read(text, { volumeUnit: "lots", amountUnit: "thousands" });
    expect(told.summary.header!.assumed).toEqual([]);
    expect(told.bars.get("")![0]).toMatchObject({ volume: 1_250, amount: 1_500 });
    // A decimal shift, not a multiplication: 0.29 lots are 29 shares, not 28.999999999999996.
    expect((await read(text.replace("12.5", "0.29"), { volumeUnit: "lots" })).bars.get("")![0]!.volume).toBe(29);
  });

  test("a GBK file may be named as such; a UTF-8 header over a GBK row stops there, saying how to read GBK", async () => {
    const gbk = await Bun.file(fixture("vendor/SH#601003-tdx-export-raw-gbk.txt")).bytes();
    expect((await read(gbk, { encoding: "gbk", interval: "1d" })).summary.encoding).toEqual({ name: "gbk", detected: false });
    const mixed = new Uint8Array([...new TextEncoder().encode("datetime,open,high,low,close\n2024-01-02 09:31,1,1,1,1\n2024-01-02 09:32,1,1,1,1\n"), 0xc1, 0xf8, 0x0a]);
    const error = (await read(mixed, {}, 1_000).catch((failure: unknown) => failure)) as Error;
    expect(error.message).toContain("--encoding gbk");
  });
});

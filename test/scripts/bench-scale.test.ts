/**
 * scripts/bench-scale.ts builds the store it measures: at a tiny size (10 symbols, a cut first
 * day, a whole history day, a live day) the store holds what the bench claims, so a harness bug
 * cannot silently measure the wrong thing.
 */
import { expect, test } from "bun:test";
import { buildScaleStore, growingCosts, marketSymbols, openScaleDatabase, scaleTimeline, type ScaleResult } from "../../scripts/bench-scale.ts";
import { tempDir } from "../support/files.ts";

/** Five of each exchange: enough for the codes and calendars, few enough to run in ~1 s. */
const SYMBOLS = 10;
/** 100 minutes of a cut first day, one whole history day, then the 240-minute live day. */
const BARS_PER_SYMBOL = 100 + 240 + 240;

test("the builder writes every symbol's history and then the live day in minute order, every symbol each minute", () => {
  const dir = tempDir("tradelite-bench-scale-");
  const db = openScaleDatabase(dir.file("scale.db"));
  try {
    const { history, live, days } = scaleTimeline(BARS_PER_SYMBOL);
    expect([history.length, live.length, days.length]).toEqual([340, 240, 3]);
    const symbols = marketSymbols(SYMBOLS);
    expect(symbols.slice(0, 2).concat(symbols.slice(-2))).toEqual(["600000.SH", "600001.SH", "000004.SZ", "000005.SZ"]);
    const seen: number[] = [];
    const report = buildScaleStore(db, { symbols: SYMBOLS, barsPerSymbol: BARS_PER_SYMBOL }, (timestamp) => {
      seen.push(timestamp);
      // After each live minute commits, that minute is every symbol's latest bar: written together, in order.
      for (const symbol of symbols) expect(db.latestBar(symbol)?.timestamp).toBe(timestamp);
    });
    expect(seen).toEqual([...live]);
    expect(live[0]!).toBeGreaterThan(history.at(-1)!);
    expect(report).toMatchObject({ historyBars: 340 * SYMBOLS, liveBars: 240 * SYMBOLS, liveMinutes: 240 });
    const overview = db.overview();
    expect(overview.map((row) => [row.symbol, row.count])).toEqual([...symbols].sort().map((symbol) => [symbol, BARS_PER_SYMBOL]));
    for (const symbol of [symbols[0]!, symbols.at(-1)!]) {
      const bars = db.getBars(symbol);
      expect(bars.map((bar) => bar.timestamp)).toEqual([...history, ...live]);
      expect(db.completeness(symbol).days.map((day) => day.present)).toEqual([100, 240, 240]);
    }
    expect(db.calendars.of("000001.SZ")).toBe("XSHE");
    expect(db.calendars.of("600000.SH")).toBe("XSHG");
  } finally {
    db.close();
    dir.cleanup();
  }
});

test("a live day shorter than a session when the size is under 240 minutes a symbol", () => {
  expect(scaleTimeline(200)).toMatchObject({ history: new Float64Array(0), days: [expect.any(String)] });
  expect(scaleTimeline(200).live.length).toBe(200);
});

test("a figure is named as growing when it more than doubles between sizes, a rate when it halves", () => {
  const result = (label: string, overviewMs: number, liveBarsPerSecond: number) => ({ label, overviewMs, liveBarsPerSecond }) as unknown as ScaleResult;
  const named = growingCosts([result("1M", 10, 20_000), result("10M", 100, 9_000)]);
  expect(named.some((line) => line.startsWith("overview() (ms) x10.0"))).toBe(true);
  expect(named.some((line) => line.startsWith("live-order insert, median minute (bars/s) x2.2"))).toBe(true);
});

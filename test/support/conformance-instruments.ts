/**
 * Instruments, their status history, the calendar a symbol follows through its instrument, and
 * the normalizeSymbols setting: the same on every backend (run by storeConformance).
 */
import { expect, test } from "bun:test";
import { NotFoundError, ValidationError, type Store } from "../../src/mod.ts";
import { randomBars } from "./bars.ts";

type Fresh = (options?: { calendar?: string | null }) => Promise<Store>;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

const MOUTAI = { symbol: "600519.SH", name: "贵州茅台", listedDate: "20010827" };

export function instrumentConformance(fresh: Fresh): void {
  test("instruments: put fills in exchange, board, lot, tick, limit and calendar from the code; get, has and list read them back", async () => {
    const store = await fresh();
    const stored = await store.instruments.put([
      MOUTAI,
      { symbol: "300750.SZ", name: "宁德时代" },
      { symbol: "688981.SH", name: "中芯国际" },
      { symbol: "430047.BJ", name: "诺思兰德" },
      { symbol: "510300.SH", name: "沪深300ETF" },
      { symbol: "AAPL", exchange: "XNAS", lotSize: 1, tickSize: 0.01 },
    ]);
    expect(stored.map((each) => each.symbol)).toEqual(["600519.SH", "300750.SZ", "688981.SH", "430047.BJ", "510300.SH", "AAPL"]);
    expect(await store.instruments.get("600519.SH")).toEqual({
      symbol: "600519.SH",
      exchange: "SH",
      calendar: "XSHG",
      name: "贵州茅台",
      board: "main",
      lotSize: 100,
      lotStep: 100,
      tickSize: 0.01,
      priceLimitPct: 10,
      listedDate: "2001-08-27",
      delistedDate: null,
    });
    const rules = (await store.instruments.list()).map((each) => [each.symbol, each.exchange, each.board, each.lotSize, each.lotStep, each.tickSize, each.priceLimitPct, each.calendar]);
    expect(rules).toEqual([
      ["300750.SZ", "SZ", "chinext", 100, 100, 0.01, 20, "XSHE"],
      ["430047.BJ", "BJ", "bse", 100, 1, 0.01, 30, "XSHG"],
      ["510300.SH", "SH", "fund", 100, 100, 0.001, 10, "XSHG"],
      ["600519.SH", "SH", "main", 100, 100, 0.01, 10, "XSHG"],
      ["688981.SH", "SH", "star", 200, 1, 0.01, 20, "XSHG"],
      ["AAPL", "XNAS", null, 1, null, 0.01, null, null],
    ]);
    expect(await store.instruments.has("600519.SH")).toBe(true);
    expect(await store.instruments.has("600000.SH")).toBe(false);
    expect(await store.instruments.get("600000.SH")).toBeNull();
    expect((await store.instruments.list({ exchange: "SH" })).map((each) => each.symbol)).toEqual(["510300.SH", "600519.SH", "688981.SH"]);
    expect((await store.instruments.list({ board: "star" })).map((each) => each.symbol)).toEqual(["688981.SH"]);
    // One audit entry per call, whatever its size.
    const entries = await store.audit.query({ action: "instruments.put" });
    expect(entries.map((entry) => entry.details)).toEqual([{ rows: 6, first: "600519.SH", last: "AAPL" }]);
  });

  test("instruments: put upserts whole rows; a bad row refuses the whole call naming row and field, and writes nothing", async () => {
    const store = await fresh();
    await store.instruments.put([MOUTAI]);
    await store.instruments.put([{ symbol: "600519.SH", name: "贵州茅台", delistedDate: "2030-01-02", priceLimitPct: 5 }]);
    expect(await store.instruments.get("600519.SH")).toMatchObject({ listedDate: null, delistedDate: "2030-01-02", priceLimitPct: 5, lotSize: 100 });
    const error = await rejection(
      store.instruments.put([
        { symbol: "000002.SZ", name: "万科A" },
        { symbol: "600000.SH", board: "big" as never },
        { symbol: "600036.SH", lotSize: -100, listedDate: "2002-02-30" },
        { symbol: "600036.SZ" },
        { symbol: "ES=F" },
        { symbol: "000002.SZ", colour: "red" } as never,
      ]),
    );
    expect(error).toBeInstanceOf(ValidationError);
    const issues = (error as ValidationError).issues.map((issue) => `${issue.row}:${issue.field}`);
    expect(issues).toEqual(["1:board", "2:lotSize", "2:listedDate", "3:symbol", "4:exchange", "5:colour", "5:symbol"]);
    expect(await store.instruments.has("000002.SZ")).toBe(false);
    const calendar = await rejection(store.instruments.put([{ symbol: "000002.SZ", calendar: "NOPE" }]));
    expect(calendar).toBeInstanceOf(ValidationError);
    expect(String((calendar as Error).message)).toContain("NOPE");
    expect(await store.instruments.has("000002.SZ")).toBe(false);
    expect((await store.audit.query({ action: "instruments.put" })).length).toBe(2);
  });

  test("instruments: a status history by effective date; list filters on the status in force at asOf", async () => {
    const store = await fresh();
    await store.instruments.put([MOUTAI, { symbol: "600145.SH", name: "退市新亿" }, { symbol: "000004.SZ" }]);
    expect(await store.instruments.statusHistory("600145.SH")).toEqual([]);
    const history = await store.instruments.setStatus("600145.SH", [
      { date: "2021-05-06", status: "*ST" },
      { date: "2019-04-30", status: "ST" },
    ]);
    expect(history).toEqual([
      { date: "2019-04-30", status: "ST" },
      { date: "2021-05-06", status: "*ST" },
    ]);
    await store.instruments.setStatus("600145.SH", [{ date: "20220615", status: "delisted" }]);
    await store.instruments.setStatus("000004.SZ", [{ date: "2020-01-02", status: "suspended" }, { date: "2020-02-03", status: "normal" }]);
    expect(await store.instruments.statusHistory("600145.SH")).toHaveLength(3);
    const symbols = async (status: "normal" | "ST" | "*ST" | "suspended" | "delisted", asOf: string) => (await store.instruments.list({ status, asOf })).map((each) => each.symbol);
    expect(await symbols("ST", "2020-06-01")).toEqual(["600145.SH"]);
    expect(await symbols("*ST", "2021-05-06")).toEqual(["600145.SH"]);
    expect(await symbols("delisted", "2023-01-01")).toEqual(["600145.SH"]);
    expect(await symbols("normal", "2019-01-01")).toEqual(["000004.SZ", "600145.SH", "600519.SH"]);
    expect(await symbols("suspended", "2020-01-15")).toEqual(["000004.SZ"]);
    expect(await symbols("normal", "2020-02-03")).toEqual(["000004.SZ", "600519.SH"]);
    expect((await store.audit.query({ action: "instruments.status" })).map((entry) => entry.entity)).toEqual(["600145.SH", "600145.SH", "000004.SZ"]);
    expect(await rejection(store.instruments.setStatus("600000.SH", [{ date: "2020-01-02", status: "ST" }]))).toBeInstanceOf(NotFoundError);
    expect(await rejection(store.instruments.statusHistory("600000.SH"))).toBeInstanceOf(NotFoundError);
    const bad = await rejection(store.instruments.setStatus("600519.SH", [{ date: "2020-01-02", status: "PT" as never }]));
    expect((bad as ValidationError).issues).toEqual([expect.objectContaining({ row: 0, field: "status" })]);
    expect(await rejection(store.instruments.list({ board: "growth" as never }))).toBeInstanceOf(ValidationError);
    expect(await store.instruments.statusHistory("600519.SH")).toEqual([]);
  });

  test("calendars.of: the symbol's own assignment, else its instrument's calendar, else the database default", async () => {
    const store = await fresh({ calendar: "XSHE" });
    expect(await store.calendars.of("600519.SH")).toBe("XSHE");
    await store.instruments.put([MOUTAI, { symbol: "AAPL", exchange: "XNAS" }]);
    expect(await store.calendars.of("600519.SH")).toBe("XSHG");
    // An instrument without a calendar falls through to the default.
    expect(await store.calendars.of("AAPL")).toBe("XSHE");
    await store.calendars.assign("600519.SH", "XSHE");
    expect(await store.calendars.of("600519.SH")).toBe("XSHE");
    await store.calendars.assign("600519.SH", null);
    expect(await store.calendars.of("600519.SH")).toBe("XSHG");
    // Completeness follows it (a symbol with no bars reads an empty range).
    const start = Date.UTC(2024, 0, 2, 1, 31);
    await store.insertBars("600519.SH", randomBars(Array.from({ length: 5 }, (_, i) => start + i * 60_000), 3));
    await store.insertBars("AAPL", randomBars([start], 4));
    expect((await store.completeness("600519.SH")).calendar).toBe("XSHG");
    expect((await store.completeness("AAPL")).calendar).toBe("XSHE");
  });

  test("normalizeSymbols: off by default (symbols as given); on, every spelling is one key on write and read, audited, and a non-A-share symbol is refused", async () => {
    const store = await fresh();
    expect(store.normalizeSymbols).toBe(false);
    const bars = randomBars([Date.UTC(2024, 0, 2, 1, 31), Date.UTC(2024, 0, 2, 1, 32)], 7);
    await store.insertBars("sh600519", bars);
    expect(await store.getBars("600519.SH")).toEqual([]);
    expect((await store.overview()).map((each) => each.symbol)).toEqual(["sh600519"]);
    await store.insertBars("BTC/USDT", bars);

    const now = await store.updateSettings({ normalizeSymbols: true });
    expect(now.normalizeSymbols).toBe(true);
    expect(store.normalizeSymbols).toBe(true);
    const entries = await store.audit.query({ action: "settings.set" });
    expect(entries.map((entry) => [entry.entity, entry.details])).toEqual([["normalize_symbols", { from: false, to: true }]]);

    expect(await store.insertBars("600519.XSHG", bars)).toBe(2);
    expect(await store.getBars("sh.600519")).toEqual(bars);
    expect(await store.getBars("600519")).toEqual(bars);
    expect((await store.latestBar("SH600519"))?.timestamp).toBe(bars[1]!.timestamp);
    const iterated = [];
    for await (const bar of store.iterateBars("600519.sh")) iterated.push(bar);
    expect(iterated).toEqual(bars);
    expect((await store.overview()).map((each) => each.symbol).sort()).toEqual(["600519.SH", "BTC/USDT", "sh600519"]);
    await store.insertQuotes("sz000002", [{ timestamp: bars[0]!.timestamp, bid: 1, ask: 1.01 }]);
    expect(await store.getQuotes("000002.XSHE")).toHaveLength(1);
    await store.instruments.put([{ symbol: "sh600519", name: "贵州茅台" }]);
    expect((await store.instruments.get("600519.XSHG"))?.symbol).toBe("600519.SH");
    expect(await store.calendars.of("sh600519")).toBe("XSHG");

    for (const call of [store.insertBars("BTC/USDT", bars), store.getBars("000001"), store.latestBar("AAPL"), store.instruments.get("AAPL")]) {
      const error = await rejection(call);
      expect(error).toBeInstanceOf(ValidationError);
    }
    expect(String((await rejection(store.getBars("000001"))) as Error)).toContain("ambiguous");
    expect(await store.deleteBars("sh600519")).toBe(2);

    await store.updateSettings({ normalizeSymbols: false });
    expect(await store.getBars("BTC/USDT")).toHaveLength(2);
    expect(await store.getBars("sh600519")).toHaveLength(2);
  });
}

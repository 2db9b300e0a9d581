import { describe, expect, test } from "bun:test";
import { ValidationError } from "../../src/domain/errors.ts";
import { BOARD_DEFAULTS, boardOfSymbol, filterInstruments, priceLimitOn, readInstrumentQuery, statusOn, validateInstruments, validateStatusRows } from "../../src/domain/instrument.ts";

function issuesOf(work: () => unknown): string[] {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues.map((issue) => `${issue.row ?? ""}:${issue.field ?? ""}`);
  }
  throw new Error("accepted");
}

describe("boards and limits", () => {
  test("the board of an A-share code follows the exchanges' allocation; other symbols have none", () => {
    const boards = Object.fromEntries(
      ["600519.SH", "601398.SH", "603288.SH", "605499.SH", "688981.SH", "689009.SH", "000001.SH", "510300.SH", "588000.SH", "000001.SZ", "002594.SZ", "003816.SZ", "300750.SZ", "301269.SZ", "399001.SZ", "159915.SZ", "161725.SZ", "430047.BJ", "920002.BJ", "900901.SH", "113050.SH", "BTC/USDT", "sh600519"].map((symbol) => [symbol, boardOfSymbol(symbol)]),
    );
    expect(boards).toEqual({
      "600519.SH": "main", "601398.SH": "main", "603288.SH": "main", "605499.SH": "main", "688981.SH": "star", "689009.SH": "star",
      "000001.SH": "index", "510300.SH": "fund", "588000.SH": "fund", "000001.SZ": "main", "002594.SZ": "main", "003816.SZ": "main",
      "300750.SZ": "chinext", "301269.SZ": "chinext", "399001.SZ": "index", "159915.SZ": "fund", "161725.SZ": "fund", "430047.BJ": "bse",
      "920002.BJ": "bse", "900901.SH": null, "113050.SH": null, "BTC/USDT": null, sh600519: null,
    });
  });

  test("ST and *ST limit a main-board stock to 5%; ChiNext, STAR and BSE keep theirs; normal keeps the stored limit", () => {
    expect(priceLimitOn({ board: "main", priceLimitPct: 10 }, "ST")).toBe(5);
    expect(priceLimitOn({ board: "main", priceLimitPct: 10 }, "*ST")).toBe(5);
    expect(priceLimitOn({ board: "main", priceLimitPct: 10 }, "normal")).toBe(10);
    expect(priceLimitOn({ board: "chinext", priceLimitPct: 20 }, "*ST")).toBe(20);
    expect(priceLimitOn({ board: "star", priceLimitPct: 20 }, "ST")).toBe(20);
    expect(priceLimitOn({ board: "bse", priceLimitPct: 30 }, "ST")).toBe(30);
    expect(BOARD_DEFAULTS.star).toEqual({ lotSize: 200, lotStep: 1, tickSize: 0.01, priceLimitPct: 20 });
  });
});

describe("validateInstruments", () => {
  test("an explicit field wins over the board's default; an explicit null board takes no defaults", () => {
    const [given, none] = validateInstruments([{ symbol: "600519.SH", tickSize: 0.001, priceLimitPct: 5 }, { symbol: "600000.SH", board: null }], false);
    expect(given).toMatchObject({ board: "main", lotSize: 100, tickSize: 0.001, priceLimitPct: 5 });
    expect(none).toMatchObject({ board: null, lotSize: null, tickSize: null, priceLimitPct: null, exchange: "SH", calendar: "XSHG" });
  });

  test("with normalization, every spelling is the normalized key; two spellings of one code in one call are refused", () => {
    expect(validateInstruments([{ symbol: "sh.600519" }], true)[0]!.symbol).toBe("600519.SH");
    expect(issuesOf(() => validateInstruments([{ symbol: "sh600519" }, { symbol: "600519.XSHG" }], true))).toEqual(["1:symbol"]);
    expect(issuesOf(() => validateInstruments([{ symbol: "AAPL", exchange: "XNAS" }], true))).toEqual(["0:symbol"]);
  });

  test("every bad field is named with its row: not an array, a non-object, lots that are not whole, a limit over 100, delisting before listing, a lower-case exchange", () => {
    expect(issuesOf(() => validateInstruments({ symbol: "600519.SH" }, false))).toEqual([":"]);
    expect(
      issuesOf(() =>
        validateInstruments(
          [
            "600519.SH",
            { symbol: "600519.SH", lotSize: 100.5, lotStep: 0 },
            { symbol: "600036.SH", priceLimitPct: 120 },
            { symbol: "601398.SH", listedDate: "2006-10-27", delistedDate: "2006-10-26" },
            { symbol: "AAPL", exchange: "xnas" },
            { symbol: "601988.SH", name: "" },
          ],
          false,
        ),
      ),
    ).toEqual(["0:", "1:lotSize", "1:lotStep", "2:priceLimitPct", "3:delistedDate", "4:exchange", "5:name"]);
  });
});

describe("status history", () => {
  test("the status on a date is the latest row at or before it, normal before the first", () => {
    const history = validateStatusRows([
      { date: "2019-04-30", status: "ST" },
      { date: "20210506", status: "*ST" },
    ]);
    expect(history[1]!.date).toBe("2021-05-06");
    expect(statusOn(history, "2019-04-29")).toBe("normal");
    expect(statusOn(history, "2019-04-30")).toBe("ST");
    expect(statusOn(history, "2021-05-05")).toBe("ST");
    expect(statusOn(history, "2030-01-01")).toBe("*ST");
    expect(issuesOf(() => validateStatusRows([{ date: "2020-01-02", status: "ST" }, { date: "20200102", status: "normal" }, { date: "2020-02-30", status: "x" }]))).toEqual(["1:date", "2:date", "2:status"]);
  });

  test("list's query: unknown filters and bad values are refused naming the field; asOf defaults to today", () => {
    expect(readInstrumentQuery(undefined).asOf).toBe(new Date().toISOString().slice(0, 10));
    expect(issuesOf(() => readInstrumentQuery({ market: "SH", board: "x", status: "PT", asOf: "2024-13-01", exchange: "sh" }))).toEqual([":market", ":exchange", ":board", ":status", ":asOf"]);
    const stored = validateInstruments([{ symbol: "600519.SH" }, { symbol: "300750.SZ" }], false);
    const query = readInstrumentQuery({ status: "ST", asOf: "2020-06-01" });
    expect(filterInstruments(stored, [{ symbol: "300750.SZ", date: "2020-01-02", status: "ST" }], query).map((each) => each.symbol)).toEqual(["300750.SZ"]);
  });
});

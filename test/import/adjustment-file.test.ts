/**
 * Adjustment files (src/import/adjustment-file.ts): the real TDX ex-rights events of 600036 read
 * into the corporate actions the domain computes factors from, Tushare's adj_factor columns of
 * the real stk_factor file, Tushare's dividend layout, tradelite's own layouts, and every way a
 * file can be wrong.
 */
import { describe, expect, test } from "bun:test";
import Papa from "papaparse";
import { factorsFromActions, validateActions } from "../../src/domain/corporate-action.ts";
import { readAdjustmentFile } from "../../src/import/adjustment-file.ts";
import { issuesOf } from "../support/domain-fixtures.ts";

const FIXTURES = new URL("../fixtures/adjustments/", import.meta.url).pathname;
const bytes = (text: string) => new TextEncoder().encode(text);

describe("TDX ex-rights events (real file)", () => {
  test("every event of 600036 becomes an action per share, in file order, that the domain accepts", async () => {
    const text = await Bun.file(FIXTURES + "600036-tdx-gbbq-xdxr-events-1990-2020.csv").text();
    const file = readAdjustmentFile(bytes(text));
    expect(file.kind).toBe("actions");
    expect(file.layout).toBe("tdx-xdxr");
    expect([...file.actions.keys()]).toEqual(["600036.SH"]);
    const actions = file.actions.get("600036.SH")!;
    const rows = Papa.parse<Record<string, string>>(text, { header: true, skipEmptyLines: true }).data;
    expect(actions.length).toBe(rows.length);
    rows.forEach((row, i) => {
      const action = actions[i]!;
      expect(action.date.replaceAll("-", "")).toBe(row.date!);
      expect(action.cash ?? 0).toBeCloseTo(Number(row.cash_per10) / 10, 12);
      expect(action.bonus ?? 0).toBeCloseTo(Number(row.bonus_transfer_per10) / 10, 12);
      expect(action.rights ?? 0).toBeCloseTo(Number(row.rights_per10) / 10, 12);
      expect(action.rightsPrice ?? 0).toBe(Number(row.rights_price));
    });
    // The 2010 rights issue: 1.3 per 10 at 8.85.
    expect(actions.find((action) => action.date === "2010-03-15")).toEqual({ date: "2010-03-15", rights: 0.13, rightsPrice: 8.85 });
    expect(validateActions(actions)).toHaveLength(actions.length);
    // And the domain computes a factor for each from previous closes.
    expect(factorsFromActions(actions, () => 10)).toHaveLength(actions.length);
  });

  test("share changes (other categories) are skipped and counted; an unknown market is refused", () => {
    const header = "market,code,date,category,cash_per10,rights_price,bonus_transfer_per10,rights_per10\n";
    const file = readAdjustmentFile(bytes(`${header}0,000001,20240614,1,7.19,0,0,0\n0,000001,20240101,5,0,0,0,0\n`));
    expect(file.actions.get("000001.SZ")).toEqual([{ date: "2024-06-14", cash: 0.719 }]);
    expect(file.skipped).toEqual([{ line: 3, reason: "category 5 is a share change, not an ex-rights event (category 1)" }]);
    expect(issuesOf(() => readAdjustmentFile(bytes(`${header}7,000001,20240614,1,7.19,0,0,0\n`)))).toEqual([
      { row: 2, field: "market", message: 'expected 0 (SZ), 1 (SH) or 2 (BJ), got "7"' },
    ]);
  });
});

describe("Tushare", () => {
  test("adj_factor columns of the real stk_factor file: one factor per trading day, symbol from ts_code", async () => {
    const real = Papa.parse<Record<string, string>>(await Bun.file(FIXTURES + "600036.SH-tushare-stk_factor-2023-2025.csv").text(), { header: true, skipEmptyLines: true }).data;
    const csv = ["ts_code,trade_date,adj_factor", ...real.map((row) => `${row.indiv_techin_ts_code},${row.indiv_techin_trade_date},${row.indiv_techin_adj_factor}`)].join("\r\n");
    const file = readAdjustmentFile(bytes(csv));
    expect(file.layout).toBe("tushare-adj_factor");
    const factors = file.factors.get("600036.SH")!;
    expect(factors).toHaveLength(real.length);
    expect(factors[0]).toEqual({ date: "2025-10-23", factor: 6.3201 });
    expect(factors.some((row) => row.factor === 5.7142)).toBe(true);
  });

  test("dividend: carried-out rows only, per share before tax; plans are skipped with their stage", () => {
    const csv = [
      "ts_code,end_date,ann_date,div_proc,stk_div,stk_bo_rate,stk_co_rate,cash_div,cash_div_tax,record_date,ex_date,pay_date",
      "600036.SH,20231231,20240711,实施,0,,,1.7319,1.972,20240710,20240711,20240711",
      "600036.SH,20231231,20240328,预案,0,,,0,1.972,,,",
      "600036.SH,20091231,20100701,实施,0.3,,,0.21,0.21,20100630,20100701,20100701",
    ].join("\n");
    const file = readAdjustmentFile(bytes(csv));
    expect(file.layout).toBe("tushare-dividend");
    expect(file.actions.get("600036.SH")).toEqual([
      { date: "2024-07-11", cash: 1.972 },
      { date: "2010-07-01", cash: 0.21, bonus: 0.3 },
    ]);
    expect(file.skipped).toEqual([{ line: 3, reason: "div_proc 预案: a plan, not carried out (实施)" }]);
    expect(file.ignored).toContain("cash_div");
  });

  test("a GBK export is read as GBK: told, or detected when its bytes are not UTF-8", () => {
    const header = bytes("ts_code,ex_date,cash_div_tax,stk_div,div_proc\n");
    // 实施 in GBK is CA B5 CA A9, which is also valid UTF-8 (ʵʩ); 预案 is D4 A4 B0 B8, which is not.
    const carriedOut = [...bytes("600036.SH,20240711,1.972,0,"), 0xca, 0xb5, 0xca, 0xa9, 0x0a];
    const plan = [...bytes("600036.SH,20250711,2.0,0,"), 0xd4, 0xa4, 0xb0, 0xb8, 0x0a];
    const detected = readAdjustmentFile(new Uint8Array([...header, ...carriedOut, ...plan]));
    expect(detected.encoding).toBe("gbk");
    expect(detected.actions.get("600036.SH")).toEqual([{ date: "2024-07-11", cash: 1.972 }]);
    expect(detected.skipped).toHaveLength(1);
    const only = new Uint8Array([...header, ...carriedOut]);
    expect(issuesOf(() => readAdjustmentFile(only))).toEqual([
      { row: 2, field: "div_proc", message: expect.stringContaining("a GBK file read as UTF-8? give the encoding (--encoding gbk)") },
    ]);
    expect(readAdjustmentFile(only, { encoding: "gbk" }).actions.get("600036.SH")).toEqual([{ date: "2024-07-11", cash: 1.972 }]);
    expect(issuesOf(() => readAdjustmentFile(new Uint8Array([...header, 0xff, 0x0a]), { encoding: "utf-8" }))[0]!.message).toBe("the file is not UTF-8 text");
  });
});

describe("tradelite's own layouts", () => {
  test("factors with known_at and source, and a file without a symbol column takes the caller's", () => {
    const file = readAdjustmentFile(bytes("date,factor,known_at,source\n2024-07-11,1.05,2024-07-10T18:00:00+08:00,manual\n20250711,1.1,,\n"), { symbol: "600036.SH" });
    expect(file.factors.get("600036.SH")).toEqual([
      { date: "2024-07-11", factor: 1.05, knownAt: "2024-07-10T18:00:00+08:00", source: "manual" },
      { date: "2025-07-11", factor: 1.1 },
    ]);
  });

  test("actions per share, empty amounts are 0; symbols from the column", () => {
    const file = readAdjustmentFile(bytes("symbol,date,cash,bonus,rights,rights_price\nA,2024-01-02,0.5,,,\nB,2024-01-03,,0.2,0.1,5\n"));
    expect(file.actions.get("A")).toEqual([{ date: "2024-01-02", cash: 0.5 }]);
    expect(file.actions.get("B")).toEqual([{ date: "2024-01-03", bonus: 0.2, rights: 0.1, rightsPrice: 5 }]);
  });
});

describe("bad files", () => {
  test("a header no layout reads names every layout", () => {
    const [issue] = issuesOf(() => readAdjustmentFile(bytes("day,value\n2024-01-02,1\n")));
    expect(issue!.field).toBe("header");
    expect(issue!.message).toContain("tushare-adj_factor (ts_code, trade_date, adj_factor)");
    expect(issue!.message).toContain("tdx-xdxr");
  });

  test("every bad row is named with its line and column, and nothing is returned", () => {
    const issues = issuesOf(() => readAdjustmentFile(bytes("ts_code,trade_date,adj_factor\n600036.SH,2024-13-45x,1\n600036.SH,20240102,abc\n600036.SH,20240103\n")));
    expect(issues).toEqual([
      { row: 2, field: "trade_date", message: 'expected a date (YYYY-MM-DD or YYYYMMDD), got "2024-13-45x"' },
      { row: 3, field: "adj_factor", message: 'expected a number, got "abc"' },
      { row: 4, field: "file", message: "expected 3 fields, got 2" },
    ]);
  });

  test("no symbol anywhere, or a row naming another symbol than the import's, is refused", () => {
    expect(issuesOf(() => readAdjustmentFile(bytes("date,factor\n2024-01-02,1\n")))[0]!.message).toContain("--symbol");
    expect(issuesOf(() => readAdjustmentFile(bytes("ts_code,trade_date,adj_factor\n000001.SZ,20240102,1\n"), { symbol: "600036.SH" }))[0]!.message).toBe(
      "the row is 000001.SZ, the import is for 600036.SH",
    );
  });

  test("empty, non-text and broken CSV files", () => {
    expect(issuesOf(() => readAdjustmentFile(bytes("")))[0]!.message).toContain("empty");
    expect(issuesOf(() => readAdjustmentFile(new Uint8Array([0xff, 0xfe, 0xfd, 0x80, 0x00])))[0]!.message).toContain("neither UTF-8 nor GBK");
    expect(issuesOf(() => readAdjustmentFile(bytes('date,factor\n"2024-01-02,1\n')))[0]!.message).toContain("not CSV");
  });
});

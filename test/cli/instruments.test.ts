/**
 * `tradelite instruments` as users run it, in its own process over a real SQLite file, on the
 * listing files in test/fixtures/instruments (Tushare stock_basic, AKShare listings, one GBK).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openDatabase, type Instrument } from "../../src/mod.ts";
import { cli } from "../support/cli.ts";
import { PROJECT_ROOT } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-cli-instruments-");
afterAll(() => dir.cleanup());
const fixture = (name: string) => join(PROJECT_ROOT, "test/fixtures/instruments", name);
let files = 0;

async function run(args: string[], db: string) {
  return cli([...args, "--db", db]);
}

describe("tradelite instruments", () => {
  test("import reads a Tushare stock_basic file: codes, names, boards, listing dates, a delisting; list prints and filters them", async () => {
    const db = dir.file(`tushare-${++files}.db`);
    const imported = await run(["instruments", "import", fixture("tushare-stock_basic.csv"), "--json"], db);
    expect(imported.stderr).toBe("");
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ vendor: "tushare", encoding: "utf-8", instruments: 8, delisted: 1 });

    const list = await run(["instruments", "list", "--json"], db);
    const stored = JSON.parse(list.stdout) as Instrument[];
    expect(stored.map((each) => each.symbol)).toEqual(["000001.SZ", "000002.SZ", "300750.SZ", "430047.BJ", "600087.SH", "600519.SH", "688981.SH", "689009.SH"]);
    const bySymbol = Object.fromEntries(stored.map((each) => [each.symbol, each]));
    expect(bySymbol["600519.SH"]).toMatchObject({ name: "贵州茅台", board: "main", exchange: "SH", calendar: "XSHG", listedDate: "2001-08-27", lotSize: 100, priceLimitPct: 10 });
    expect(bySymbol["300750.SZ"]).toMatchObject({ board: "chinext", calendar: "XSHE", priceLimitPct: 20 });
    expect(bySymbol["688981.SH"]).toMatchObject({ board: "star", lotSize: 200, lotStep: 1 });
    // A CDR's market names no board: the code (689) gives STAR.
    expect(bySymbol["689009.SH"]!.board).toBe("star");
    expect(bySymbol["430047.BJ"]).toMatchObject({ board: "bse", priceLimitPct: 30 });
    expect(bySymbol["600087.SH"]).toMatchObject({ delistedDate: "2014-06-05" });

    const star = await run(["instruments", "list", "--board", "star"], db);
    expect(star.stdout.trim().split("\n").map((line) => line.split(/\s+/)[0])).toEqual(["688981.SH", "689009.SH"]);
    const delisted = await run(["instruments", "list", "--status", "delisted", "--as-of", "2015-01-01", "--json"], db);
    expect((JSON.parse(delisted.stdout) as Instrument[]).map((each) => each.symbol)).toEqual(["600087.SH"]);
    expect(JSON.parse((await run(["instruments", "list", "--status", "delisted", "--as-of", "2014-06-04", "--json"], db)).stdout)).toEqual([]);

    const opened = openDatabase({ path: db, readonly: true });
    try {
      expect(opened.audit.query({ action: "instruments.put" }).map((entry) => entry.details)).toEqual([{ rows: 8, first: "000001.SZ", last: "430047.BJ" }]);
      expect(opened.calendars.of("600519.SH")).toBe("XSHG");
    } finally {
      opened.close();
    }
  });

  test("AKShare listings: bare codes (000001 as a Shenzhen stock, 920 on BJ), a GBK file with 板块; a later code-and-name list keeps the stored dates", async () => {
    const db = dir.file(`akshare-${++files}.db`);
    const gbk = await run(["instruments", "import", fixture("akshare-stock_info_sz_name_code-gbk.csv"), "--json"], db);
    expect(gbk.code).toBe(0);
    expect(JSON.parse(gbk.stdout)).toMatchObject({ vendor: "akshare", encoding: "gbk", instruments: 3 });
    const plain = await run(["instruments", "import", fixture("akshare-stock_info_a_code_name.csv")], db);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain("6 instruments stored (akshare, utf-8)");
    const stored = Object.fromEntries((JSON.parse((await run(["instruments", "list", "--json"], db)).stdout) as Instrument[]).map((each) => [each.symbol, each]));
    expect(Object.keys(stored)).toEqual(["000001.SZ", "000002.SZ", "300750.SZ", "600519.SH", "688981.SH", "920002.BJ"]);
    expect(stored["000001.SZ"]).toMatchObject({ name: "平安银行", listedDate: "1991-04-03", board: "main" });
    expect(stored["300750.SZ"]).toMatchObject({ board: "chinext", listedDate: "2018-06-11" });
    expect(stored["920002.BJ"]).toMatchObject({ board: "bse", exchange: "BJ", listedDate: null });
  });

  test("a bad row stops the import naming its line and field, and nothing is stored; usage errors exit 2", async () => {
    const db = dir.file(`bad-${++files}.db`);
    const bad = await run(["instruments", "import", fixture("tushare-stock_basic-bad.csv")], db);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("line 3: ts_code");
    expect(bad.stderr).toContain("60036.SH");
    // A row the file reads but the store refuses is named by its line too.
    const month = dir.file("month.csv");
    await Bun.write(month, "ts_code,name,list_date\n600519.SH,贵州茅台,20010827\n601398.SH,工商银行,20061327\n");
    const refused = await run(["instruments", "import", month], db);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("nothing stored");
    expect(refused.stderr).toContain("line 3: listedDate");
    const empty = await run(["instruments", "list", "--json"], db);
    expect(JSON.parse(empty.stdout)).toEqual([]);
    const header = dir.file("header.csv");
    await Bun.write(header, "symbol_code,title\n600519,贵州茅台\n");
    expect((await run(["instruments", "import", header], db)).stderr).toContain("no code column");
    expect((await run(["instruments", "list", "--board", "growth"], db)).code).toBe(2);
    expect((await run(["instruments", "import"], db)).code).toBe(2);
    expect((await run(["instruments", "import", month, "--board", "main"], db)).code).toBe(2);
    expect((await run(["instruments"], db)).code).toBe(2);
  });
});

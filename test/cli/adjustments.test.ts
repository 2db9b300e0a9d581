/**
 * `tradelite adjustments` and `export --adjust` as users run them, in their own processes over a
 * real SQLite file: the real TDX ex-rights events of 600036 imported over baostock's real raw
 * daily bars, and the forward-adjusted export equal to baostock's own qfq series; Tushare factor
 * files; unknown symbols; a bad file that writes nothing.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { openDatabase } from "../../src/mod.ts";
import { PROJECT_ROOT, serverEnv } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";
import { readBaostockQfq, readBaostockRaw, SHANGHAI } from "../support/real-data-adjustments.ts";

const dir = tempDir("tradelite-cli-adjustments-");
afterAll(() => dir.cleanup());
const TDX_EVENTS = new URL("../fixtures/adjustments/600036-tdx-gbbq-xdxr-events-1990-2020.csv", import.meta.url).pathname;

async function cli(args: string[], db: string) {
  const child = Bun.spawn(["bun", "scripts/tradelite.ts", ...args], { cwd: PROJECT_ROOT, env: serverEnv({ TRADELITE_DB: db }), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

/** A database holding baostock's raw daily bars of 600036 (2005-2021) as its stored daily series. */
async function seeded(name: string): Promise<string> {
  const path = dir.file(name);
  const db = openDatabase({ path, timezone: SHANGHAI, barTimestamp: "start" });
  db.insertBars("600036.SH", await readBaostockRaw(), { interval: "1d" });
  db.close();
  return path;
}

describe("tradelite adjustments", () => {
  test("the real TDX events over baostock's raw bars: export --adjust qfq as of baostock's fetch is baostock's qfq", async () => {
    const db = await seeded("tdx.db");
    // The events go back to 2003, the raw bars to 2005: the first two have no previous close.
    const refused = await cli(["adjustments", "import", TDX_EVENTS], db);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("no previous close before ex-date 2003-07-16");
    expect(JSON.parse((await cli(["adjustments", "list", "600036.SH", "--actions", "--json"], db)).stdout)).toEqual([]);
    const imported = await cli(["adjustments", "import", TDX_EVENTS, "--from", "2005-01-01", "--json"], db);
    expect(imported.stderr).toBe("");
    expect(imported.code).toBe(0);
    const summary = JSON.parse(imported.stdout);
    expect(summary.layout).toBe("tdx-xdxr");
    expect(summary.symbols).toEqual([{ symbol: "600036.SH", rows: 20, factors: 20 }]);
    expect(summary.skipped).toEqual([{ line: 0, reason: "600036.SH: 2 rows before --from 2005-01-01" }]);
    const factors = JSON.parse((await cli(["adjustments", "list", "600036.SH", "--json"], db)).stdout);
    expect(factors.length).toBe(summary.symbols[0].factors);
    expect(JSON.parse((await cli(["adjustments", "list", "600036.SH", "--actions", "--json"], db)).stdout)).toHaveLength(20);

    const exported = await cli(["export", "600036.SH", "--interval", "1d", "--adjust", "qfq", "--as-of", "2020-08-24", "--format", "ndjson", "--start", "2010-01-01", "--end", "2020-08-21"], db);
    expect(exported.stderr).toContain("exported 2,586 bars of 600036.SH");
    expect(exported.code).toBe(0);
    const vendor = await readBaostockQfq();
    const bars = exported.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(bars.length).toBeGreaterThan(2_500);
    let worst = 0;
    for (const bar of bars) {
      const date = new Date(bar.timestamp + 8 * 3_600_000).toISOString().slice(0, 10);
      const theirs = vendor.get(date);
      if (!theirs) continue;
      worst = Math.max(worst, Math.abs(bar.close - theirs.close) / theirs.close);
    }
    // baostock rounds its ratio to 6 decimals: within that of the exact qfq.
    expect(worst).toBeLessThan(1e-6);
  });

  test("a Tushare adj_factor file: hfq export is raw x factor; re-importing it writes nothing new", async () => {
    const db = await seeded("tushare.db");
    const file = dir.file("adj_factor.csv");
    writeFileSync(file, "ts_code,trade_date,adj_factor\n600036.SH,20200709,1.0\n600036.SH,20200710,1.25\n");
    const first = await cli(["adjustments", "import", file, "--json"], db);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).symbols).toEqual([{ symbol: "600036.SH", rows: 2 }]);
    expect(JSON.parse((await cli(["adjustments", "import", file, "--json"], db)).stdout).symbols).toEqual([{ symbol: "600036.SH", rows: 0 }]);
    const raw = await cli(["export", "600036.SH", "--interval", "1d", "--format", "ndjson", "--start", "2020-07-09", "--end", "2020-07-10"], db);
    const hfq = await cli(["export", "600036.SH", "--interval", "1d", "--adjust", "hfq", "--format", "ndjson", "--start", "2020-07-09", "--end", "2020-07-10"], db);
    const [raw9, raw10] = raw.stdout.trim().split("\n").map((line) => JSON.parse(line));
    const [hfq9, hfq10] = hfq.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(hfq9.close).toBeCloseTo(raw9.close * 1.0, 10);
    expect(hfq10.close).toBeCloseTo(raw10.close * 1.25, 10);
    expect(hfq10.volume).toBe(raw10.volume);
  });

  test("a symbol the database does not know is refused unless --create-instruments; then it is an instrument", async () => {
    const db = await seeded("unknown.db");
    const file = dir.file("unknown.csv");
    writeFileSync(file, "ts_code,trade_date,adj_factor\n000001.SZ,20200709,1.0\n");
    const refused = await cli(["adjustments", "import", file], db);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("unknown symbols (no instrument, no stored bars): 000001.SZ");
    expect(JSON.parse((await cli(["adjustments", "list", "000001.SZ", "--json"], db)).stdout)).toEqual([]);
    const created = await cli(["adjustments", "import", file, "--create-instruments", "--json"], db);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout).createdInstruments).toEqual(["000001.SZ"]);
    expect(JSON.parse((await cli(["adjustments", "list", "000001.SZ", "--json"], db)).stdout)).toHaveLength(1);
    const instruments = JSON.parse((await cli(["instruments", "list", "--json"], db)).stdout) as { symbol: string; exchange: string }[];
    expect(instruments.find((row) => row.symbol === "000001.SZ")?.exchange).toBe("SZ");
  });

  test("a file with a bad row in its second symbol writes nothing for the first either", async () => {
    const db = await seeded("bad.db");
    const file = dir.file("bad.csv");
    writeFileSync(file, "symbol,date,factor\n600036.SH,2020-07-10,1.2\n600000.SH,2020-07-10,-1\n");
    const refused = await cli(["adjustments", "import", file], db);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("600000.SH");
    expect(refused.stderr).toContain("factor");
    expect(JSON.parse((await cli(["adjustments", "list", "600036.SH", "--json"], db)).stdout)).toEqual([]);
  });

  test("an ex-date on a day the symbol's calendar has closed is stored, with a warning on stderr and in --json", async () => {
    const db = await seeded("closed.db");
    expect((await cli(["calendar", "assign", "600036.SH", "XSHG"], db)).code).toBe(0);
    const file = dir.file("saturday.csv");
    writeFileSync(file, "ts_code,trade_date,adj_factor\n600036.SH,20200710,1.0\n600036.SH,20200711,1.1\n");
    const run = await cli(["adjustments", "import", file, "--json"], db);
    expect(run.code).toBe(0);
    const warning = "600036.SH: 2020-07-11 is not a trading day of XSHG; stored as given (an ex-date is the first day traded at the new price)";
    expect(run.stderr).toBe(`warning: ${warning}\n`);
    expect(JSON.parse(run.stdout).warnings).toEqual([warning]);
    expect(JSON.parse((await cli(["adjustments", "list", "600036.SH", "--json"], db)).stdout)).toHaveLength(2);
  });

  test("usage mistakes are exit 2", async () => {
    const db = await seeded("usage.db");
    for (const args of [
      ["adjustments"],
      ["adjustments", "drop", "X"],
      ["adjustments", "import"],
      ["adjustments", "list", "600036.SH", "--known-at", "2020-01-01"],
      ["adjustments", "import", TDX_EVENTS, "--encoding", "latin1"],
      ["export", "600036.SH", "--adjust", "sideways"],
      ["export", "600036.SH", "--as-of", "2020-01-01"],
    ]) {
      const run = await cli(args, db);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
    }
  });
});

/**
 * `tradelite snapshot` as users run it: its own process over a real SQLite file in Asia/Shanghai,
 * its table, CSV and JSON checked against the store's getCrossSection.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openDatabase } from "../../src/mod.ts";
import { randomBars } from "../support/bars.ts";
import { cli } from "../support/cli.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-snapshot-cli-");
const env = { TRADELITE_DB: dir.file("trading.db") };
const OPEN = Date.parse("2024-07-11T09:31:00+08:00");
const CLOSE = Date.parse("2024-07-11T15:00:00+08:00");
const NEXT = Date.parse("2024-07-12T09:31:00+08:00");
const bars = { "600519.SH": randomBars([OPEN, CLOSE, NEXT], 1), "000001.SZ": randomBars([OPEN], 2) };

beforeAll(() => {
  const db = openDatabase({ path: env.TRADELITE_DB, timezone: "Asia/Shanghai", barTimestamp: "end" });
  for (const [symbol, rows] of Object.entries(bars)) db.insertBars(symbol, rows);
  db.insertBars("600519.SH", [{ timestamp: "2024-07-10", close: 10 }, { timestamp: "2024-07-11", close: 11 }], { interval: "1d" });
  db.close();
});
afterAll(() => dir.cleanup());

describe("tradelite snapshot", () => {
  test("--json is the store's cross-section; a date alone is the end of that day; missing symbols are listed, exit 0", async () => {
    const run = await cli(["snapshot", "--at", "2024-07-11", "--symbols", "600519.SH,NOPE,000001.SZ", "--json"], env);
    expect(run.code).toBe(0);
    const db = openDatabase({ path: env.TRADELITE_DB, readonly: true });
    try {
      const expected = db.getCrossSection({ at: "2024-07-11", symbols: ["600519.SH", "NOPE", "000001.SZ"] });
      expect(JSON.parse(run.stdout)).toEqual(expected);
      expect(expected.rows).toEqual([{ symbol: "000001.SZ", bar: bars["000001.SZ"][0]! }, { symbol: "600519.SH", bar: bars["600519.SH"][1]! }]);
      expect(expected.missing).toEqual(["NOPE"]);
    } finally {
      db.close();
    }
  });

  test("the table and the CSV print every symbol's bar in the stored zone (--utc in UTC); the CSV's missing symbols go to stderr", async () => {
    const table = await cli(["snapshot", "--at", "2024-07-11 10:00", "--symbols", "600519.SH,NOPE"], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("snapshot at 2024-07-11T10:00:00+08:00");
    expect(table.stdout).toMatch(/600519\.SH\s+2024-07-11T09:31:00\+08:00/);
    expect(table.stdout).toContain("no bar at or before then: NOPE");
    const csv = await cli(["snapshot", "--at", String(NEXT), "--csv"], env);
    expect(csv.code).toBe(0);
    const next = bars["600519.SH"][2]!;
    const first = bars["000001.SZ"][0]!;
    expect(csv.stdout).toBe(
      "symbol,timestamp,open,high,low,close,volume,amount\n" +
        `000001.SZ,2024-07-11T09:31:00+08:00,${first.open},${first.high},${first.low},${first.close},${first.volume},${first.amount}\n` +
        `600519.SH,2024-07-12T09:31:00+08:00,${next.open},${next.high},${next.low},${next.close},${next.volume},${next.amount}\n`,
    );
    const utc = await cli(["snapshot", "--at", String(NEXT), "--csv", "--utc", "--symbols", "600519.SH,NOPE"], env);
    expect(utc.stdout.split("\n")[1]).toStartWith("600519.SH,2024-07-12T01:31:00.000Z,");
    expect(utc.stderr).toContain("NOPE");
  });

  test("--adjust qfq --as-of is the store's adjusted cross-section; --as-of alone is a usage mistake", async () => {
    const writer = openDatabase({ path: env.TRADELITE_DB });
    writer.adjustments.insert("000001.SZ", [{ date: "2024-07-12", factor: 4 }]);
    writer.close();
    const run = await cli(["snapshot", "--at", "2024-07-11", "--adjust", "qfq", "--as-of", "2024-07-13", "--json"], env);
    expect(run.code).toBe(0);
    const db = openDatabase({ path: env.TRADELITE_DB, readonly: true });
    try {
      const expected = db.getCrossSection({ at: "2024-07-11", adjust: "qfq", asOf: "2024-07-13" });
      expect(JSON.parse(run.stdout)).toEqual(expected);
      expect(expected.rows.find((row) => row.symbol === "000001.SZ")!.bar.close).toBeCloseTo(bars["000001.SZ"][0]!.close! / 4, 10);
    } finally {
      db.close();
    }
    expect((await cli(["snapshot", "--at", "2024-07-11", "--as-of", "2024-07-13"], env)).code).toBe(2);
  });

  test("--interval 1d reads the stored days that have ended by WHEN", async () => {
    const run = await cli(["snapshot", "--at", "2024-07-11 14:00", "--interval", "1d", "--json"], env);
    expect(JSON.parse(run.stdout).rows.map((row: { bar: { close: number } }) => row.bar.close)).toEqual([10]);
  });

  test("usage mistakes are exit 2: no --at, an unreadable --at, a repeated symbol, an unknown interval", async () => {
    for (const args of [[], ["--at", "soon"], ["--at", "2024-07-11", "--symbols", "A,A"], ["--at", "2024-07-11", "--interval", "5m"], ["--at", "2024-07-11", "600519.SH"]]) {
      const run = await cli(["snapshot", ...args], env);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
    }
  });
});

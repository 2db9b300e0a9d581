/**
 * `tradelite import --interval 1d` and `tradelite daily-diff` as users run them, in their own
 * process over real files: the real TDX minute file, days derived from it with two changed, and
 * the real Tushare daily file.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { openDatabase } from "../../src/mod.ts";
import { PROJECT_ROOT, serverEnv } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";
import { realDataPath, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";
import { TUSHARE_DAILY } from "../support/real-data-tushare.ts";

const dir = tempDir("tradelite-daily-cli-");
afterAll(() => dir.cleanup());

async function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn(["bun", "scripts/tradelite.ts", ...args], { cwd: PROJECT_ROOT, env: serverEnv(env), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

describe("import --interval 1d and daily-diff", () => {
  const env = { TRADELITE_DB: dir.file("daily.db"), TRADELITE_TIMEZONE: "Asia/Shanghai" };

  test("a daily file beside the real minutes: daily-diff lists exactly the two dates changed and the date left out", async () => {
    expect((await cli(["import", realDataPath(TDX_INDEX_1MIN), "--symbol", "000001.SH"], env)).code).toBe(0);
    // The days the minutes make, written as a vendor's daily CSV (dates alone), two of them changed.
    const db = openDatabase({ path: env.TRADELITE_DB, timezone: "Asia/Shanghai" });
    const days = db.getBars("000001.SH", { interval: "1d" });
    db.close();
    const date = (timestamp: number) => new Date(timestamp + 8 * 3_600_000).toISOString().slice(0, 10);
    const lines = days.slice(0, -1).map((bar, i) => {
      const close = i === 10 ? bar.close! + 0.5 : bar.close;
      const volume = i === 40 ? bar.volume! * 1.02 : bar.volume;
      return `${date(bar.timestamp)},${bar.open},${bar.high},${bar.low},${close},${volume},${bar.amount}`;
    });
    const file = dir.file("000001.SH-daily.csv");
    writeFileSync(file, `date,open,high,low,close,volume,amount\n${lines.join("\n")}\n`);
    const imported = await cli(["import", file, "--symbol", "000001.SH", "--interval", "1d"], env);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain("99 daily bars written to 000001.SH");
    expect(imported.stdout).toMatch(/series\s+1d/);

    const json = await cli(["daily-diff", "000001.SH", "--json"], env);
    expect(json.code).toBe(0);
    const answer = JSON.parse(json.stdout) as { tolerance: number; differences: { date: string; present: string; fields: string[] }[] };
    expect(answer.tolerance).toBe(0.001);
    expect(answer.differences.map((d) => [d.date, d.present, d.fields])).toEqual([
      [date(days[10]!.timestamp), "both", ["close"]],
      [date(days[40]!.timestamp), "both", ["volume"]],
      [date(days[99]!.timestamp), "minutes", []],
    ]);
    // A wider tolerance forgives the 2% volume; a range of whole dates keeps the one inside.
    const loose = JSON.parse((await cli(["daily-diff", "000001.SH", "--json", "--tolerance", "0.05"], env)).stdout) as typeof answer;
    expect(loose.differences.map((d) => d.fields)).toEqual([["close"], []]);
    const inRange = JSON.parse((await cli(["daily-diff", "000001.SH", "--json", "--start", date(days[40]!.timestamp), "--end", date(days[40]!.timestamp)], env)).stdout) as typeof answer;
    expect(inRange.differences.map((d) => d.date)).toEqual([date(days[40]!.timestamp)]);
    const table = await cli(["daily-diff", "000001.SH"], env);
    expect(table.stdout).toContain(`${date(days[10]!.timestamp)}  close`);
    expect(table.stdout).toContain("only from minutes");
    expect(table.stdout).toContain("000001.SH: 3 dates differ");

    const overview = await cli(["overview"], env);
    // Times in the database's stored zone with the offset written out.
    expect(overview.stdout).toMatch(new RegExp(`000001\\.SH\\s+24,000\\s+2022-12-16T09:31:00\\+08:00\\s+\\S+\\s+99\\s+2022-12-16\\s+${date(days[98]!.timestamp)}`));
    expect(overview.stdout).toContain("24,000 bars, 99 daily bars");
  });

  test("the real Tushare daily file: its high-below-open row is a bad row by line, the rest are stored as days under its ts_code", async () => {
    const tushare = { ...env, TRADELITE_DB: dir.file("tushare.db") };
    // The file names its symbol in ts_code: --symbol is refused, and nothing is written.
    const named = await cli(["import", TUSHARE_DAILY, "--symbol", "X", "--interval", "1d", "--skip-bad"], tushare);
    expect(named.code).toBe(1);
    expect(named.stderr).toContain("leave out --symbol");
    const run = await cli(["import", TUSHARE_DAILY, "--interval", "1d", "--skip-bad"], tushare);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`${TUSHARE_DAILY}:6342: high: high 45.6 is below open 46.6`);
    expect(run.stdout).toContain("6,677 daily bars written to 1 symbol(s) (000001.SZ 6,677)");
    expect(run.stdout).toContain("read as tushare; utf-8; converted vol: lots (手) x 100 -> shares; amount: thousands of yuan (千元) x 1000 -> yuan");
    const db = openDatabase({ path: tushare.TRADELITE_DB, timezone: "Asia/Shanghai", readonly: true });
    try {
      expect(db.overview()).toEqual([{ symbol: "000001.SZ", count: 0, start: null, end: null, daily: { count: 6_677, start: Date.parse("1991-04-03T00:00:00+08:00"), end: Date.parse("2018-08-15T00:00:00+08:00") } }]);
    } finally {
      db.close();
    }
  });

  test("a minute file with --interval 1d stops at its first row, named by line; a date-only file needs no flag: it is the daily series", async () => {
    const mistaken = { ...env, TRADELITE_DB: dir.file("mistaken.db") };
    const run = await cli(["import", realDataPath(TDX_INDEX_1MIN), "--symbol", "X", "--interval", "1d"], mistaken);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${realDataPath(TDX_INDEX_1MIN)}:2: timestamp: a daily bar is stamped at the local midnight`);
    const file = dir.file("dates.csv");
    writeFileSync(file, "date,open,high,low,close\n2024-01-02,1,2,0.5,1.5\n");
    const plain = await cli(["import", file, "--symbol", "Y"], mistaken);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain("1 daily bars written to Y");
    expect(plain.stdout).toContain("every row is a date without a time: stored as the daily series");
    const db = openDatabase({ path: mistaken.TRADELITE_DB, readonly: true });
    try {
      expect(db.overview().find((row) => row.symbol === "Y")).toMatchObject({ count: 0, daily: { count: 1 } });
    } finally {
      db.close();
    }
    // The session cache holds minutes: a daily file through it is refused, nothing written.
    const cached = await cli(["import", file, "--symbol", "Z", "--cache"], mistaken);
    expect(cached.code).toBe(1);
    expect(cached.stderr).toContain("the session cache holds minutes");
  });

  test("usage mistakes exit 2: another --interval, --interval 1d with --cache, daily-diff without a symbol or with a bad tolerance", async () => {
    const file = dir.file("dates.csv");
    for (const args of [
      ["import", file, "--interval", "1h"],
      ["import", file, "--interval", "1d", "--cache"],
      ["daily-diff"],
      ["daily-diff", "X", "--tolerance", "a lot"],
      ["daily-diff", "X", "--align", "noon"],
    ]) {
      const run = await cli(args, env);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
    }
    expect((await cli(["--help"], env)).stdout).toContain("  daily-diff ");
  });
});

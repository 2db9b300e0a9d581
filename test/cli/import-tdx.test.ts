/**
 * `tradelite import` of TDX binary files and vipdoc folders, run as users run it: the CLI in its
 * own process, a SQLite file on disk, the real files of test/fixtures.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDatabase, type Bar } from "../../src/mod.ts";
import { cli } from "../support/cli.ts";
import { tempDir } from "../support/files.ts";
import { dayFile, minuteFile, readWithPython, REAL_TDX_BINARIES, sessionCloses } from "../support/tdx-binary.ts";

const dir = tempDir("tradelite-tdx-");
afterAll(() => dir.cleanup());

let databases = 0;
function freshEnv(): { TRADELITE_DB: string; TRADELITE_CACHE_DIR: string } {
  const n = ++databases;
  return { TRADELITE_DB: dir.file(`tdx-${n}.db`), TRADELITE_CACHE_DIR: dir.file(`tdx-${n}-cache`) };
}

function withDatabase<T>(path: string, read: (db: ReturnType<typeof openDatabase>) => T): T {
  const db = openDatabase({ path, readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** A vipdoc tree holding the three real files where TDX keeps them. */
function vipdoc(name: string): string {
  const root = dir.file(name);
  for (const [kind, folder] of [["day", "sz/lday"], ["lc1", "sh/minline"], ["lc5", "sh/fzline"]] as const) {
    mkdirSync(join(root, "vipdoc", folder), { recursive: true });
    copyFileSync(REAL_TDX_BINARIES[kind], join(root, "vipdoc", folder, REAL_TDX_BINARIES[kind].split("/").pop()!));
  }
  return root;
}

const shanghaiWall = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace("T", " ");

describe("import of TDX binary files", () => {
  test("a TDX install folder in one command: the daily file to the daily series, the 1-minute file as written, on the session grid; the 5-minute file named and left out", async () => {
    const env = freshEnv();
    const run = await cli(["import", vipdoc("install")], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("sh688001.lc5: not imported: 688001.SH's 1-minute file is");
    expect(run.stdout).toMatch(/sh688001\.lc1: 2,880 bars written to 688001\.SH \(2021-04-23T09:31 to 2021-06-03T15:00\)/);
    expect(run.stdout).toMatch(/sz000001\.day: 4,995 daily bars written to 000001\.SZ \(2000-02-14 to 2021-05-14\)/);
    expect(run.stdout).toMatch(/bars written\s+7,875/);
    // A database created for TDX files is in the exchanges' zone and stamps bars at their end.
    const settings = JSON.parse((await cli(["settings", "--json"], env)).stdout) as Record<string, unknown>;
    expect(settings).toMatchObject({ timezone: "Asia/Shanghai", barTimestamp: "end" });

    // The vipdoc folder itself and one exchange's folder are read the same way.
    const again = await cli(["import", join(vipdoc("vipdoc-only"), "vipdoc"), "--json"], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, files: 2, written: 7_875, series: "1d and minutes", skipped: [expect.stringContaining("sh688001.lc5")] });
    const exchange = await cli(["import", join(vipdoc("exchange-only"), "vipdoc", "sh"), "--json"], env);
    expect(JSON.parse(exchange.stdout)).toMatchObject({ ok: true, files: 1, written: 2_880 });

    const python = await readWithPython(REAL_TDX_BINARIES.lc1);
    const minutes = withDatabase(env.TRADELITE_DB, (db) => db.getBars("688001.SH"));
    expect(minutes.map((bar) => shanghaiWall(bar.timestamp))).toEqual(python.map((record) => `${record.date} ${record.minute}`));
    expect(minutes.map((bar) => [bar.volume, bar.amount])).toEqual(python.map((record) => record.values.slice(5, 6).concat(record.values.slice(4, 5))));
    const daily = withDatabase(env.TRADELITE_DB, (db) => db.getBars("000001.SZ", { interval: "1d" }));
    expect(daily.length).toBe(4_995);
    expect(daily[0]).toEqual({ timestamp: Date.parse("2000-02-14T00:00:00+08:00"), open: 19.2, high: 20.38, low: 18.7, close: 20.37, volume: 23_370_900, amount: 460_704_992 });

    // On the session grid by the exchange calendar: 240 bars each day, none outside, none missing.
    expect((await cli(["settings", "set", "calendar", "XSHG"], env)).code).toBe(0);
    // (The file skips 2021-05-11..31: those trading days are wholly missing, not off the grid.)
    const gaps = JSON.parse((await cli(["gaps", "688001.SH", "--json"], env)).stdout) as { days: { expected: number; present: number; missing: unknown[] }[]; outside: number; nonTradingDays: string[] };
    const withBars = gaps.days.filter((day) => day.present > 0);
    expect(withBars.length).toBe(12);
    expect(withBars.every((day) => day.expected === 240 && day.present === 240 && day.missing.length === 0)).toBe(true);
    expect([gaps.outside, gaps.nonTradingDays]).toEqual([0, []]);
    const grid = sessionCloses(1);
    expect(minutes.filter((bar) => !grid.has(shanghaiWall(bar.timestamp).slice(11)))).toEqual([]);
  });

  test("the 5-minute file alone equals the 1-minute file resampled to session-aligned 5-minute bars", async () => {
    const five = freshEnv();
    expect((await cli(["import", REAL_TDX_BINARIES.lc5], five)).code).toBe(0);
    const one = freshEnv();
    expect((await cli(["import", REAL_TDX_BINARIES.lc1], one)).code).toBe(0);
    for (const env of [five, one]) expect((await cli(["settings", "set", "calendar", "XSHG"], env)).code).toBe(0);
    const stored = withDatabase(five.TRADELITE_DB, (db) => db.getBars("688001.SH"));
    expect(stored.length).toBe(144);
    const resampled = withDatabase(one.TRADELITE_DB, (db) => db.getBars("688001.SH", { interval: "5m", align: "session", start: "2021-06-01", end: "2021-06-03" }));
    // Amounts are float32 sums in the file: equal to a yuan.
    expect(resampled.map(({ amount, ...rest }) => ({ ...rest, amount: Math.round(amount!) }))).toEqual(stored.map(({ amount, ...rest }) => ({ ...rest, amount: Math.round(amount!) })));
  });

  test("a file cut short is refused naming the file and its size, and nothing of it is written", async () => {
    const env = freshEnv();
    const file = dir.file("sz000001.day");
    const bytes = await Bun.file(REAL_TDX_BINARIES.day).bytes();
    writeFileSync(file, bytes.subarray(0, bytes.length - 5));
    const run = await cli(["import", file], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${file}: 159835 bytes is not a whole number of 32-byte records (4994 and 27 bytes over): the file is cut short or not a TDX .day file; nothing was written`);
    expect(run.stdout).toContain("import stopped");
    expect(withDatabase(env.TRADELITE_DB, (db) => db.overview())).toEqual([]);
  });

  test("a bad record refuses its file whole (exit 1); --skip-bad reports it and stores the rest", async () => {
    const env = freshEnv();
    const folder = dir.file("bad-record");
    mkdirSync(folder);
    const record = (minutes: number, open: number) => ({ year: 2024, month: 1, day: 15, minutes, open, high: 10.2, low: 9.9, close: 10.1, amount: 10_100, volume: 1_000 });
    writeFileSync(join(folder, "sh600519.lc1"), minuteFile([record(571, 10), record(572, 0), record(573, 10)]));
    const stopped = await cli(["import", join(folder, "sh600519.lc1")], env);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain("sh600519.lc1: record 2 of 3 (byte 32): open: must be > 0, got 0; nothing was written");
    expect(withDatabase(env.TRADELITE_DB, (db) => db.getBars("600519.SH"))).toEqual([]);
    const skipped = await cli(["import", join(folder, "sh600519.lc1"), "--skip-bad"], env);
    expect(skipped.code).toBe(0);
    expect(skipped.stderr).toContain("sh600519.lc1: record 2: open: must be > 0, got 0");
    expect(withDatabase(env.TRADELITE_DB, (db) => db.getBars("600519.SH")).map((bar: Bar) => shanghaiWall(bar.timestamp))).toEqual(["2024-01-15 09:31", "2024-01-15 09:33"]);
  });

  test("usage: a .day file with --cache, a minute file with --interval 1d, a TDX extension on a name that is not TDX's", async () => {
    const env = freshEnv();
    const folder = dir.file("usage");
    mkdirSync(folder);
    writeFileSync(join(folder, "600519.day"), dayFile([]));
    for (const [args, message] of [
      [[REAL_TDX_BINARIES.day, "--cache"], "sz000001.day is a TDX daily file, stored as the daily series; the session cache holds minute bars"],
      [[REAL_TDX_BINARIES.lc1, "--interval", "1d"], "--interval 1d is for CSV files; sh688001.lc1 is a TDX minute file"],
      [[join(folder, "600519.day")], "600519.day: a TDX file is named <sh|sz|bj><6-digit code>.<day|lc1|lc5>"],
    ] as const) {
      const run = await cli(["import", ...args], env);
      expect({ args, code: run.code, stderr: run.stderr.includes(message) }).toEqual({ args, code: 2, stderr: true });
    }
  });

  test("into a UTC database stamped at the start: minutes read in the exchange's zone and stored as written, the summary saying what that means", async () => {
    const env = freshEnv();
    expect((await cli(["init", "--timezone", "UTC", "--bar-timestamp", "start"], env)).code).toBe(0);
    const run = await cli(["import", REAL_TDX_BINARIES.lc5], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/time zone\s+Asia\/Shanghai \(TDX's exchange times\); the database stores UTC/);
    expect(run.stdout).toContain("TDX stamps a minute bar with its closing minute");
    expect(run.stdout).not.toContain("naive times were read as UTC");
    expect(withDatabase(env.TRADELITE_DB, (db) => db.getBars("688001.SH"))[0]!.timestamp).toBe(Date.parse("2021-06-01T01:35:00Z"));
    // A .day file's dates are days in the database's zone: UTC midnights here.
    expect((await cli(["import", REAL_TDX_BINARIES.day], env)).code).toBe(0);
    expect(withDatabase(env.TRADELITE_DB, (db) => db.getBars("000001.SZ", { interval: "1d" }))[0]!.timestamp).toBe(Date.parse("2000-02-14T00:00:00Z"));
  });
});

/**
 * The settings a database remembers, through the real `tradelite` command in its own process:
 * `init`, `settings`, `settings set`, and every other command reading them instead of being
 * told (import, export, overview), with the one date rule on --start/--end.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { spawn } from "bun";
import { openDatabase } from "../../src/mod.ts";
import { PROJECT_ROOT, serverEnv } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-cli-settings-");
afterAll(() => dir.cleanup());

let files = 0;
const freshDb = () => dir.file(`settings-${++files}.db`);

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(["bun", "scripts/tradelite.ts", ...args], { cwd: PROJECT_ROOT, env: serverEnv(env), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

/** A CSV of naive minute times: the edges of 15 January and its neighbours. */
function writeDayFile(name: string): string {
  const file = dir.file(name);
  const times = ["2024-01-14 23:59", "2024-01-15 00:00", "2024-01-15 09:31", "2024-01-15 23:59", "2024-01-16 00:00"];
  writeFileSync(file, `datetime,open,high,low,close,volume\n${times.map((time) => `${time},10,11,9,10.5,100`).join("\n")}\n`);
  return file;
}

describe("tradelite init and settings", () => {
  test("init stores the settings; settings shows them, as text and JSON; a second init that differs is refused naming both", async () => {
    const db = freshDb();
    const init = await cli(["init", "--db", db, "--timezone", "Asia/Shanghai", "--bar-timestamp", "end", "--calendar", "XSHG"]);
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(/timezone\s+Asia\/Shanghai/);
    const shown = await cli(["settings", "--db", db, "--json"]);
    expect(JSON.parse(shown.stdout)).toEqual({ database: db, timezone: "Asia/Shanghai", barTimestamp: "end", calendar: "XSHG", normalizeSymbols: false });
    expect((await cli(["settings", "--db", db])).stdout).toMatch(/bar_timestamp\s+end/);
    // The same settings again are fine; different ones are refused and change nothing.
    expect((await cli(["init", "--db", db, "--timezone", "Asia/Shanghai"])).code).toBe(0);
    const differs = await cli(["init", "--db", db, "--timezone", "UTC", "--bar-timestamp", "start"]);
    expect(differs.code).toBe(1);
    expect(differs.stderr).toContain("timezone: the database stores Asia/Shanghai, the option says UTC");
    expect(differs.stderr).toContain("barTimestamp: the database stores end, the option says start");
    expect(JSON.parse((await cli(["settings", "--db", db, "--json"])).stdout).timezone).toBe("Asia/Shanghai");
    expect((await cli(["init", "--db", db, "--bar-timestamp", "middle"])).code).toBe(2);
  });

  test("$TRADELITE_TIMEZONE is only what a new database is created with, never compared with a stored zone", async () => {
    const db = freshDb();
    expect((await cli(["init", "--db", db], { TRADELITE_TIMEZONE: "America/New_York" })).code).toBe(0);
    const other = await cli(["settings", "--db", db, "--json"], { TRADELITE_TIMEZONE: "Asia/Shanghai" });
    expect(other.code).toBe(0);
    expect(JSON.parse(other.stdout).timezone).toBe("America/New_York");
  });

  test("settings set changes one setting with an audit entry; a stamping change is refused while bars are stored", async () => {
    const db = freshDb();
    expect((await cli(["init", "--db", db, "--timezone", "Asia/Shanghai"])).code).toBe(0);
    const set = await cli(["settings", "set", "timezone", "America/New_York", "--db", db]);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain("timezone: Asia/Shanghai -> America/New_York");
    const unknown = await cli(["settings", "set", "calendar", "XNYS", "--db", db]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no calendar named "XNYS" (stored: XSHE, XSHG');
    expect((await cli(["settings", "set", "calendar", "XSHG", "--db", db])).code).toBe(0);
    expect((await cli(["settings", "set", "bar_timestamp", "end", "--db", db])).code).toBe(0);
    expect((await cli(["import", writeDayFile("000001.SH.csv"), "--db", db])).code).toBe(0);
    const refused = await cli(["settings", "set", "bar_timestamp", "start", "--db", db]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("5 bars are stored stamped at the end");
    expect(refused.stderr).toContain("--restamp 1m");
    expect((await cli(["settings", "set", "zone", "UTC", "--db", db])).code).toBe(2);
    expect((await cli(["settings", "set", "timezone", "UTC", "--restamp", "1m", "--db", db])).code).toBe(2);
    expect((await cli(["settings", "set", "bar_timestamp", "start", "--restamp", "1d", "--db", db])).code).toBe(2);
    const opened = openDatabase({ path: db, readonly: true });
    try {
      expect(opened.storedSettings).toEqual({ timezone: "America/New_York", barTimestamp: "end", calendar: "XSHG", normalizeSymbols: false });
      const entries = opened.audit.query({ action: "settings.set" });
      expect(entries.map((entry) => [entry.entity, entry.details])).toEqual([
        ["timezone", { from: "Asia/Shanghai", to: "America/New_York" }],
        ["calendar", { from: null, to: "XSHG" }],
        ["bar_timestamp", { from: "start", to: "end" }],
      ]);
    } finally {
      opened.close();
    }
  });

  test("settings set bar_timestamp --restamp moves every bar by the interval and says how many; export shows the same minutes", async () => {
    const db = freshDb();
    expect((await cli(["init", "--db", db, "--timezone", "Asia/Shanghai", "--bar-timestamp", "start"])).code).toBe(0);
    expect((await cli(["import", writeDayFile("000001.SH.csv"), "--db", db])).code).toBe(0);
    const before = await cli(["export", "000001.SH", "--db", db, "--utc"]);
    const restamped = await cli(["settings", "set", "bar_timestamp", "end", "--restamp", "1m", "--db", db]);
    expect(restamped.code).toBe(0);
    expect(restamped.stdout).toContain("bar_timestamp: start -> end; 5 bars moved 1m later (recorded in the audit log)");
    const after = await cli(["export", "000001.SH", "--db", db, "--utc"]);
    const times = (csv: string) => csv.trim().split("\n").slice(1).map((line) => Date.parse(line.split(",")[0]!));
    expect(times(after.stdout)).toEqual(times(before.stdout).map((time) => time + 60_000));
    expect((await cli(["settings", "set", "bar_timestamp", "end", "--restamp", "1m", "--db", db])).stdout).toContain("bar_timestamp is already end; nothing changed");
  });
});

describe("every command reads the stored settings", () => {
  test("import reads naive times in the stored zone by default, --timezone names the file's zone, and a new database takes it", async () => {
    const db = freshDb();
    expect((await cli(["init", "--db", db, "--timezone", "Asia/Shanghai"])).code).toBe(0);
    expect((await cli(["import", writeDayFile("SH.csv"), "--db", db])).code).toBe(0);
    const utcFile = await cli(["import", writeDayFile("UTCFILE.csv"), "--db", db, "--timezone", "UTC"]);
    expect(utcFile.stdout).toContain("UTC (the file's naive times); the database stores Asia/Shanghai");
    const created = dir.file("created-by-import.db");
    expect((await cli(["import", writeDayFile("NY.csv"), "--db", created, "--timezone", "America/New_York"])).code).toBe(0);
    const first = openDatabase({ path: db, readonly: true });
    const second = openDatabase({ path: created, readonly: true });
    try {
      expect(first.getBars("SH")[2]!.timestamp).toBe(Date.parse("2024-01-15T09:31:00+08:00"));
      expect(first.getBars("UTCFILE")[2]!.timestamp).toBe(Date.parse("2024-01-15T09:31:00Z"));
      expect(second.timezone).toBe("America/New_York");
      expect(second.getBars("NY")[2]!.timestamp).toBe(Date.parse("2024-01-15T09:31:00-05:00"));
    } finally {
      first.close();
      second.close();
    }
  });

  for (const timezone of ["Asia/Shanghai", "America/New_York"]) {
    test(`export in ${timezone}: no --timezone needed, CSV in the stored zone with the offset, --utc in UTC, dates as whole days`, async () => {
      const db = freshDb();
      expect((await cli(["init", "--db", db, "--timezone", timezone])).code).toBe(0);
      expect((await cli(["import", writeDayFile("DAY.csv"), "--db", db])).code).toBe(0);
      const offset = timezone === "Asia/Shanghai" ? "+08:00" : "-05:00";
      for (const [start, end] of [["20240115", "20240115"], ["2024-01-15", "2024-01-15"], ["2024-01-15", "20240115"]]) {
        const run = await cli(["export", "DAY", "--db", db, "--start", start!, "--end", end!]);
        expect(run.code).toBe(0);
        expect(run.stdout.trimEnd().split("\n").map((line) => line.split(",")[0])).toEqual([
          "timestamp",
          `2024-01-15T00:00:00${offset}`,
          `2024-01-15T09:31:00${offset}`,
          `2024-01-15T23:59:00${offset}`,
        ]);
      }
      const utc = await cli(["export", "DAY", "--db", db, "--start", "20240115", "--end", "20240115", "--utc", "--format", "csv"]);
      const first = new Date(Date.parse(`2024-01-15T00:00:00${offset}`)).toISOString();
      expect(utc.stdout.split("\n")[1]!.startsWith(`${first},`)).toBe(true);
      const ndjson = await cli(["export", "DAY", "--db", db, "--end", "2024-01-14", "--format", "ndjson"]);
      expect(JSON.parse(ndjson.stdout.trim()).timestamp).toBe(Date.parse(`2024-01-14T23:59:00${offset}`));
      // Epoch seconds are refused as a bound, saying what to do.
      const seconds = await cli(["export", "DAY", "--db", db, "--start", "1705276800"]);
      expect(seconds.code).toBe(2);
      expect(seconds.stderr).toContain("multiply by 1000");
      // --timezone is gone from export: the database says.
      expect((await cli(["export", "DAY", "--db", db, "--timezone", "UTC"])).code).toBe(2);
    });
  }
});

describe("tradelite settings set normalize_symbols", () => {
  test("true turns it on (audited): an import of a baostock-style symbol is stored as 600519.SH; a value not true or false is refused", async () => {
    const db = freshDb();
    expect((await cli(["init", "--db", db])).code).toBe(0);
    expect((await cli(["settings", "--db", db])).stdout).toMatch(/normalize_symbols\s+false/);
    const bad = await cli(["settings", "set", "normalize_symbols", "yes", "--db", db]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("expected true or false");
    const on = await cli(["settings", "set", "normalize_symbols", "true", "--db", db, "--json"]);
    expect(on.code).toBe(0);
    expect(JSON.parse(on.stdout)).toEqual({ key: "normalize_symbols", from: false, to: true, changed: true });
    const file = dir.file("sh.600519.csv");
    writeFileSync(file, "datetime,open,high,low,close,volume\n2024-01-15 09:31,10,11,9,10.5,100\n");
    expect((await cli(["import", file, "--symbol", "sh.600519", "--db", db])).code).toBe(0);
    const opened = openDatabase({ path: db, readonly: true });
    try {
      expect(opened.normalizeSymbols).toBe(true);
      expect(opened.overview().map((each) => each.symbol)).toEqual(["600519.SH"]);
      expect(opened.audit.query({ action: "settings.set" }).map((entry) => [entry.entity, entry.details])).toEqual([["normalize_symbols", { from: false, to: true }]]);
    } finally {
      opened.close();
    }
  });
});

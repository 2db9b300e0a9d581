/**
 * `tradelite calendar` and `tradelite gaps` as users run them, in their own processes over a real
 * SQLite file: the shipped calendars listed, a symbol assigned, the real Shanghai Composite file's
 * missing minutes reported after a delete, a year replaced from a file, and refusals.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { openDatabase } from "../../src/mod.ts";
import { readTdxBars, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";
import { PROJECT_ROOT, serverEnv } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-cli-calendar-");
afterAll(() => dir.cleanup());

async function cli(args: string[], db: string) {
  const child = Bun.spawn(["bun", "scripts/tradelite.ts", ...args], { cwd: PROJECT_ROOT, env: serverEnv({ TRADELITE_DB: db }), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

const at = (naive: string) => Date.parse(`${naive.replace(" ", "T")}+08:00`);

async function seeded(name: string): Promise<string> {
  const path = dir.file(name);
  const db = openDatabase({ path, timezone: "Asia/Shanghai", barTimestamp: "end" });
  db.insertBars("000001.SH", await readTdxBars(TDX_INDEX_1MIN));
  db.deleteBars("000001.SH", { start: at("2023-03-01 10:00"), end: at("2023-03-01 10:09") });
  db.deleteBars("000001.SH", { start: at("2023-03-01 14:59"), end: at("2023-03-01 14:59") });
  db.close();
  return path;
}

describe("tradelite calendar", () => {
  test("list shows the shipped calendars; show names the hours and counts a year's days", async () => {
    const db = await seeded("list.db");
    const list = await cli(["calendar", "list"], db);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^XSHE\s+Asia\/Shanghai\s+1991-04-03 \.\. 2026-12-31/m);
    expect(list.stdout).toMatch(/^XSHG\s+Asia\/Shanghai\s+1990-12-19 \.\. 2026-12-31/m);
    const show = await cli(["calendar", "show", "XSHG", "--year", "2024", "--json"], db);
    const shown = JSON.parse(show.stdout) as { days: string[]; rules: unknown[] };
    expect(shown.rules).toEqual([{ from: "1990-12-19", sessions: "09:30-11:30 13:00-15:00" }]);
    expect(shown.days).not.toContain("2024-02-12");
    expect(shown.days.every((d) => d.startsWith("2024-"))).toBe(true);
  });

  test("import replaces a year from a calendar file, audited; a bad file is refused naming its line and changes nothing", async () => {
    const db = await seeded("import.db");
    const good = dir.file("2026.csv");
    writeFileSync(good, "date,sessions\n2026-12-30,\n2026-12-31,09:30-11:30\n");
    const run = await cli(["calendar", "import", good, "--calendar", "XSHG", "--year", "2026"], db);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("2026 replaced by 2 trading days");
    const bad = dir.file("bad.csv");
    writeFileSync(bad, "date,sessions\n2025-01-02,\n2025-01-02,\n");
    const refused = await cli(["calendar", "import", bad, "--calendar", "XSHG", "--year", "2025"], db);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("line 3: 2025-01-02 is repeated (line 2)");
    const noYear = await cli(["calendar", "import", good, "--calendar", "XSHG"], db);
    expect(noYear.code).toBe(2);
    const check = openDatabase({ path: db, readonly: true });
    try {
      expect(check.calendars.get("XSHG")!.days.filter((d) => d.startsWith("2026"))).toEqual(["2026-12-30", "2026-12-31"]);
      expect(check.calendars.get("XSHG")!.days.filter((d) => d.startsWith("2025")).length).toBeGreaterThan(200);
      expect(check.audit.query({ action: "calendar.replace_year" })).toHaveLength(1);
    } finally {
      check.close();
    }
  });
});

describe("tradelite gaps", () => {
  test("a symbol without a calendar is exit 1 naming the fix; after assign, the deleted minutes are listed", async () => {
    const db = await seeded("gaps.db");
    const none = await cli(["gaps", "000001.SH"], db);
    expect(none.code).toBe(1);
    expect(none.stdout).toContain("tradelite settings set calendar");
    expect((await cli(["calendar", "assign", "000001.SH", "XSHG"], db)).stdout).toContain("000001.SH follows XSHG");
    const gaps = await cli(["gaps", "000001.SH"], db);
    expect(gaps.code).toBe(0);
    expect(gaps.stdout).toContain("000001.SH (XSHG, Asia/Shanghai): 100 trading days, 23,989 of 24,000 bars, 11 missing on 1 days");
    expect(gaps.stdout).toContain("2023-03-01   229/240  missing 10:00-10:09, 14:59");
    const json = JSON.parse((await cli(["gaps", "--all", "--json"], db)).stdout) as Record<string, { days: { present: number }[] }>;
    expect(Object.keys(json)).toEqual(["000001.SH"]);
    expect(json["000001.SH"]!.days.filter((d) => d.present < 240)).toHaveLength(1);
  });

  test("overview --completeness adds the expected and missing minutes the gaps report counts", async () => {
    const db = await seeded("overview.db");
    const before = await cli(["overview", "--completeness"], db);
    expect(before.stdout).toMatch(/^000001\.SH\s+23,989\s+\S+\s+\S+\s+-\s+-\s/m);
    expect((await cli(["calendar", "assign", "000001.SH", "XSHG"], db)).code).toBe(0);
    const text = await cli(["overview", "--completeness"], db);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/expected\s+missing/);
    expect(text.stdout).toMatch(/^000001\.SH\s+23,989\s+\S+\s+\S+\s+24,000\s+11\s/m);
    const json = JSON.parse((await cli(["overview", "--completeness", "--json"], db)).stdout) as { symbols: { expected: number; missing: number }[] };
    expect(json.symbols.map((row) => [row.expected, row.missing])).toEqual([[24_000, 11]]);
    expect((await cli(["overview"], db)).stdout).not.toContain("expected");
  });
});

describe("tradelite export --align and --fill", () => {
  test("session-aligned hourly CSV of the real file: 10:30, 11:30, 14:00, 15:00; --fill previous returns every minute of a gapped day; bad values are usage errors", async () => {
    const db = await seeded("export.db");
    expect((await cli(["calendar", "assign", "000001.SH", "XSHG"], db)).code).toBe(0);
    const hours = await cli(["export", "000001.SH", "--interval", "1h", "--align", "session", "--start", "2023-03-01", "--end", "2023-03-01"], db);
    expect(hours.code).toBe(0);
    expect(hours.stdout.trim().split("\n").slice(1).map((line) => line.slice(0, 25))).toEqual([
      "2023-03-01T10:30:00+08:00",
      "2023-03-01T11:30:00+08:00",
      "2023-03-01T14:00:00+08:00",
      "2023-03-01T15:00:00+08:00",
    ]);
    const filled = await cli(["export", "000001.SH", "--start", "2023-03-01", "--end", "2023-03-01", "--fill", "previous", "--format", "ndjson"], db);
    const bars = filled.stdout.trim().split("\n").map((line) => JSON.parse(line) as { filled?: true });
    expect(bars).toHaveLength(240);
    expect(bars.filter((bar) => bar.filled)).toHaveLength(11);
    expect((await cli(["export", "000001.SH", "--align", "exchange"], db)).code).toBe(2);
    expect((await cli(["export", "000001.SH", "--fill", "zero"], db)).code).toBe(2);
  });
});

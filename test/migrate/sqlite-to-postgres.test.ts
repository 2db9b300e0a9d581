/**
 * `tradelite migrate`: a SQLite database with every table in use copied into a real PostgreSQL by
 * the CLI in its own process, then proven identical; a second run rewrites nothing; a run killed
 * with SIGKILL is finished by running it again; a difference made afterwards is found and named.
 * The source's calendars differ from the shipped ones a new PostgreSQL database starts with (a
 * replaced 2026 XSHG year, a user calendar), so they must be copied whole.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { readdirSync } from "node:fs";
import { SessionCache } from "../../src/cache/session-cache.ts";
import { barsDigest, openDatabase, openStore, type Store } from "../../src/mod.ts";
import { createSqliteStore } from "../../src/sqlite/store.ts";
import { parseSessions } from "../../src/domain/calendar.ts";
import { shippedCalendar } from "../../src/domain/calendars/index.ts";
import { writeCalendar } from "../../src/postgres/calendars.ts";
import { migrate as migratePostgres } from "../../src/postgres/migrations.ts";
import { PROJECT_ROOT, serverEnv } from "../support/api-server.ts";
import { randomBars } from "../support/bars.ts";
import { tempDir } from "../support/files.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";
import { readTdxBars, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";

const available = await postgresAvailable();
const dir = tempDir("tradelite-migrate-");
const source = dir.file("source.db");
const databases: TestDatabase[] = [];
const T0 = Date.UTC(2024, 0, 2, 1, 31);
const SHIPPED_2026 = shippedCalendar("XSHG")!.days.filter((date) => date.startsWith("2026"));
/** The source's 2026: the shipped year without its last day, and a half day on the day before. */
const REPLACED_2026 = SHIPPED_2026.slice(0, -1).map((date) => (date === SHIPPED_2026.at(-2) ? { date, sessions: parseSessions("09:30-11:30") } : { date }));
const US_EQ = {
  name: "US-EQ",
  timezone: "America/New_York",
  days: ["2024-11-26", "2024-11-27", "2024-11-29", "2024-12-02"],
  rules: [{ from: "2024-01-01", sessions: parseSessions("09:30-16:00") }],
  exceptions: { "2024-11-29": parseSessions("09:30-13:00") },
};

beforeAll(async () => {
  if (!available) return;
  // Every table in use, written through the library as a user would.
  const db = openDatabase({ path: source, timezone: "Asia/Shanghai", actor: "migrate-test" });
  try {
    db.insertBars("000001.SH", await readTdxBars(TDX_INDEX_1MIN));
    db.insertBars("600519.SH", randomBars(Array.from({ length: 30_000 }, (_, i) => T0 + i * 60_000), 3));
    db.insertQuotes("600519.SH", Array.from({ length: 500 }, (_, i) => ({ timestamp: T0 + i * 3_000, bid: 1700 + i / 100, bid_size: 100, ask: 1700.01 + i / 100, ask_size: 200, last: null, volume: i })));
    db.prefs.set("chart.theme", { dark: true, candles: ["red", "green"] });
    db.metrics.record("sqlite.busy_wait.ms", 12.5, { where: "test" });
    db.artifacts.register({ name: "model", version: "1.0.0", path: "models/m.bin", sha256: "a".repeat(64), size: 10 }, { readFile: false });
    db.deleteBars("600519.SH", { start: T0, end: T0 + 99 * 60_000 });
    const cache = new SessionCache({ store: createSqliteStore(db), dir: dir.file("cache") });
    await cache.storeBars("600519.SH", randomBars([T0 + 40_000 * 60_000], 4));
    db.calendars.replaceYear("XSHG", 2026, REPLACED_2026);
    db.calendars.put(US_EQ);
    db.calendars.assign("600519.SH", "XSHG");
    db.calendars.assign("SPY", "US-EQ");
    db.instruments.put([{ symbol: "600519.SH", name: "贵州茅台", listedDate: "2001-08-27" }, { symbol: "600087.SH", delistedDate: "2014-06-05" }, { symbol: "SPY", exchange: "ARCX", calendar: "US-EQ", tickSize: 0.01 }]);
    db.instruments.setStatus("600087.SH", [{ date: "2013-05-02", status: "*ST" }, { date: "2014-06-05", status: "delisted" }]);
    expect(db.audit.verify().ok).toBe(true);
  } finally {
    db.close();
  }
});

afterAll(async () => {
  for (const database of databases) await database.drop().catch(() => {});
  dir.cleanup();
});

/** Session-aligned reads and completeness of `symbol`, which follows a calendar, alike on both stores. */
async function expectSameSessions(sqlite: Store, postgres: Store, symbol: string): Promise<void> {
  for (const interval of ["30m", "1h", "1d"] as const) {
    const bars = await sqlite.getBars(symbol, { interval, align: "session" });
    expect(bars.length).toBeGreaterThan(0);
    expect(await postgres.getBars(symbol, { interval, align: "session" })).toEqual(bars);
  }
  const report = await sqlite.completeness(symbol);
  expect(report.days.length).toBeGreaterThan(0);
  expect(await postgres.completeness(symbol)).toEqual(report);
}

async function target(label: string): Promise<TestDatabase> {
  const database = await createTestDatabase(label);
  databases.push(database);
  return database;
}

function migrate(url: string, ...extra: string[]) {
  return migrateFrom(source, url, ...extra);
}

function migrateFrom(from: string, url: string, ...extra: string[]) {
  const run = Bun.spawnSync(["bun", "scripts/tradelite.ts", "migrate", "--from", from, "--to", url, ...extra], { cwd: PROJECT_ROOT, env: serverEnv({}) });
  return { code: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

/** Row versions of every copied table: any rewrite of a row changes its xmin. */
async function rowVersions(url: string): Promise<Record<string, string>> {
  const sql = new SQL({ url, max: 1 });
  try {
    const result: Record<string, string> = {};
    for (const table of ["market_data", "quotes", "session_cache", "user_preferences", "recovery_metrics", "model_artifacts", "audit_log", "calendars", "calendar_days", "symbol_calendars", "instruments", "instrument_status"]) {
      const [row] = await sql.unsafe(`SELECT count(*)::text AS n, coalesce(sum(xmin::text::bigint), 0)::text AS versions FROM ${table}`);
      result[table] = `${row.n}/${row.versions}`;
    }
    return result;
  } finally {
    await sql.close();
  }
}

describe.skipIf(!available)("tradelite migrate", () => {
  test("copies every table, proves the copy identical, and a second run rewrites nothing", async () => {
    const database = await target("copy");
    const first = migrate(database.url);
    expect(first.stderr).not.toContain("different:");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("migration verified: identical");
    expect(first.stdout).toContain("market_data: 53,901 rows, 53,901 copied");
    // XSHE is as shipped on both sides; XSHG's 2026 and US-EQ are the source's.
    expect(first.stdout).toContain("calendars: 2 copied (US-EQ, XSHG), 1 already identical");
    const copiedRows = Number(/rows copied\s+([\d,]+)/.exec(first.stdout)![1]!.replaceAll(",", ""));
    const rate = /copy\s+[\d.]+ s \(([\d,]+) rows\/s\)/.exec(first.stdout)![1];
    console.log(`migrate: ${copiedRows} rows copied at ${rate} rows/s`);

    const before = await rowVersions(database.url);
    const second = migrate(database.url);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("migration verified: identical");
    expect(second.stdout).toContain("calendars: 0 copied, 3 already identical");
    expect(second.stdout).toMatch(/rows copied\s+0\n/);
    expect(await rowVersions(database.url)).toEqual(before);

    // New rows on PostgreSQL do not collide with the copied ids.
    const sql = new SQL({ url: database.url, max: 1 });
    try {
      const [{ id }] = await sql`INSERT INTO recovery_metrics (name, timestamp, value) VALUES ('after', 0, 1) RETURNING id::float8 AS id`;
      expect(id).toBe(2);
    } finally {
      await sql.close();
    }
  });

  test("the copy's calendars, assignments, session-aligned reads and completeness are the source's", async () => {
    const database = await target("calendars");
    expect(migrate(database.url).code).toBe(0);
    const sqlite = await openStore({ backend: "sqlite", path: source, readonly: true });
    const postgres = await openStore({ backend: "postgres", url: database.url, max: 2 });
    try {
      const names = (await sqlite.calendars.list()).map((calendar) => calendar.name);
      expect(names).toEqual(["US-EQ", "XSHE", "XSHG"]);
      expect((await postgres.calendars.list()).map((calendar) => calendar.name)).toEqual(names);
      for (const name of names) expect(await postgres.calendars.get(name)).toEqual(await sqlite.calendars.get(name));
      // The day the source removed is gone from the copy, and the half day arrived.
      const xshg = (await postgres.calendars.get("XSHG"))!;
      expect(xshg.days).not.toContain(SHIPPED_2026.at(-1));
      expect(xshg.exceptions![SHIPPED_2026.at(-2)!]).toEqual(parseSessions("09:30-11:30"));
      expect((await postgres.calendars.get("US-EQ"))!.exceptions).toEqual(US_EQ.exceptions);
      for (const symbol of ["600519.SH", "SPY", "000001.SH"]) expect(await postgres.calendars.of(symbol)).toBe(await sqlite.calendars.of(symbol));
      expect(await postgres.calendars.of("SPY")).toBe("US-EQ");
      await expectSameSessions(sqlite, postgres, "600519.SH");
      expect(await postgres.instruments.list()).toEqual(await sqlite.instruments.list());
      expect((await postgres.instruments.list()).map((each) => each.symbol)).toEqual(["600087.SH", "600519.SH", "SPY"]);
      expect(await postgres.instruments.statusHistory("600087.SH")).toEqual(await sqlite.instruments.statusHistory("600087.SH"));
      expect((await postgres.instruments.list({ status: "delisted", asOf: "2020-01-01" })).map((each) => each.symbol)).toEqual(["600087.SH"]);
    } finally {
      await sqlite.close();
      await postgres.close();
    }
  });

  test("a run killed with SIGKILL part-way is finished by running it again", async () => {
    const database = await target("resume");
    const child = Bun.spawn(["bun", "scripts/tradelite.ts", "migrate", "--from", source, "--to", database.url, "--batch", "500"], { cwd: PROJECT_ROOT, env: serverEnv({}), stdout: "ignore", stderr: "ignore" });
    const sql = new SQL({ url: database.url, max: 1 });
    let partial = 0;
    try {
      for (let tries = 0; tries < 400 && partial === 0; tries++) {
        await Bun.sleep(10);
        partial = await sql`SELECT count(*)::integer AS n FROM market_data`.then((rows) => rows[0].n as number).catch(() => 0);
      }
      child.kill("SIGKILL");
      await child.exited;
      const [{ n }] = await sql`SELECT count(*)::integer AS n FROM market_data`;
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThan(53_901);
    } finally {
      await sql.close();
    }
    const again = migrate(database.url);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("migration verified: identical");
  });

  test("a difference made afterwards is found and named (exit 1), with --verify-only", async () => {
    const database = await target("differ");
    expect(migrate(database.url).code).toBe(0);
    const sql = new SQL({ url: database.url, max: 1 });
    try {
      await sql`UPDATE market_data SET close = close + 0.01 WHERE symbol = '000001.SH' AND timestamp = (SELECT min(timestamp) FROM market_data WHERE symbol = '000001.SH')`;
      await sql`DELETE FROM quotes WHERE timestamp = ${T0}`;
      await sql`DELETE FROM calendar_days WHERE calendar = 'US-EQ' AND date = '2024-12-02'`;
      await sql`UPDATE calendar_days SET sessions = NULL WHERE calendar = 'XSHG' AND date = ${SHIPPED_2026.at(-2)!}::date`;
    } finally {
      await sql.close();
    }
    const check = migrate(database.url, "--verify-only");
    expect(check.code).toBe(1);
    expect(check.stderr).toContain("different: market_data 000001.SH: the same number of rows, different values");
    expect(check.stderr).toContain("different: quotes 600519.SH: rows: SQLite 500, PostgreSQL 499");
    expect(check.stderr).toContain("different: calendars US-EQ: days: SQLite 4, PostgreSQL 3 (first difference: 2024-12-02 only in SQLite)");
    expect(check.stderr).toContain(`different: calendars XSHG: the same days, different sessions (first on ${SHIPPED_2026.at(-2)})`);
    expect(check.stdout).toMatch(/differences\s+4/);
    // A run puts the source's values back, the calendars whole.
    const repair = migrate(database.url);
    expect(repair.code).toBe(0);
    expect(repair.stdout).toContain("calendars: 2 copied (US-EQ, XSHG), 1 already identical");
    expect(repair.stdout).toContain("migration verified: identical");
  });

  test("a target holding a calendar the source does not have is refused before anything is written", async () => {
    const database = await target("calendar-foreign");
    const sql = new SQL({ url: database.url, max: 1 });
    try {
      await migratePostgres(sql);
      // Written as the migration writes the shipped ones: no audit entry, so only the calendar differs.
      await sql.begin((tx) => writeCalendar(tx, { ...US_EQ, name: "US-EQ-OTHER", days: ["2024-11-26"], exceptions: {} }));
    } finally {
      await sql.close();
    }
    const before = await rowVersions(database.url);
    const refused = migrate(database.url);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("nothing was written");
    expect(refused.stderr).toContain(`calendars name="US-EQ-OTHER": not in the source`);
    // The shipped XSHE and XSHG the target's migration wrote are not a difference.
    expect(refused.stderr).not.toContain(`name="XSHE"`);
    expect(refused.stderr).not.toContain(`name="XSHG"`);
    expect(await rowVersions(database.url)).toEqual(before);
    const verify = migrate(database.url, "--verify-only");
    expect(verify.stderr).toContain("different: calendars US-EQ-OTHER: only in PostgreSQL");
    expect(verify.stderr).toContain("different: calendars US-EQ: only in SQLite");
  });

  test("a target that is not a copy of this source is refused before anything is written, and its audit chain stays valid", async () => {
    // 1. A copy of this source that then lived on: a preference set on PostgreSQL, so its audit log
    //    has an entry the source does not, and a key the source does not.
    const lived = await target("lived");
    expect(migrate(lived.url).code).toBe(0);
    const store = await openStore({ backend: "postgres", url: lived.url, actor: "on-postgres" });
    try {
      // The copy carries the source's settings: opened without options, it reads Shanghai.
      expect([store.timezone, store.barTimestamp]).toEqual(["Asia/Shanghai", "start"]);
      await store.prefs.set("only.on.postgres", 1);
    } finally {
      await store.close();
    }
    const before = await rowVersions(lived.url);
    const again = migrate(lived.url);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("nothing was written");
    expect(again.stderr).toContain(`user_preferences key="only.on.postgres": not in the source`);
    expect(again.stderr).toMatch(/audit_log id=\d+: not in the source/);
    expect(await rowVersions(lived.url)).toEqual(before);
    const reopened = await openStore({ backend: "postgres", url: lived.url });
    try {
      expect((await reopened.audit.verify()).ok).toBe(true);
    } finally {
      await reopened.close();
    }

    // 2. A copy of another database: the same artifact name and version under the same id with
    //    another path, another symbol's bars, another audit history.
    const otherSource = dir.file("other.db");
    const other = openDatabase({ path: otherSource, actor: "someone-else" });
    try {
      await other.artifacts.register({ name: "model", version: "1.0.0", path: "elsewhere/m.bin", sha256: "b".repeat(64), size: 11 }, { readFile: false });
      other.insertBars("OTHER", randomBars([T0, T0 + 60_000], 9));
    } finally {
      other.close();
    }
    const foreign = await target("foreign");
    const copyOther = Bun.spawnSync(["bun", "scripts/tradelite.ts", "migrate", "--from", otherSource, "--to", foreign.url], { cwd: PROJECT_ROOT, env: serverEnv({}) });
    expect(copyOther.exitCode).toBe(0);
    const foreignBefore = await rowVersions(foreign.url);
    const mixed = migrate(foreign.url);
    expect(mixed.code).toBe(1);
    expect(mixed.stderr).toContain(`market_data symbol="OTHER" timestamp=${T0}: not in the source`);
    expect(mixed.stderr).toContain("model_artifacts id=1: differs from the source's row");
    expect(mixed.stderr).toContain("audit_log id=1: differs from the source's row");
    expect(mixed.stderr).not.toContain("PG_23505");
    expect(await rowVersions(foreign.url)).toEqual(foreignBefore);
  });

  test("the source's open audit rollups are closed into entries and copied: the copy's log accounts for every appended bar, and verifies", async () => {
    const live = dir.file("live.db");
    // A recorder's one-bar writes and a session cache's: acknowledged, pending in audit_pending.
    const db = openDatabase({ path: live, actor: "recorder" });
    const appended = new Map<string, number>();
    try {
      for (const [symbol, count] of [["600519.SH", 5], ["000001.SZ", 3]] as const) {
        for (const bar of randomBars(Array.from({ length: count }, (_, i) => T0 + i * 60_000), 7)) db.insertBars(symbol, [bar]);
        appended.set(symbol, count);
      }
      const cache = new SessionCache({ store: createSqliteStore(db).withActor("cache"), dir: dir.file("live-cache") });
      await cache.storeBars("000002.SZ", randomBars([T0, T0 + 60_000], 8));
      appended.set("000002.SZ", 2);
      expect(db.audit.verifyRollups()).toMatchObject({ ok: true, checked: 0, pending: 3 });
    } finally {
      db.close();
    }
    const database = await target("rollups");
    const run = migrateFrom(live, database.url, "--json");
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ identical: true, rollupsClosed: 3 });
    // Closing them wrote to the source through a connection of its own; none is left open beside it.
    expect(readdirSync(dir.path).filter((name) => name.startsWith("live."))).toEqual(["live.db"]);
    const sqlite = await openStore({ backend: "sqlite", path: live });
    const postgres = await openStore({ backend: "postgres", url: database.url });
    try {
      expect(await sqlite.audit.verifyRollups()).toMatchObject({ ok: true, checked: 3, pending: 0 });
      expect(await postgres.audit.verify()).toEqual(await sqlite.audit.verify());
      expect((await postgres.audit.verify()).ok).toBe(true);
      expect(await postgres.audit.verifyRollups()).toEqual({ ok: true, checked: 3, pending: 0, mismatches: [] });
      // Every appended bar is in one rollup entry on the copy, whose digest is the copy's bars'.
      const rollups = await postgres.audit.query({ action: "bars.rollup" });
      expect(new Map(rollups.map((entry) => [entry.entity!, (entry.details as { rows: number }).rows]))).toEqual(appended);
      expect(rollups.map((entry) => entry.actor).sort()).toEqual(["cache", "recorder", "recorder"]);
      for (const entry of rollups) expect(entry.details).toMatchObject(barsDigest(await postgres.getBars(entry.entity!)));
    } finally {
      await sqlite.close();
      await postgres.close();
    }
    // Nothing open is left: a second run closes and rewrites nothing.
    const again = migrateFrom(live, database.url, "--json");
    expect(JSON.parse(again.stdout)).toMatchObject({ identical: true, rollupsClosed: 0, rowsCopied: 0 });

    // The recorder appends again: a check names the open rollup the copy's log lacks; a run closes and copies it.
    const recorder = openDatabase({ path: live, actor: "recorder" });
    recorder.insertBars("600519.SH", randomBars([T0 + 5 * 60_000], 9));
    recorder.close();
    const check = migrateFrom(live, database.url, "--verify-only");
    expect(check.code).toBe(1);
    expect(check.stderr).toContain("different: audit_pending: 1 open audit rollup(s) on the source, not in the copy's audit log");
    const last = migrateFrom(live, database.url, "--json");
    expect(JSON.parse(last.stdout)).toMatchObject({ identical: true, rollupsClosed: 1 });
    const copy = await openStore({ backend: "postgres", url: database.url });
    try {
      expect(await copy.audit.verifyRollups()).toEqual({ ok: true, checked: 4, pending: 0, mismatches: [] });
    } finally {
      await copy.close();
    }
  });

  test("usage: no PostgreSQL URL is a usage error (2); a missing source is a failure (1)", () => {
    const noUrl = Bun.spawnSync(["bun", "scripts/tradelite.ts", "migrate", "--from", source], { cwd: PROJECT_ROOT, env: serverEnv({ DATABASE_URL: "" }) });
    expect(noUrl.exitCode).toBe(2);
    expect(noUrl.stderr.toString()).toContain("TRADELITE_DATABASE_URL");
    const noSource = Bun.spawnSync(["bun", "scripts/tradelite.ts", "migrate", "--from", dir.file("nope.db"), "--to", "postgres://postgres@127.0.0.1:5432/postgres"], { cwd: PROJECT_ROOT, env: serverEnv({}) });
    expect(noSource.exitCode).toBe(1);
    expect(noSource.stderr.toString()).toContain("no SQLite database at");
  });
});

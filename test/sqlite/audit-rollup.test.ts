/**
 * src/sqlite/audit-rollup.ts: the rollup's pending row survives a SIGKILL of a real recorder
 * process, and a raw client's change to rolled-up bars is caught by verifyRollups().
 */
import { afterAll, expect, test } from "bun:test";
import { Database as SqliteDatabase } from "bun:sqlite";
import { openDatabase } from "../../src/mod.ts";
import { expectRollupsComplete, RECORDED_SYMBOLS, recordUntilKilled } from "../support/audit-rollup-crash.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-rollup-");
afterAll(() => dir.cleanup());

test("a recorder killed with SIGKILL between rollups loses no record: its pending rows hold every acknowledged write, and the next opening past the interval closes them", async () => {
  const path = dir.file("killed.db");
  const acknowledged = await recordUntilKilled({ backend: "sqlite", path }, dir);
  // What the dead process left: one pending row per symbol, no entries (the interval is a day).
  const raw = new SqliteDatabase(path, { readonly: true });
  const pending = raw.query("SELECT symbol, rows, batches FROM audit_pending ORDER BY symbol").all() as { symbol: string; rows: number; batches: number }[];
  const entries = (raw.query("SELECT count(*) AS n FROM audit_log").get() as { n: number }).n;
  raw.close();
  expect(pending.map((row) => row.symbol)).toEqual([...RECORDED_SYMBOLS].sort());
  for (const row of pending) expect(row.rows).toBeGreaterThanOrEqual(acknowledged.get(row.symbol)!.length);
  expect(entries).toBe(0);
  await Bun.sleep(5);
  await expectRollupsComplete({ backend: "sqlite", path, auditRollupMs: 1 }, acknowledged);
}, 120_000);

test("a bar a raw sqlite3 client rewrites inside a closed rollup is a mismatch nothing on the record explains", () => {
  const path = dir.file("tampered.db");
  const db = openDatabase({ path });
  const t0 = Date.UTC(2024, 0, 2, 1, 31);
  for (let i = 0; i < 5; i++) db.insertBars("600519.SH", [{ timestamp: t0 + i * 60_000, open: 10, high: 11, low: 9, close: 10.5, volume: 100, amount: 1050 }]);
  db.audit.rollUp();
  expect(db.audit.verifyRollups()).toEqual({ ok: true, checked: 1, pending: 0, mismatches: [] });
  const raw = new SqliteDatabase(path);
  raw.run("UPDATE market_data SET close = 10.6 WHERE symbol = '600519.SH' AND timestamp = ?", [t0 + 2 * 60_000]);
  raw.close();
  const check = db.audit.verifyRollups();
  expect(check.ok).toBe(false);
  expect(check.mismatches).toEqual([expect.objectContaining({ symbol: "600519.SH", start: t0, end: t0 + 4 * 60_000, changedBy: null })]);
  // The chain itself is intact: it is the bars that are not the ones recorded.
  expect(db.audit.verify().ok).toBe(true);
  db.close();
});

test("a live day of 200 symbols x 240 one-bar writes writes no entry until each symbol's rollup closes, then one per symbol", () => {
  const db = openDatabase({ path: dir.file("day.db") });
  const t0 = Date.UTC(2024, 0, 2, 1, 31);
  const symbols = Array.from({ length: 200 }, (_, i) => `${600000 + i}.SH`);
  for (let minute = 0; minute < 240; minute++) {
    for (const symbol of symbols) db.insertBars(symbol, [{ timestamp: t0 + minute * 60_000, open: 1, high: 1, low: 1, close: 1, volume: minute, amount: minute }]);
  }
  expect(db.audit.query()).toEqual([]);
  expect(db.audit.rollUp()).toBe(200);
  expect(db.audit.query().map((entry) => (entry.details as { rows: number }).rows)).toEqual(symbols.map(() => 240));
  expect(db.audit.verifyRollups()).toMatchObject({ ok: true, checked: 200, pending: 0 });
  db.close();
});

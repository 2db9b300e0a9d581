/**
 * src/postgres/audit-rollup.ts: the rollup's pending row survives a SIGKILL of a real recorder
 * process on PostgreSQL, and a change a raw client makes to rolled-up bars is caught.
 */
import { afterAll, expect, test } from "bun:test";
import { SQL } from "bun";
import { openStore } from "../../src/mod.ts";
import { expectRollupsComplete, RECORDED_SYMBOLS, recordUntilKilled } from "../support/audit-rollup-crash.ts";
import { tempDir } from "../support/files.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const available = await postgresAvailable();
const dir = tempDir("tradelite-pg-rollup-");
const databases: TestDatabase[] = [];
afterAll(async () => {
  dir.cleanup();
  for (const database of databases) await database.drop().catch(() => {});
}, 120_000);

if (available) {
  test("a recorder killed with SIGKILL between rollups loses no record: its pending rows hold every acknowledged write, and the next opening past the interval closes them", async () => {
    const database = await createTestDatabase("rollup_kill");
    databases.push(database);
    const acknowledged = await recordUntilKilled({ backend: "postgres", url: database.url, max: 2 }, dir);
    const raw = new SQL({ url: database.url, max: 1 });
    const pending = (await raw`SELECT symbol, rows::float8 AS rows FROM audit_pending ORDER BY symbol`) as { symbol: string; rows: number }[];
    const [entries] = (await raw`SELECT count(*)::float8 AS n FROM audit_log`) as { n: number }[];
    await raw.close();
    expect(pending.map((row) => row.symbol)).toEqual([...RECORDED_SYMBOLS].sort());
    for (const row of pending) expect(row.rows).toBeGreaterThanOrEqual(acknowledged.get(row.symbol)!.length);
    expect(entries!.n).toBe(0);
    await Bun.sleep(5);
    await expectRollupsComplete({ backend: "postgres", url: database.url, max: 2, auditRollupMs: 1 }, acknowledged);
  }, 120_000);

  test("a bar a raw client rewrites inside a closed rollup is a mismatch nothing on the record explains", async () => {
    const database = await createTestDatabase("rollup_tamper");
    databases.push(database);
    const store = await openStore({ backend: "postgres", url: database.url, max: 2 });
    try {
      const t0 = Date.UTC(2024, 0, 2, 1, 31);
      for (let i = 0; i < 5; i++) await store.insertBars("600519.SH", [{ timestamp: t0 + i * 60_000, open: 10, high: 11, low: 9, close: 10.5, volume: 100, amount: 1050 }]);
      await store.audit.rollUp();
      expect(await store.audit.verifyRollups()).toEqual({ ok: true, checked: 1, pending: 0, mismatches: [] });
      const raw = new SQL({ url: database.url, max: 1 });
      await raw`UPDATE market_data SET close = 10.6 WHERE symbol = '600519.SH' AND timestamp = ${t0 + 2 * 60_000}`;
      await raw.close();
      const check = await store.audit.verifyRollups();
      expect(check.ok).toBe(false);
      expect(check.mismatches).toEqual([expect.objectContaining({ symbol: "600519.SH", start: t0, end: t0 + 4 * 60_000, changedBy: null })]);
      expect((await store.audit.verify()).ok).toBe(true);
    } finally {
      await store.close();
    }
  });
}

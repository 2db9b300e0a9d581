/**
 * Maintenance on a real PostgreSQL: ANALYZE, VACUUM, CHECKPOINT and amcheck run and are reported,
 * stats and info read the catalog (never the password), and a backup answers NOT_SUPPORTED
 * naming pg_dump.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { StorageError, ValidationError } from "../../src/mod.ts";
import { createBarRepository } from "../../src/postgres/bars.ts";
import { PostgresPool } from "../../src/postgres/connection.ts";
import { createMaintenance } from "../../src/postgres/maintenance.ts";
import { migrate as migratePostgres } from "../../src/postgres/migrations.ts";
import { randomBars } from "../support/bars.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const available = await postgresAvailable();
let database: TestDatabase;
let pool: PostgresPool;
const runs: { action: string; details: Record<string, unknown> }[] = [];

beforeAll(async () => {
  if (!available) return;
  database = await createTestDatabase("maintenance");
  // A password in the URL (trust auth ignores it) must never come back in info().
  const url = new URL(database.url);
  url.password = "s3cret-pass";
  pool = new PostgresPool({ url: url.toString(), max: 2 });
  await migratePostgres(pool.sql);
});

afterAll(async () => {
  if (!available) return;
  await pool.close();
  await database.drop();
});

describe.skipIf(!available)("maintenance on PostgreSQL", () => {
  test("stats count every table's rows; info names the server and database without the password", async () => {
    const maintenance = createMaintenance(pool, async (action, _ms, details) => void runs.push({ action, details }));
    const bars = createBarRepository(pool, { timezone: "UTC", barTimestamp: "start" });
    await bars.insertBars("X", randomBars(Array.from({ length: 1_234 }, (_, i) => Date.UTC(2024, 0, 2) + i * 60_000), 1));
    const stats = await maintenance.stats();
    expect(stats.rows).toEqual({ market_data: 1_234, quotes: 0, session_cache: 0, model_artifacts: 0, audit_log: 0, user_preferences: 0, recovery_metrics: 0 });
    expect(stats.pageSize).toBe(8_192);
    expect(stats.fileBytes).toBeGreaterThan(0);
    expect(stats.pageCount).toBe(Math.ceil(stats.fileBytes / 8_192));
    const info = await maintenance.info();
    expect(info.path).toContain(new URL(database.url).pathname);
    expect(info.path).not.toContain("s3cret-pass");
    expect(info.journalMode).toBe("wal");
  });

  test("optimize is ANALYZE and vacuum frees what deleted rows held (VACUUM FULL); both are reported", async () => {
    const maintenance = createMaintenance(pool, async (action, _ms, details) => void runs.push({ action, details }));
    const bars = createBarRepository(pool, { timezone: "UTC", barTimestamp: "start" });
    await bars.insertBars("BIG", randomBars(Array.from({ length: 50_000 }, (_, i) => Date.UTC(2023, 0, 2) + i * 60_000), 2));
    runs.length = 0;
    expect((await maintenance.optimize()).durationMs).toBeGreaterThanOrEqual(0);
    const [{ analyzed }] = await pool.sql`SELECT (last_analyze IS NOT NULL) AS analyzed FROM pg_stat_user_tables WHERE relname = 'market_data'`;
    expect(analyzed).toBe(true);
    await bars.deleteBars("BIG");
    expect((await maintenance.vacuum({ incremental: true })).freedPages).toBeGreaterThanOrEqual(0);
    const full = await maintenance.vacuum();
    expect(full.freedPages).toBeGreaterThan(100);
    expect(runs.map((run) => run.action)).toEqual(["optimize", "vacuum", "vacuum"]);
    expect(runs[2]!.details).toEqual({ incremental: false, freedPages: full.freedPages });
    await expect(maintenance.vacuum({ incremental: "yes" as never })).rejects.toThrow(ValidationError);
  });

  test("checkpoint is CHECKPOINT, integrityCheck runs amcheck over every index (quick and full), backup answers NOT_SUPPORTED naming pg_dump", async () => {
    runs.length = 0;
    const maintenance = createMaintenance(pool, async (action, _ms, details) => void runs.push({ action, details }));
    const [{ before }] = await pool.sql`SELECT checkpoints_req::float8 AS before FROM pg_stat_bgwriter`;
    expect(await maintenance.checkpoint("TRUNCATE")).toMatchObject({ mode: "TRUNCATE", busy: false });
    // The checkpointer reports its counters when it gets to it, not as CHECKPOINT returns (seen
    // once while other sessions were busy): a second is allowed for the count to show.
    let after = before;
    for (let tries = 0; tries < 20 && after <= before; tries++) {
      [{ after }] = await pool.sql`SELECT checkpoints_req::float8 AS after FROM pg_stat_bgwriter`;
      if (after <= before) await Bun.sleep(50);
    }
    expect(after).toBeGreaterThan(before);
    await expect(maintenance.checkpoint("SOMETIMES" as never)).rejects.toThrow(ValidationError);
    for (const quick of [true, false]) expect(await maintenance.integrityCheck({ quick })).toMatchObject({ ok: true, problems: [] });
    expect(runs.map((run) => [run.action, run.details])).toEqual([
      ["checkpoint", { mode: "TRUNCATE" }],
      ["integrity", { quick: true, ok: true }],
      ["integrity", { quick: false, ok: true }],
    ]);
    const error = await maintenance.backup().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("NOT_SUPPORTED");
    expect((error as Error).message).toContain("pg_dump");
  });

  test("tables inheriting from tradelite's (how TimescaleDB keeps a hypertable's chunks) are counted by vacuum and checked by integrityCheck", async () => {
    const maintenance = createMaintenance(pool, async () => {});
    // A child in another schema, as chunks live in _timescaledb_internal.
    await pool.sql.unsafe(`CREATE SCHEMA chunks; CREATE TABLE chunks.market_data_1 () INHERITS (market_data);
                           CREATE INDEX market_data_1_time ON chunks.market_data_1 (symbol, timestamp)`);
    try {
      await pool.sql`INSERT INTO chunks.market_data_1 (symbol, timestamp, open) SELECT 'CHILD', g, 1 FROM generate_series(1, 40000) AS g`;
      await pool.sql`DELETE FROM chunks.market_data_1`;
      expect((await maintenance.vacuum()).freedPages).toBeGreaterThan(100);
      expect(await maintenance.integrityCheck({ quick: true })).toMatchObject({ ok: true, problems: [] });
      // An index the server cannot vouch for (a unique build that failed leaves it INVALID): named as a problem.
      await pool.sql`INSERT INTO chunks.market_data_1 (symbol, timestamp) VALUES ('CHILD', 1), ('CHILD', 1)`;
      await pool.sql.unsafe(`CREATE UNIQUE INDEX CONCURRENTLY market_data_1_unique ON chunks.market_data_1 (symbol, timestamp)`).catch(() => {});
      const checked = await maintenance.integrityCheck({ quick: true });
      expect(checked.ok).toBe(false);
      expect(checked.problems).toHaveLength(1);
      expect(checked.problems[0]).toContain("chunks.market_data_1_unique");
    } finally {
      await pool.sql.unsafe("DROP SCHEMA chunks CASCADE");
    }
  });

  test("without amcheck, an integrity check says what is missing (NOT_SUPPORTED)", async () => {
    await pool.sql`DROP EXTENSION amcheck`;
    try {
      const error = await createMaintenance(pool, async () => {}).integrityCheck().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).code).toBe("NOT_SUPPORTED");
      expect((error as Error).message).toContain("amcheck");
    } finally {
      await pool.sql`CREATE EXTENSION amcheck`;
    }
  });
});

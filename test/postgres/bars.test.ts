/**
 * The PostgreSQL foundation over a real server: migrations (versioned, concurrent, refusing a
 * newer schema), the append-only audit table, and market_data's upserts, reads, deletes and
 * overview, compared operation by operation with SQLite's for the same inputs. Each run creates
 * its own database and drops it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { openDatabase, StorageError, ValidationError, type Bar, type Database } from "../../src/mod.ts";
import { createPgBars } from "../../src/postgres/bars.ts";
import { PostgresPool, resolvePostgresUrl } from "../../src/postgres/connection.ts";
import { migratePostgres, POSTGRES_SCHEMA_VERSION } from "../../src/postgres/migrations.ts";
import { randomBars } from "../support/bars.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";
import { readTdxBars, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";

const available = await postgresAvailable();
const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 2, 1, 31);

let database: TestDatabase;
let pool: PostgresPool;

beforeAll(async () => {
  if (!available) return;
  database = await createTestDatabase("bars");
  pool = new PostgresPool({ url: database.url, max: 4 });
  await migratePostgres(pool.sql);
});

afterAll(async () => {
  if (!available) return;
  await pool.close();
  await database.drop();
});

describe("connection options", () => {
  test("the URL comes from the option, then TRADELITE_DATABASE_URL, then DATABASE_URL; none, or not postgres://, is a ValidationError", () => {
    expect(resolvePostgresUrl("postgres://a@h/db", { TRADELITE_DATABASE_URL: "postgres://b@h/db" })).toBe("postgres://a@h/db");
    expect(resolvePostgresUrl(undefined, { TRADELITE_DATABASE_URL: "postgres://b@h/db", DATABASE_URL: "postgres://c@h/db" })).toBe("postgres://b@h/db");
    expect(resolvePostgresUrl(undefined, { DATABASE_URL: "postgresql://c@h/db" })).toBe("postgresql://c@h/db");
    expect(() => resolvePostgresUrl(undefined, {})).toThrow(ValidationError);
    expect(() => resolvePostgresUrl("mysql://x@h/db", {})).toThrow(ValidationError);
    expect(() => new PostgresPool({ url: "postgres://x@h/db", max: 0 })).toThrow(ValidationError);
  });
});

describe.skipIf(!available)("migrations on a real server", () => {
  test("a new database is migrated once even when several pools open it at the same time; a second run changes nothing", async () => {
    const fresh = await createTestDatabase("migrate");
    const pools = Array.from({ length: 4 }, () => new PostgresPool({ url: fresh.url, max: 2 }));
    try {
      expect(await Promise.all(pools.map((each) => migratePostgres(each.sql)))).toEqual([1, 1, 1, 1].map(() => POSTGRES_SCHEMA_VERSION));
      expect(await migratePostgres(pools[0]!.sql)).toBe(POSTGRES_SCHEMA_VERSION);
      const applied = await pools[0]!.sql`SELECT version, description FROM schema_migrations ORDER BY version`;
      expect(applied.map((row: { version: number }) => row.version)).toEqual([1]);
      const tables = await pools[0]!.sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`;
      expect(tables.map((row: { table_name: string }) => row.table_name)).toEqual([
        "audit_log",
        "market_data",
        "model_artifacts",
        "quotes",
        "recovery_metrics",
        "schema_migrations",
        "session_cache",
        "user_preferences",
      ]);
    } finally {
      await Promise.all(pools.map((each) => each.close()));
      await fresh.drop();
    }
  });

  test("a database migrated by a newer tradelite is refused with SCHEMA_TOO_NEW, and left as it is", async () => {
    const fresh = await createTestDatabase("newer");
    const newer = new PostgresPool({ url: fresh.url, max: 1 });
    try {
      await migratePostgres(newer.sql);
      await newer.sql`INSERT INTO schema_migrations (version, description) VALUES (${POSTGRES_SCHEMA_VERSION + 1}, 'from the future')`;
      const error = await migratePostgres(newer.sql).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).code).toBe("SCHEMA_TOO_NEW");
      const [{ count }] = await newer.sql`SELECT count(*)::integer AS count FROM schema_migrations`;
      expect(count).toBe(2);
    } finally {
      await newer.close();
      await fresh.drop();
    }
  });

  test("audit_log is append-only in the database itself: UPDATE, DELETE and TRUNCATE are refused", async () => {
    await pool.sql`INSERT INTO audit_log (id, timestamp, actor, action, entity, details, prev_hash, hash) VALUES (1, 0, 'a', 'x', NULL, '{}', ${"0".repeat(64)}, ${"1".repeat(64)})`;
    for (const statement of ["UPDATE audit_log SET actor = 'b'", "DELETE FROM audit_log", "TRUNCATE audit_log"]) {
      const error = await pool.run((sql) => sql.unsafe(statement)).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).code).toBe("PG_P0001");
      expect((error as Error).message).toContain("append-only");
    }
    const [{ count }] = await pool.sql`SELECT count(*)::integer AS count FROM audit_log`;
    expect(count).toBe(1);
  });
});

describe.skipIf(!available)("market_data: the same answers as SQLite for the same operations", () => {
  let sqlite: Database;
  let pg: ReturnType<typeof createPgBars>;
  beforeAll(() => {
    if (!available) return;
    sqlite = openDatabase({ path: ":memory:", timezone: "Asia/Shanghai" });
    pg = createPgBars(pool, { timezone: "Asia/Shanghai", barTimestamp: "start" });
  });
  afterAll(() => sqlite?.close());

  async function both<T>(work: (store: { insertBars: typeof pg.insertBars; getBars: typeof pg.getBars; latestBar: typeof pg.latestBar; deleteBars: typeof pg.deleteBars; overview: typeof pg.overview }) => Promise<T> | T): Promise<T> {
    const fromSqlite = await work({
      insertBars: async (symbol, bars) => sqlite.insertBars(symbol, bars),
      getBars: async (symbol, query) => sqlite.getBars(symbol, query),
      latestBar: async (symbol) => sqlite.latestBar(symbol),
      deleteBars: async (symbol, range) => sqlite.deleteBars(symbol, range),
      overview: async () => sqlite.overview(),
    });
    const fromPostgres = await work(pg);
    expect(fromPostgres).toEqual(fromSqlite);
    return fromPostgres;
  }

  test("batches with repeated timestamps (last one wins), NULLs, overlapping upserts, columns and objects", async () => {
    const first = randomBars(Array.from({ length: 500 }, (_, i) => T0 + i * MINUTE), 1);
    const withRepeats: Bar[] = [...first.slice(0, 50), { ...first[10]!, close: 1_234.5, high: 1_300 }, { ...first[20]!, volume: null, amount: null }];
    expect(await both((store) => store.insertBars("AAA", first))).toBe(500);
    expect(await both((store) => store.insertBars("AAA", withRepeats))).toBe(50);
    const columns = {
      timestamp: Float64Array.from({ length: 300 }, (_, i) => T0 + (400 + i) * MINUTE),
      open: Float64Array.from({ length: 300 }, () => 10),
      high: Float64Array.from({ length: 300 }, () => 11),
      low: Float64Array.from({ length: 300 }, () => 9),
      close: Float64Array.from({ length: 300 }, () => 10.5),
      volume: Float64Array.from({ length: 300 }, (_, i) => i),
      amount: Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? null : i * 10.5)),
    };
    expect(await both((store) => store.insertBars("AAA", columns))).toBe(300);
    const bars = await both((store) => store.getBars("AAA"));
    expect(bars.length).toBe(700);
    expect(bars[10]!.close).toBe(1_234.5);
    expect(bars[20]!.volume).toBeNull();
    expect(typeof bars[0]!.timestamp).toBe("number");
  });

  test("reads: ranges (epoch ms and naive local times), limits, descending order, latest, overview; deletes by range", async () => {
    await both((store) => store.insertBars("BBB", randomBars(Array.from({ length: 100 }, (_, i) => T0 + i * 5 * MINUTE), 2)));
    const queries = [
      {},
      { order: "desc" as const },
      { limit: 7 },
      { order: "desc" as const, limit: 3 },
      { start: T0 + 100 * MINUTE, end: T0 + 200 * MINUTE },
      { start: "2024-01-02 09:40", end: "2024-01-02 10:00" },
      { start: T0 + 1, end: T0 + 2 },
    ];
    for (const symbol of ["AAA", "BBB", "NONE"]) {
      for (const query of queries) await both((store) => store.getBars(symbol, query));
      await both((store) => store.latestBar(symbol));
    }
    await both((store) => store.overview());
    expect(await both((store) => store.deleteBars("BBB", { start: T0 + 50 * MINUTE, end: T0 + 100 * MINUTE }))).toBe(11);
    expect(await both((store) => store.deleteBars("BBB", { start: T0 + 50 * MINUTE, end: T0 + 100 * MINUTE }))).toBe(0);
    await both((store) => store.getBars("BBB"));
    expect(await both((store) => store.deleteBars("BBB"))).toBe(89);
    expect((await both((store) => store.overview())).map((row) => row.symbol)).toEqual(["AAA"]);
  });

  test("bad input is refused as SQLite refuses it, and nothing is written", async () => {
    for (const bad of [[{ timestamp: T0, open: 1, high: 0.5, low: 1, close: 1 }], [{ timestamp: Number.NaN, open: 1, high: 1, low: 1, close: 1 }]]) {
      const errors = await Promise.all([
        Promise.resolve().then(() => sqlite.insertBars("CCC", bad as never)).catch((error: unknown) => error),
        pg.insertBars("CCC", bad as never).catch((error: unknown) => error),
      ]);
      expect(errors[1]).toBeInstanceOf(ValidationError);
      expect((errors[1] as ValidationError).issues).toEqual((errors[0] as ValidationError).issues);
    }
    await expect(pg.getBars("has space")).rejects.toThrow(ValidationError);
    await expect(pg.getBars("AAA", { start: T0 + 10, end: T0 })).rejects.toThrow(ValidationError);
    expect(await pg.getBars("CCC")).toEqual([]);
  });

  test("the real TDX export: 24,000 bars with denormal volumes read back exactly as SQLite holds them", async () => {
    const tdx = (await readTdxBars(TDX_INDEX_1MIN)).map((bar) => ({ ...bar, timestamp: bar.timestamp }));
    expect(await both((store) => store.insertBars("000001.SH", tdx))).toBe(24_000);
    const bars = await both((store) => store.getBars("000001.SH"));
    expect(bars.some((bar) => bar.volume === 5.877471754111438e-39)).toBe(true);
  });

  test("statement text never varies with the data: 200 batches of varying sizes leave a fixed number of prepared statements", async () => {
    const single = new PostgresPool({ url: database.url, max: 1 });
    try {
      const bars = createPgBars(single, { timezone: "UTC", barTimestamp: "start" });
      const counted = async () => {
        const [{ count }] = await single.sql`SELECT count(*)::integer AS count FROM pg_prepared_statements`;
        return count as number;
      };
      await bars.insertBars("PREP", randomBars([T0], 1));
      const before = await counted();
      for (let batch = 0; batch < 200; batch++) {
        const size = 1 + ((batch * 37) % 250);
        await bars.insertBars("PREP", randomBars(Array.from({ length: size }, (_, i) => T0 + (batch * 1_000 + i) * MINUTE), batch));
      }
      expect(await counted()).toBe(before);
      expect(before).toBeLessThanOrEqual(6);
    } finally {
      await single.close();
    }
  });
});

describe.skipIf(!available)("a lost connection", () => {
  test("lost during a call, it surfaces as a StorageError; the next call connects again (between calls the pool reconnects by itself)", async () => {
    const lonely = new PostgresPool({ url: database.url, max: 1 });
    const killer = new SQL({ url: database.url, max: 1 });
    try {
      const bars = createPgBars(lonely, { timezone: "UTC", barTimestamp: "start" });
      expect(await bars.latestBar("AAA")).not.toBeNull();
      const [{ pid }] = await lonely.sql`SELECT pg_backend_pid() AS pid`;
      // A call in flight when the server ends its connection.
      const inFlight = lonely.run((sql) => sql`SELECT pg_sleep(5)`).catch((caught: unknown) => caught);
      await Bun.sleep(100);
      await killer`SELECT pg_terminate_backend(${pid})`;
      const error = await inFlight;
      expect(error).toBeInstanceOf(StorageError);
      expect(["CONNECTION", "PG_57P01"]).toContain((error as StorageError).code);
      expect(await bars.latestBar("AAA")).not.toBeNull();
      // Ended between calls: the next call simply works.
      const [{ pid: again }] = await lonely.sql`SELECT pg_backend_pid() AS pid`;
      await killer`SELECT pg_terminate_backend(${again})`;
      await Bun.sleep(50);
      expect(await bars.latestBar("AAA")).not.toBeNull();
    } finally {
      await killer.close();
      await lonely.close();
    }
  });
});

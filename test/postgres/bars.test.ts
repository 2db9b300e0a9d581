/**
 * The PostgreSQL foundation over a real server: migrations (versioned, concurrent, refusing a
 * newer schema, migrating the previous one), the append-only audit table, and market_data's and
 * market_data_daily's upserts, reads, deletes and overview, compared operation by operation with
 * SQLite's for the same inputs. Each run creates
 * its own database and drops it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { Database as SqliteDatabase } from "bun:sqlite";
import fc from "fast-check";
import { dailyDifferences, openDatabase, openStore, StorageError, ValidationError, type Bar, type Database, type Store } from "../../src/mod.ts";
import { createBarRepository } from "../../src/postgres/bars.ts";
import { createQuoteRepository } from "../../src/postgres/quotes.ts";
import { PostgresPool, resolvePostgresUrl } from "../../src/postgres/connection.ts";
import { migrate as migratePostgres, MIGRATIONS as POSTGRES_MIGRATIONS, SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION } from "../../src/postgres/migrations.ts";
import { shippedCalendar } from "../../src/domain/calendars/index.ts";
import { randomBars } from "../support/bars.ts";
import { ADMIN_URL, createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";
import { readTdxBars, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";
import { DROP_DERIVED_DAYS } from "../support/postgres-derived-days.ts";
import { readTushareDaily } from "../support/real-data-tushare.ts";
import { DROP_POSTGRES_CHANGE_LOG } from "../support/watch.ts";

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
      expect(applied.map((row: { version: number }) => row.version)).toEqual(POSTGRES_MIGRATIONS.map((migration) => migration.version));
      const tables = await pools[0]!.sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`;
      expect(tables.map((row: { table_name: string }) => row.table_name)).toEqual([
        "adjustment_factors",
        "audit_log",
        "audit_pending",
        "bar_changes",
        "bar_changes_state",
        "calendar_days",
        "calendars",
        "corporate_actions",
        "instrument_status",
        "instruments",
        "market_data",
        "market_data_daily",
        "market_data_days",
        "market_data_days_basis",
        "market_data_days_built",
        "market_data_days_dirty",
        "market_data_summary",
        "model_artifacts",
        "quotes",
        "recovery_metrics",
        "schema_migrations",
        "session_cache",
        "settings",
        "symbol_calendars",
        "user_preferences",
      ]);
      // The shipped calendars were written once, by the one pool that ran the migration.
      const calendars = await pools[0]!.sql`SELECT c.name, c.version::float8 AS version, count(d.date)::float8 AS days
                                            FROM calendars AS c JOIN calendar_days AS d ON d.calendar = c.name GROUP BY c.name, c.version ORDER BY c.name`;
      expect([...calendars]).toEqual(["XSHE", "XSHG"].map((name) => ({ name, version: 1, days: shippedCalendar(name)!.days.length })));
      // market_data is a hypertable exactly when the server has TimescaleDB (this project's machines do not).
      const sql = pools[0]!.sql;
      const [{ timescale }] = await sql`SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS timescale`;
      const [{ hypertable }] = timescale
        ? await sql`SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'market_data') AS hypertable`
        : [{ hypertable: false }];
      expect(hypertable).toBe(timescale);
      const [{ kind }] = await sql`SELECT relkind::text AS kind FROM pg_class WHERE oid = 'market_data'::regclass`;
      expect(kind).toBe("r");
    } finally {
      await Promise.all(pools.map((each) => each.close()));
      await fresh.drop();
    }
  });

  test("a database at schema 8 (before market_data_daily and the summary) migrates to the current schema, keeps its rows, counts them and takes daily bars", async () => {
    const fresh = await createTestDatabase("previous");
    const owner = new PostgresPool({ url: fresh.url, max: 2 });
    try {
      await migratePostgres(owner.sql);
      const bars = createBarRepository(owner, { timezone: "Asia/Shanghai", barTimestamp: "end" });
      const minutes = (await readTdxBars(TDX_INDEX_1MIN)).slice(0, 2_400);
      await bars.insertBars("000001.SH", minutes);
      const before = await bars.getBars("000001.SH");
      // Schema 8 exactly: this one without the tables of migrations 9 to 13 (the summary's
      // functions too), and their records.
      await owner.sql`DROP TABLE market_data_daily`;
      await owner.sql`DROP TABLE audit_pending`;
      await owner.sql`DROP TABLE adjustment_factors, corporate_actions, instrument_status, instruments`;
      await owner.sql.unsafe(`DROP TABLE market_data_summary; DROP FUNCTION market_data_summary_insert, market_data_summary_delete,
        market_data_summary_update, market_data_summary_truncate, market_data_daily_summary_insert, market_data_daily_summary_delete,
        market_data_daily_summary_update, market_data_daily_summary_truncate CASCADE; ${DROP_POSTGRES_CHANGE_LOG}`);
      await owner.sql.unsafe(DROP_DERIVED_DAYS);
      await owner.sql`DELETE FROM schema_migrations WHERE version >= 9`;
      expect(POSTGRES_SCHEMA_VERSION).toBe(15);
      expect(await migratePostgres(owner.sql)).toBe(15);
      expect(await bars.getBars("000001.SH")).toEqual(before);
      const key = await owner.sql`SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                                  WHERE i.indrelid = 'market_data_daily'::regclass AND i.indisprimary ORDER BY a.attnum`;
      expect(key.map((row: { name: string }) => row.name)).toEqual(["symbol", "timestamp"]);
      expect(await bars.insertBars("000001.SH", [{ timestamp: "2022-12-16", open: 1, high: 2, low: 0.5, close: 1.5, volume: 10, amount: 15 }], { interval: "1d" })).toBe(1);
      expect(await bars.overview()).toEqual([
        {
          symbol: "000001.SH",
          count: 2_400,
          start: before[0]!.timestamp,
          end: before[before.length - 1]!.timestamp,
          daily: { count: 1, start: Date.parse("2022-12-16T00:00:00+08:00"), end: Date.parse("2022-12-16T00:00:00+08:00") },
        },
      ]);
    } finally {
      await owner.close();
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
      expect(count).toBe(POSTGRES_SCHEMA_VERSION + 1);
    } finally {
      await newer.close();
      await fresh.drop();
    }
  });

  test("a migrated database opens with a role that may use its tables but not create any; a role that may not migrate a new one gets a clear error", async () => {
    const role = `tradelite_user_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
    const fresh = await createTestDatabase("least");
    const owner = new PostgresPool({ url: fresh.url, max: 1 });
    const roleUrl = (() => {
      const url = new URL(fresh.url);
      url.username = role;
      return url.toString();
    })();
    try {
      await owner.sql.unsafe(`CREATE ROLE ${role} LOGIN`);
      await owner.sql.unsafe(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
      // Before the owner migrates: the role cannot create schema_migrations, and says so.
      const refused = await openStore({ backend: "postgres", url: roleUrl }).catch((caught: unknown) => caught);
      expect(refused).toBeInstanceOf(StorageError);
      expect((refused as StorageError).code).toBe("PG_42501");
      await migratePostgres(owner.sql);
      await owner.sql.unsafe(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
      await owner.sql.unsafe(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
      const store = await openStore({ backend: "postgres", url: roleUrl });
      try {
        expect(await store.insertBars("LEAST", [{ timestamp: T0, open: 1, high: 2, low: 1, close: 2, volume: 10, amount: 20 }])).toBe(1);
        expect(await store.getBars("LEAST")).toHaveLength(1);
        expect((await store.audit.verify()).ok).toBe(true);
      } finally {
        await store.close();
      }
      const [{ count }] = await owner.sql`SELECT count(*)::integer AS count FROM schema_migrations`;
      expect(count).toBe(POSTGRES_SCHEMA_VERSION);
    } finally {
      await owner.close();
      await fresh.drop();
      const admin = new SQL({ url: ADMIN_URL, max: 1 });
      await admin.unsafe(`DROP ROLE IF EXISTS ${role}`);
      await admin.close();
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
  let pg: ReturnType<typeof createBarRepository>;
  beforeAll(() => {
    if (!available) return;
    sqlite = openDatabase({ path: ":memory:", timezone: "Asia/Shanghai" });
    pg = createBarRepository(pool, { timezone: "Asia/Shanghai", barTimestamp: "start" });
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
      const bars = createBarRepository(single, { timezone: "UTC", barTimestamp: "start" });
      const counted = async () => {
        const [{ count }] = await single.sql`SELECT count(*)::integer AS count FROM pg_prepared_statements`;
        return count as number;
      };
      // Warm-up: a symbol's first batch builds its derived days, the next ones continue a day,
      // start one or land inside one (src/postgres/derived-days.ts): every text the loop can use.
      await bars.insertBars("PREP", randomBars([T0], 1));
      await bars.insertBars("PREP", randomBars([T0 + MINUTE], 1));
      await bars.insertBars("PREP", randomBars([T0 + 3 * 86_400_000], 1));
      await bars.insertBars("PREP", randomBars([T0 + 30_000], 1));
      const before = await counted();
      for (let batch = 0; batch < 200; batch++) {
        const size = 1 + ((batch * 37) % 250);
        await bars.insertBars("PREP", randomBars(Array.from({ length: size }, (_, i) => T0 + (batch * 1_000 + i) * MINUTE), batch));
      }
      expect(await counted()).toBe(before);
      expect(before).toBeLessThanOrEqual(20);
    } finally {
      await single.close();
    }
  });
});

describe.skipIf(!available)("resampling in SQL: the same bars as SQLite, across DST changes, to the last bit", () => {
  const HOUR = 60 * MINUTE;
  /** Minute bars around the clock from `first` for `hours`, with amounts that make plain and compensated sums differ. */
  function aroundTheClock(first: number, hours: number, seed: number): Bar[] {
    const bars = randomBars(Array.from({ length: hours * 60 }, (_, i) => first + i * MINUTE), seed);
    return bars.map((bar, i) => ({ ...bar, amount: i % 97 === 0 ? 1e16 : i % 97 < 3 ? 1 : Math.round(bar.amount! * 100 + 0.37) / 100, volume: i % 50 === 7 ? null : bar.volume }));
  }
  const zones = [
    { timezone: "America/New_York", days: [Date.UTC(2024, 2, 9, 0), Date.UTC(2024, 10, 2, 0)] },
    { timezone: "Asia/Shanghai", days: [Date.UTC(2024, 0, 1, 16)] },
  ];
  for (const { timezone, days } of zones) {
    test(`${timezone}: every interval, both stampings, both orders, limits and ranges`, async () => {
      const sqlite = openDatabase({ path: ":memory:", timezone });
      const pg = createBarRepository(pool, { timezone, barTimestamp: "start" });
      const symbol = `RS-${timezone}`;
      try {
        for (const [k, day] of days.entries()) {
          const bars = aroundTheClock(day, 72, 10 + k);
          expect(sqlite.insertBars(symbol, bars)).toBe(await pg.insertBars(symbol, bars));
        }
        let compared = 0;
        for (const interval of ["1m", "5m", "15m", "30m", "1h", "1d", "1w"] as const) {
          for (const barTimestamp of ["start", "end"] as const) {
            for (const extra of [{}, { order: "desc" as const }, { limit: 5 }, { order: "desc" as const, limit: 3 }, { start: days[0]! + 30 * HOUR + 7 * MINUTE, end: days[0]! + 52 * HOUR }]) {
              const query = { interval, barTimestamp, ...extra };
              const fromPostgres = await pg.getBars(symbol, query);
              expect({ query, bars: fromPostgres }).toEqual({ query, bars: sqlite.getBars(symbol, query) });
              const iterated: Bar[] = [];
              for await (const bar of pg.iterateBars(symbol, query)) iterated.push(bar);
              expect(iterated).toEqual(fromPostgres);
              compared++;
            }
          }
        }
        expect(compared).toBe(70);
        // The compensated sums matter: a day holding 1e16 and a few 1s sums differently in plain float.
        const daily = sqlite.getBars(symbol, { interval: "1d" });
        expect(daily.some((bar) => bar.amount !== null && bar.amount > 1e16)).toBe(true);
      } finally {
        sqlite.close();
      }
    });
  }

  test("paged iteration of stored bars crosses page boundaries (8,192 rows) in both orders", async () => {
    const sqlite = openDatabase({ path: ":memory:" });
    const pg = createBarRepository(pool, { timezone: "UTC", barTimestamp: "start" });
    try {
      const bars = randomBars(Array.from({ length: 20_000 }, (_, i) => T0 + i * MINUTE), 5);
      sqlite.insertBars("PAGED", bars);
      await pg.insertBars("PAGED", bars);
      for (const query of [{}, { order: "desc" as const }, { limit: 8_193 }, { order: "desc" as const, limit: 16_385 }]) {
        const iterated: Bar[] = [];
        for await (const bar of pg.iterateBars("PAGED", query)) iterated.push(bar);
        expect(iterated).toEqual([...sqlite.iterateBars("PAGED", query)]);
      }
    } finally {
      sqlite.close();
    }
  });
});

describe.skipIf(!available)("resampled sums past the largest double", () => {
  test("a bucket whose volume or amount overflows is Infinity on both backends (PostgreSQL used to raise 22003), and its neighbours stay exact", async () => {
    const sqlite = openDatabase({ path: ":memory:" });
    const pg = createBarRepository(pool, { timezone: "UTC", barTimestamp: "start" });
    const MAX = Number.MAX_VALUE;
    const big = [
      // 09:31-09:35: both sums overflow (volumes and amounts are >= 0, so only upwards); later values do not bring them back.
      { volume: MAX, amount: 1e308 }, { volume: MAX, amount: 1e308 }, { volume: 1, amount: 1e308 }, { volume: 2, amount: 5 }, { volume: 3, amount: 0 },
      // 09:36-09:40: the largest finite sum, no overflow: MAX/2 + MAX/2 is MAX exactly.
      { volume: MAX / 2, amount: 1 }, { volume: MAX / 2, amount: 2 }, { volume: 0, amount: 3 }, { volume: 0, amount: 4 }, { volume: 0, amount: 0.1 },
    ].map((values, i) => ({ timestamp: Date.UTC(2024, 0, 2, 1, 30) + i * MINUTE, open: 10, high: 11, low: 9, close: 10.5, ...values }));
    try {
      sqlite.insertBars("HUGE", big);
      await pg.insertBars("HUGE", big);
      for (const interval of ["5m", "1h", "1d"] as const) {
        const expected = sqlite.getBars("HUGE", { interval });
        expect(await pg.getBars("HUGE", { interval })).toEqual(expected);
      }
      const fiveMinutes = sqlite.getBars("HUGE", { interval: "5m" });
      expect(fiveMinutes.map((bar) => bar.volume)).toEqual([Infinity, MAX]);
      expect(fiveMinutes.map((bar) => bar.amount)).toEqual([Infinity, 10.1]);
    } finally {
      sqlite.close();
    }
  });

  test("the edges: the smallest subnormal (no underflow error), and an overflow reached only by adding the error term at the end", async () => {
    const sqlite = openDatabase({ path: ":memory:" });
    const pg = createBarRepository(pool, { timezone: "UTC", barTimestamp: "start" });
    const start = Date.UTC(2024, 0, 3, 1, 30);
    // Bucket 1: 1 + 5e-324. Bucket 2: MAX + 2^969 + 2^969 stays MAX in the running sum, and the
    // error term (2^970) takes it past MAX at the end: Infinity. Bucket 3: 5e-324 + 5e-324.
    const volumes = [[1, 5e-324], [Number.MAX_VALUE, 2 ** 969, 2 ** 969], [5e-324, 5e-324]];
    const bars = volumes.flatMap((bucket, b) =>
      bucket.map((volume, i) => ({ timestamp: start + (b * 5 + i) * MINUTE, open: 10, high: 11, low: 9, close: 10.5, volume, amount: volume })),
    );
    try {
      sqlite.insertBars("EDGE", bars);
      await pg.insertBars("EDGE", bars);
      const expected = sqlite.getBars("EDGE", { interval: "5m" });
      expect(expected.map((bar) => bar.volume)).toEqual([1, Infinity, 1e-323]);
      expect(await pg.getBars("EDGE", { interval: "5m" })).toEqual(expected);
      expect(await pg.getBars("EDGE", { interval: "1d" })).toEqual(sqlite.getBars("EDGE", { interval: "1d" }));
    } finally {
      sqlite.close();
    }
  });
});

describe.skipIf(!available)("tradelite_ksum against SQLite's sum()", () => {
  test("generated sequences of extreme values (both signs, subnormals, near the largest double) sum to the same bits or both to Infinity, never to an error", async () => {
    const lite = new SqliteDatabase(":memory:");
    lite.run("CREATE TABLE t (i INTEGER PRIMARY KEY, v REAL)");
    const insert = lite.prepare("INSERT INTO t (i, v) VALUES (?, ?)");
    const total = lite.prepare("SELECT sum(v) AS s FROM t");
    const MAX = Number.MAX_VALUE;
    const special = fc.constantFrom(MAX, MAX * (1 - 2 ** -53), 2 ** 1023, 2 ** 970, 2 ** 969, 1e308, 5e-324, 1.5e-323, 2 ** -1022, 1, 0.1, 0.3, 1e16, 0);
    const value = fc.tuple(special, fc.boolean()).map(([magnitude, negative]) => (negative ? -magnitude : magnitude));
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(value, { minLength: 1, maxLength: 6 }), async (values) => {
          lite.run("DELETE FROM t");
          values.forEach((v, i) => insert.run(i, v));
          const expected = (total.get() as { s: number }).s;
          const [{ s }] = await pool.run(
            (sql) => sql`SELECT tradelite_ksum(v ORDER BY i) AS s FROM unnest(${values}::float8[]) WITH ORDINALITY AS u(v, i)`,
          );
          expect({ values, sum: s }).toEqual({ values, sum: expected });
        }),
        { numRuns: 400, seed: 20261127 },
      );
    } finally {
      lite.close();
    }
  });
});

describe.skipIf(!available)("quotes: the same answers as SQLite", () => {
  test("upserts with repeats and NULLs, range reads in both orders with limits, and the same refusals", async () => {
    const sqlite = openDatabase({ path: ":memory:", timezone: "Asia/Shanghai" });
    const pg = createQuoteRepository(pool, { timezone: "Asia/Shanghai" });
    try {
      const quotes = Array.from({ length: 300 }, (_, i) => ({
        timestamp: T0 + i * 3_000,
        bid: 10 + i / 100,
        bid_size: i % 11 === 0 ? null : 100 + i,
        ask: 10.01 + i / 100,
        ask_size: 200 + i,
        last: i % 13 === 0 ? null : 10.005 + i / 100,
        volume: i * 100,
      }));
      const repeats = [...quotes.slice(0, 20), { ...quotes[5]!, bid: 9.99 }, { timestamp: "2024-01-02 09:31:03", bid: 1, bid_size: 1, ask: 2, ask_size: 1, last: null, volume: 0 }];
      for (const batch of [quotes, repeats]) expect(await pg.insertQuotes("Q", batch)).toBe(sqlite.insertQuotes("Q", batch));
      for (const query of [{}, { order: "desc" as const, limit: 7 }, { start: T0 + 30_000, end: T0 + 90_000 }, { start: "2024-01-02 09:31", end: "2024-01-02 09:32" }]) {
        expect(await pg.getQuotes("Q", query)).toEqual(sqlite.getQuotes("Q", query));
      }
      const bad = [{ timestamp: T0, bid: -1, bid_size: 1, ask: 1, ask_size: 1, last: 1, volume: 1 }];
      const errors = [await pg.insertQuotes("Q", bad).catch((e: unknown) => e), await Promise.resolve().then(() => sqlite.insertQuotes("Q", bad)).catch((e: unknown) => e)];
      expect(errors[0]).toBeInstanceOf(ValidationError);
      expect((errors[0] as ValidationError).issues).toEqual((errors[1] as ValidationError).issues);
      expect(await pg.getQuotes("Q")).toEqual(sqlite.getQuotes("Q"));
    } finally {
      sqlite.close();
    }
  });
});

describe.skipIf(!available)("a lost connection", () => {
  test("lost during a call, it surfaces as a StorageError; the next call connects again (between calls the pool reconnects by itself)", async () => {
    const lonely = new PostgresPool({ url: database.url, max: 1 });
    const killer = new SQL({ url: database.url, max: 1 });
    try {
      const bars = createBarRepository(lonely, { timezone: "UTC", barTimestamp: "start" });
      expect(await bars.latestBar("AAA")).not.toBeNull();
      const [{ pid }] = await lonely.sql`SELECT pg_backend_pid() AS pid`;
      // A call in flight when the server ends its connection.
      const inFlight = lonely.run((sql) => sql`SELECT pg_sleep(5)`).catch((caught: unknown) => caught);
      await Bun.sleep(100);
      await killer`SELECT pg_terminate_backend(${pid})`;
      const error = await inFlight;
      expect(error).toBeInstanceOf(StorageError);
      // The server says 57P01 (admin shutdown) first: that is the link failing, so CONNECTION (503), not a statement error.
      expect((error as StorageError).code).toBe("CONNECTION");
      expect(await bars.latestBar("AAA")).not.toBeNull();
      // A transaction the server ends for idling (25P03) is the link failing too.
      const idled = await lonely
        .run((sql) =>
          sql.begin(async (tx) => {
            await tx`SET LOCAL idle_in_transaction_session_timeout = '200ms'`;
            await Bun.sleep(600);
            await tx`SELECT 1`;
          }),
        )
        .catch((caught: unknown) => caught);
      expect((idled as StorageError).code).toBe("CONNECTION");
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

describe.skipIf(!available)("the daily series over real data: the same answers as SQLite", () => {
  test("Tushare's daily file and the TDX minutes: 1d reads of each source and merged, ranges, limits, overview, the comparison", async () => {
    const sqlite = await openStore({ backend: "sqlite", path: ":memory:", timezone: "Asia/Shanghai", barTimestamp: "end" });
    const postgres = await openStore({ backend: "postgres", url: database.url, timezone: "Asia/Shanghai", barTimestamp: "end", max: 2 });
    try {
      const days = (await readTushareDaily()).filter((bar) => bar.timestamp !== "1992-08-03");
      const minutes = await readTdxBars(TDX_INDEX_1MIN);
      const same = async <T>(work: (store: Store) => Promise<T>): Promise<T> => {
        const expected = await work(sqlite);
        expect(await work(postgres)).toEqual(expected);
        return expected;
      };
      await same((store) => store.insertBars("REAL", days, { interval: "1d" }));
      await same((store) => store.insertBars("REAL", minutes));
      // Days from minutes stored for the first 50 minute dates, two of them changed: both sides overlap there.
      const fromMinutes = await same((store) => store.getBars("REAL", { interval: "1d", source: "minutes" }));
      const overlap = fromMinutes.slice(0, 50).map((bar, i) => (i === 7 ? { ...bar, close: bar.close! + 1 } : i === 20 ? { ...bar, amount: bar.amount! * 1.5 } : bar));
      await same((store) => store.insertBars("REAL", overlap, { interval: "1d" }));
      for (const query of [
        {},
        { source: "stored" as const },
        { source: "minutes" as const },
        { order: "desc" as const, limit: 60 },
        { start: "2018-08-01", end: "2023-01-31 23:59" },
        { start: "1991-06-01", end: "1991-10-01", source: "stored" as const },
        { barTimestamp: "start" as const, limit: 10 },
      ]) {
        const bars = await same((store) => store.getBars("REAL", { interval: "1d", ...query }));
        expect(bars.length).toBeGreaterThan(0);
      }
      expect((await same((store) => store.getBars("REAL", { interval: "1d" }))).length).toBe(6_677 + 100);
      // Every Tushare day (1991-2018) is on the stored side only; from 2022 on: the two changed days, then the minutes' own.
      expect(await same(async (store) => (await dailyDifferences(store, "REAL")).length)).toBe(6_677 + 2 + 50);
      const date = (timestamp: number) => new Date(timestamp + 8 * 3_600_000).toISOString().slice(0, 10);
      const recent = await same((store) => dailyDifferences(store, "REAL", { start: "2022-01-01" }));
      expect(recent.map((d) => [d.date, d.present, d.fields.join(",")])).toEqual([
        [date(overlap[7]!.timestamp), "both", "close"],
        [date(overlap[20]!.timestamp), "both", "amount"],
        ...fromMinutes.slice(50).map((bar) => [date(bar.timestamp), "minutes", ""]),
      ]);
      // The PostgreSQL database is shared with this file's other tests: compare this symbol's row.
      const mine = async (store: Store) => (await store.overview()).filter((row) => row.symbol === "REAL");
      expect((await same(mine))[0]!.daily!.count).toBe(6_677 + 50);
      expect(await same((store) => store.deleteBars("REAL", { start: "2000-01-01", end: "2009-12-31 23:59" }, { interval: "1d" }))).toBeGreaterThan(2_000);
      await same((store) => store.getBars("REAL", { interval: "1d" }));
      await same((store) => store.deleteBars("REAL"));
      await same((store) => store.getBars("REAL", { interval: "1d" }));
      await same(mine);
    } finally {
      await sqlite.close();
      await postgres.close();
    }
  });
});

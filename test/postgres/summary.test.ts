/**
 * market_data_summary on PostgreSQL (src/postgres/summary.ts): overview() equals a full GROUP BY
 * recount after every write by other clients (psql, and a second raw Bun.SQL connection with
 * plain SQL: multi-row inserts, COPY, upserts, range deletes, key moves, TRUNCATE), with the
 * statement-level triggers and with the row-level ones a hypertable gets; concurrent writers of
 * one symbol leave it exact; migration 12 fills it from the rows already stored.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { openStore, type Store, type SymbolOverview } from "../../src/mod.ts";
import { mergeOverviews } from "../../src/domain/daily.ts";
import { summaryTriggersSql } from "../../src/postgres/summary.ts";
import { randomBars } from "../support/bars.ts";
import { DROP_DERIVED_DAYS } from "../support/postgres-derived-days.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";
import { DROP_POSTGRES_CHANGE_LOG } from "../support/watch.ts";

const available = await postgresAvailable();
const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 2, 1, 31);
/** Every summary trigger function (and with CASCADE its triggers), both series. */
const DROP_TRIGGERS = `DROP FUNCTION ${["market_data", "market_data_daily"]
  .flatMap((table) => ["insert", "delete", "update", "truncate"].map((event) => `${table}_summary_${event}`))
  .join(", ")} CASCADE`;
const stamps = (from: number, count: number) => Array.from({ length: count }, (_, i) => T0 + (from + i) * MINUTE);

let database: TestDatabase;
let raw: SQL;

beforeAll(async () => {
  if (!available) return;
  database = await createTestDatabase("summary");
  raw = new SQL({ url: database.url, max: 2 });
  // Opening a store migrates the new database.
  await (await openStore({ backend: "postgres", url: database.url, max: 1 })).close();
});

afterAll(async () => {
  if (!available) return;
  await raw.close();
  await database.drop();
});

/** What overview() said before the summary: GROUP BY over both bar tables. */
async function recount(sql: SQL = raw): Promise<SymbolOverview[]> {
  const minutes = await sql`SELECT symbol, count(*)::float8 AS count, min(timestamp)::float8 AS start, max(timestamp)::float8 AS "end"
                            FROM market_data GROUP BY symbol ORDER BY symbol COLLATE "C"`;
  const daily = await sql`SELECT symbol, count(*)::float8 AS count, min(timestamp)::float8 AS start, max(timestamp)::float8 AS "end"
                          FROM market_data_daily GROUP BY symbol ORDER BY symbol COLLATE "C"`;
  return mergeOverviews([...minutes], [...daily]);
}

/** psql -c, as an operator types it: its own connection, its own transaction. */
async function psql(statement: string): Promise<void> {
  const child = Bun.spawn(["psql", database.url, "-v", "ON_ERROR_STOP=1", "-q", "-c", statement], { stdout: "pipe", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`psql exited ${code}: ${stderr}`);
}

async function seeded(): Promise<Store> {
  await raw`TRUNCATE market_data, market_data_daily`;
  const store = await openStore({ backend: "postgres", url: database.url, max: 2 });
  await store.insertBars("600519.SH", randomBars(stamps(0, 240)));
  await store.insertBars("000001.SZ", randomBars(stamps(0, 10)));
  await store.insertBars("000001.SZ", randomBars([Date.UTC(2024, 0, 12)]), { interval: "1d" });
  return store;
}

/** The writes of another program, each one statement, then the overview compared after it. */
async function foreignWrites(store: Store): Promise<void> {
  const insert = (symbol: string, ...timestamps: number[]) =>
    `INSERT INTO market_data (symbol, timestamp, close) VALUES ${timestamps.map((t) => `('${symbol}', ${t}, 1)`).join(", ")}`;
  const steps: [string, () => Promise<unknown>][] = [
    ["psql: new bars, one a new symbol", () => psql(insert("600519.SH", T0 + 240 * MINUTE, T0 - MINUTE) + `; ${insert("510300.SH", T0)}`)],
    ["psql: upserts of stored bars (DO UPDATE, DO NOTHING) and of a new one", () => psql(`${insert("600519.SH", T0 + 5 * MINUTE, T0 + 6 * MINUTE, T0 + 999 * MINUTE)} ON CONFLICT (symbol, timestamp) DO UPDATE SET close = excluded.close; ${insert("000001.SZ", T0)} ON CONFLICT DO NOTHING`)],
    ["psql: COPY", () => psql(`COPY market_data (symbol, timestamp, close) FROM PROGRAM 'printf "510300.SH\\t${T0 + MINUTE}\\t1\\n510300.SH\\t${T0 + 2 * MINUTE}\\t1\\n"'`)],
    ["raw SQL: a range delete through the first bar, one through the last", () => raw.begin(async (tx) => {
      await tx`DELETE FROM market_data WHERE symbol = ${"600519.SH"} AND timestamp <= ${T0 + 20 * MINUTE}`;
      await tx`DELETE FROM market_data WHERE symbol = ${"600519.SH"} AND timestamp >= ${T0 + 200 * MINUTE}`;
    })],
    ["raw SQL: key moves, a symbol's bars shifted and one bar renamed", () => raw.begin(async (tx) => {
      await tx`UPDATE market_data SET timestamp = timestamp + 1000 WHERE symbol = ${"000001.SZ"}`;
      await tx`UPDATE market_data SET symbol = ${"300750.SZ"} WHERE symbol = ${"600519.SH"} AND timestamp = ${T0 + 100 * MINUTE}`;
    })],
    ["raw SQL: a daily bar, and every minute of one symbol deleted", () => raw.begin(async (tx) => {
      await tx`INSERT INTO market_data_daily (symbol, timestamp, close) VALUES (${"510300.SH"}, ${Date.UTC(2024, 0, 12)}, 1)`;
      await tx`DELETE FROM market_data WHERE symbol = ${"000001.SZ"}`;
    })],
    ["a rolled-back delete changes nothing", () => raw.begin(async (tx) => {
      await tx`DELETE FROM market_data`;
      throw new Error("rolled back");
    }).catch(() => {})],
  ];
  for (const [what, write] of steps) {
    await write();
    expect({ what, overview: await store.overview() }).toEqual({ what, overview: await recount() });
  }
  await psql("TRUNCATE market_data");
  expect(await store.overview()).toEqual(await recount());
  expect((await store.overview()).map((row) => row.symbol)).toEqual(["000001.SZ", "510300.SH"]);
}

describe.skipIf(!available)("the summary on a real server", () => {
  test("writes by psql and by a raw connection leave overview() equal to a full recount, statement by statement", async () => {
    const store = await seeded();
    try {
      await foreignWrites(store);
    } finally {
      await store.close();
    }
  });

  test("the row-level triggers a TimescaleDB hypertable gets keep it as exact", async () => {
    await raw.unsafe(DROP_TRIGGERS);
    await raw.unsafe(summaryTriggersSql("row"));
    try {
      const store = await seeded();
      try {
        expect(await store.overview()).toEqual(await recount());
        await foreignWrites(store);
      } finally {
        await store.close();
      }
    } finally {
      await raw.unsafe(DROP_TRIGGERS);
      await raw.unsafe(summaryTriggersSql("statement"));
    }
  });

  test("concurrent writers of one symbol (inserts and deletes at READ COMMITTED, raw and through the store) leave it exact", async () => {
    const store = await seeded();
    const writers = Array.from({ length: 4 }, () => new SQL({ url: database.url, max: 1 }));
    try {
      await Promise.all(
        writers.map(async (sql, w) => {
          for (let round = 0; round < 15; round++) {
            const at = T0 + (1_000 + w * 100 + round) * MINUTE;
            await sql`INSERT INTO market_data (symbol, timestamp, close) VALUES (${"600519.SH"}, ${at}, 1), (${"600519.SH"}, ${at + 50 * MINUTE}, 1)`;
            if (round % 3 === 0) await sql`DELETE FROM market_data WHERE symbol = ${"600519.SH"} AND timestamp = (SELECT max(timestamp) FROM market_data WHERE symbol = ${"600519.SH"})`;
            if (round % 4 === 0) await sql`DELETE FROM market_data WHERE symbol = ${"600519.SH"} AND timestamp = (SELECT min(timestamp) FROM market_data WHERE symbol = ${"600519.SH"})`;
            if (round % 5 === 0) await store.insertBars("600519.SH", randomBars(stamps(w * 7, 5)));
          }
        }),
      );
      expect(await store.overview()).toEqual(await recount());
    } finally {
      for (const sql of writers) await sql.close();
      await store.close();
    }
  });

  test("migration 12 fills the summary from the bars a database already holds", async () => {
    const store = await seeded();
    await store.close();
    await raw.unsafe(`${DROP_DERIVED_DAYS}; DROP TABLE audit_pending; DROP TABLE market_data_summary; ${DROP_TRIGGERS}; ${DROP_POSTGRES_CHANGE_LOG}; DELETE FROM schema_migrations WHERE version >= 12`);
    // Written while no trigger was there: the migration's GROUP BY must count it too.
    await raw`INSERT INTO market_data (symbol, timestamp, close) VALUES (${"510300.SH"}, ${T0}, 1)`;
    const reopened = await openStore({ backend: "postgres", url: database.url, max: 2 });
    try {
      expect(await reopened.overview()).toEqual(await recount());
      expect((await reopened.overview()).map((row) => row.symbol)).toEqual(["000001.SZ", "510300.SH", "600519.SH"]);
    } finally {
      await reopened.close();
    }
  });
});

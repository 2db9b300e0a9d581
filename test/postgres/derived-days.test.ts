/**
 * market_data_days on PostgreSQL (src/postgres/derived-days.ts): writes by psql in its own
 * process (inserts, upserts, UPDATE of old minutes, deletes, TRUNCATE) are marked by the
 * triggers and read on the fly until tradelite's next write settles them; migration 14 builds
 * nothing and buildDerivedDays builds; a 1d read takes the derived rows (a row changed behind
 * tradelite's back shows).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SQL } from "bun";
import { openStore, type BarQuery, type Store } from "../../src/mod.ts";
import { createBarRepository } from "../../src/postgres/bars.ts";
import { PostgresPool } from "../../src/postgres/connection.ts";
import { sessionBars } from "../support/bars.ts";
import { expectDerivedEqual } from "../support/conformance-derived.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const available = await postgresAvailable();
const SYMBOL = "600519.SH";
const bars = sessionBars(20, 31, "2024-01-29");
const ranges: BarQuery[] = [{}, { start: bars[300]!.timestamp, end: bars[3000]!.timestamp }];

let database: TestDatabase;
let raw: SQL;

beforeAll(async () => {
  if (!available) return;
  database = await createTestDatabase("derived");
  raw = new SQL({ url: database.url, max: 2 });
});

afterAll(async () => {
  if (!available) return;
  await raw.close();
  await database.drop();
});

async function psql(statement: string): Promise<void> {
  const child = Bun.spawn(["psql", database.url, "-v", "ON_ERROR_STOP=1", "-q", "-c", statement], { stdout: "pipe", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`psql exited ${code}: ${stderr}`);
}

async function seeded(): Promise<Store> {
  const store = await openStore({ backend: "postgres", url: database.url, max: 2, timezone: "Asia/Shanghai", barTimestamp: "end" });
  await raw`TRUNCATE market_data`;
  for (let i = 0; i < bars.length; i += 240) await store.insertBars(SYMBOL, bars.slice(i, i + 240));
  return store;
}

async function count(table: string): Promise<number> {
  const [row] = await raw.unsafe(`SELECT count(*)::float8 AS n FROM ${table}`);
  return row.n;
}

test.skipIf(!available)("psql's writes are marked by the triggers, read on the fly, and settled by tradelite's next write", async () => {
  const store = await seeded();
  try {
    expect(await count("market_data_days")).toBe(20);
    const row = (t: number, close = 120) => `('${SYMBOL}', ${t}, 100, 300, 50, ${close}, 1234, 5678.25)`;
    const insert = `INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume, amount) VALUES`;
    const steps: [string, string][] = [
      ["new minutes after the last day and inside an old day", `${insert} ${row(bars.at(-1)!.timestamp + 86_400_000)}, ${row(bars[480]!.timestamp - 1_800_000)}`],
      ["an upsert of stored minutes", `${insert} ${row(bars[700]!.timestamp)}, ${row(bars[701]!.timestamp)} ON CONFLICT (symbol, timestamp) DO UPDATE SET high = excluded.high, volume = excluded.volume`],
      ["an UPDATE of old minutes (a late correction)", `UPDATE market_data SET close = close * 1.01, amount = amount + 0.25 WHERE symbol = '${SYMBOL}' AND timestamp BETWEEN ${bars[1500]!.timestamp} AND ${bars[1600]!.timestamp}`],
      ["a range delete across two days", `DELETE FROM market_data WHERE symbol = '${SYMBOL}' AND timestamp BETWEEN ${bars[2000]!.timestamp} AND ${bars[2300]!.timestamp}`],
    ];
    for (const [what, statement] of steps) {
      await psql(statement);
      expect({ what, marked: (await count("market_data_days_dirty")) > 0 }).toEqual({ what, marked: true });
      await expectDerivedEqual(store, SYMBOL, ranges);
    }
    await store.insertBars(SYMBOL, [{ ...bars[10]!, volume: 7 }]);
    expect(await count("market_data_days_dirty")).toBe(0);
    await expectDerivedEqual(store, SYMBOL, ranges);
    // A 1d read takes the derived rows: one changed behind tradelite's back shows.
    const day = (await store.getBars(SYMBOL, { interval: "1d" }))[3]!;
    await raw`UPDATE market_data_days SET close = 999 WHERE symbol = ${SYMBOL} AND day = ${day.timestamp}`;
    expect((await store.getBars(SYMBOL, { interval: "1d" }))[3]!.close).toBe(999);
    expect((await store.getBars(SYMBOL, { interval: "1d", derived: false }))[3]!.close).toBe(day.close);
    await psql("TRUNCATE market_data");
    expect(await count("market_data_days")).toBe(0);
    expect(await store.getBars(SYMBOL, { interval: "1d" })).toEqual([]);
  } finally {
    await store.close();
  }
});

test.skipIf(!available)("unbuilt symbols (a migrated database) read on the fly; buildDerivedDays builds them", async () => {
  const store = await seeded();
  try {
    await raw`DELETE FROM market_data_days_built`;
    await raw`DELETE FROM market_data_days`;
    await expectDerivedEqual(store, SYMBOL, ranges);
    const pool = new PostgresPool({ url: database.url, max: 1 });
    try {
      const repository = createBarRepository(pool, { timezone: "Asia/Shanghai", barTimestamp: "end" });
      expect(await repository.buildDerivedDays()).toBe(1);
    } finally {
      await pool.close();
    }
    expect(await count("market_data_days")).toBe(20);
    await expectDerivedEqual(store, SYMBOL, ranges);
  } finally {
    await store.close();
  }
});

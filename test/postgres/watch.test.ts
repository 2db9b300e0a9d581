/**
 * store.watch() on PostgreSQL: the conformance suite over a real server, psql writing as another
 * program, the row-level triggers a TimescaleDB hypertable gets, and the LISTEN connection
 * terminated by the server while bars are written.
 */
import { afterAll, expect, test } from "bun:test";
import { SQL } from "bun";
import { openStore } from "../../src/mod.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";
import { changeTriggersSql } from "../../src/postgres/changes.ts";
import { DROP_POSTGRES_CHANGE_TRIGGERS, take } from "../support/watch.ts";
import { watchConformance } from "../support/watch-conformance.ts";

const available = await postgresAvailable();
const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const database of databases) await database.drop().catch(() => {});
}, 120_000);
const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 2, 1, 31);

async function fresh(label: string) {
  const database = await createTestDatabase(label);
  databases.push(database);
  return { url: database.url, store: await openStore({ backend: "postgres", url: database.url, max: 4 }) };
}

async function psql(url: string, script: string): Promise<void> {
  const child = Bun.spawn(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", script], { stdout: "pipe", stderr: "pipe" });
  if ((await child.exited) !== 0) throw new Error(await new Response(child.stderr).text());
}

if (available) {
  watchConformance("postgres", async () => {
    const { url, store } = await fresh("watch");
    return { store, location: { backend: "postgres", url, max: 2 }, raw: { url } };
  });

  test("postgres: rows psql writes (a multi-row INSERT, then an upsert of one) arrive once each, in order", async () => {
    const { url, store } = await fresh("watch_psql");
    try {
      const watch = store.watch({ symbols: ["600519.SH"] });
      await watch.ready;
      await psql(url, `INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume)
        SELECT '600519.SH', ${T0} + g * ${MINUTE}, 10, 11, 9, 10.5, 100 FROM generate_series(0, 29) AS g`);
      await psql(url, `INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume) VALUES ('600519.SH', ${T0 + 29 * MINUTE}, 10, 11, 9, 10.75, 100)
        ON CONFLICT (symbol, timestamp) DO UPDATE SET close = excluded.close`);
      const events = await take(watch, 31);
      expect(events.map((event) => (event.bar.timestamp - T0) / MINUTE)).toEqual([...Array.from({ length: 30 }, (_, i) => i), 29]);
      expect(events[30]!.bar.close).toBe(10.75);
      await watch.return();
    } finally {
      await store.close();
    }
  });

  test("postgres: with the row-level triggers a hypertable gets, psql's multi-row writes and an upsert arrive once each, in order", async () => {
    const { url, store } = await fresh("watch_rows");
    const admin = new SQL({ url, max: 1 });
    try {
      await admin.unsafe(DROP_POSTGRES_CHANGE_TRIGGERS);
      await admin.unsafe(changeTriggersSql("row"));
      const watch = store.watch({ symbols: ["600519.SH"] });
      await watch.ready;
      await psql(url, `INSERT INTO market_data (symbol, timestamp, close)
        SELECT s, ${T0} + g * ${MINUTE}, 1 FROM generate_series(0, 19) AS g, (VALUES ('600519.SH'), ('000001.SZ')) AS v(s)`);
      const inserted = await take(watch, 20);
      expect(inserted.map((event) => (event.bar.timestamp - T0) / MINUTE)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      await psql(url, `DELETE FROM market_data WHERE symbol = '600519.SH' AND timestamp = ${T0}`);
      // One statement that updates minute 19 and inserts minute 20: one range, in order.
      await store.insertBars("600519.SH", [{ timestamp: T0 + 19 * MINUTE, close: 2 }, { timestamp: T0 + 20 * MINUTE, close: 2 }]);
      const upserted = await take(watch, 2);
      expect(upserted.map((event) => [(event.bar.timestamp - T0) / MINUTE, event.bar.close])).toEqual([[19, 2], [20, 2]]);
      const kinds = (await admin`SELECT kind, count(*)::int AS n FROM bar_changes GROUP BY kind ORDER BY kind`) as { kind: string; n: number }[];
      expect(kinds).toEqual([{ kind: "delete", n: 1 }, { kind: "upsert", n: 42 }]);
      await watch.return();
    } finally {
      await admin.close();
      await store.close();
    }
  });

  test("postgres: a LISTEN connection the server terminates comes back, and the bars written meanwhile arrive once each", async () => {
    const { url, store } = await fresh("watch_listen");
    const admin = new SQL({ url, max: 1 });
    try {
      const watch = store.watch({ symbols: ["600519.SH"] });
      await watch.ready;
      // Waiting for a change is what subscribes.
      const first = take(watch, 1);
      await Bun.sleep(100);
      await store.insertBars("600519.SH", [{ timestamp: T0, close: 1 }]);
      expect((await first)[0]!.bar.timestamp).toBe(T0);
      const listeners = (await admin`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'`) as { pid: number }[];
      expect(listeners.length).toBe(1);
      await admin`SELECT pg_terminate_backend(${listeners[0]!.pid})`;
      for (let i = 1; i <= 5; i++) await psql(url, `INSERT INTO market_data (symbol, timestamp, close) VALUES ('600519.SH', ${T0 + i * MINUTE}, 1)`);
      const events = await take(watch, 5);
      expect(events.map((event) => (event.bar.timestamp - T0) / MINUTE)).toEqual([1, 2, 3, 4, 5]);
      await watch.return();
    } finally {
      await admin.close();
      await store.close();
    }
  });
}

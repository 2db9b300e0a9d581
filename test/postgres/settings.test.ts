/**
 * src/postgres/settings.ts on a real server: a database older than the settings table takes its
 * settings from its first opening, once; stores opening a new database at the same time agree.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { openStore, ValidationError, type Store } from "../../src/mod.ts";
import { PostgresPool } from "../../src/postgres/connection.ts";
import { MIGRATIONS as POSTGRES_MIGRATIONS } from "../../src/postgres/migrations.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const available = await postgresAvailable();
const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const database of databases) await database.drop().catch(() => {});
});

async function database(label: string): Promise<TestDatabase> {
  const created = await createTestDatabase(label);
  databases.push(created);
  return created;
}

describe.skipIf(!available)("settings on PostgreSQL", () => {
  test("a database at schema 6 (before the settings table) takes its settings from its first opening, once", async () => {
    const old = await database("settings_old");
    const pool = new PostgresPool({ url: old.url, max: 1 });
    try {
      await pool.sql`CREATE TABLE schema_migrations (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
      for (const migration of POSTGRES_MIGRATIONS.filter((each) => each.version <= 6)) {
        await pool.sql.unsafe(migration.sql);
        await pool.sql`INSERT INTO schema_migrations (version, description) VALUES (${migration.version}, ${migration.description})`;
      }
      await pool.sql`INSERT INTO market_data (symbol, timestamp, open) VALUES ('S', 1704067200000, 1)`;
    } finally {
      await pool.close();
    }
    const first = await openStore({ backend: "postgres", url: old.url, max: 2, timezone: "Asia/Shanghai", barTimestamp: "end" });
    expect([first.timezone, first.barTimestamp, first.calendar]).toEqual(["Asia/Shanghai", "end", null]);
    expect(await first.getBars("S")).toHaveLength(1);
    await first.close();
    const plain = await openStore({ backend: "postgres", url: old.url, max: 2, initialSettings: { timezone: "UTC" } });
    expect([plain.timezone, plain.barTimestamp]).toEqual(["Asia/Shanghai", "end"]);
    await plain.close();
    const error = await openStore({ backend: "postgres", url: old.url, max: 2, barTimestamp: "start" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toContain("barTimestamp: the database stores end, the option says start");
  });

  test("stores opening one new database at once with different zones: exactly one opens, the other is refused naming both", async () => {
    for (let round = 0; round < 3; round++) {
      const fresh = await database("settings_race");
      const zones = ["Asia/Shanghai", "America/New_York", "Europe/London"];
      const results = await Promise.allSettled(zones.map((timezone) => openStore({ backend: "postgres", url: fresh.url, max: 2, timezone })));
      const opened = results.filter((result): result is PromiseFulfilledResult<Store> => result.status === "fulfilled").map((result) => result.value);
      expect(opened).toHaveLength(1);
      const winner = opened[0]!.timezone;
      for (const result of results) {
        if (result.status === "rejected") expect(String((result.reason as Error).message)).toContain(`the database stores ${winner}, the option says`);
      }
      await opened[0]!.close();
      const again = await openStore({ backend: "postgres", url: fresh.url, max: 1 });
      expect(again.timezone).toBe(winner);
      await again.close();
    }
  });
});

/**
 * The four record repositories on PostgreSQL together (metrics, prefs, audit, artifacts): their
 * statement text never varies with the data, so the server's prepared statements stop growing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { PostgresPool } from "../../src/postgres/connection.ts";
import { migrate as migratePostgres } from "../../src/postgres/migrations.ts";
import { createTestDatabase } from "../support/postgres.ts";
import { openPgRecords, available, cleanups, closeRecordTests, T0 } from "../support/postgres-records.ts";

afterEach(closeRecordTests);

describe.skipIf(!available)("statements", () => {
  test("statement text never varies with the data: a second round of different records adds no prepared statement", async () => {
    const fresh = await createTestDatabase("records_prepared");
    const single = new PostgresPool({ url: fresh.url, max: 1 });
    cleanups.push(async () => {
      await single.close();
      await fresh.drop();
    });
    await migratePostgres(single.sql);
    const pg = openPgRecords(single, { timezone: "UTC", actor: "tradelite" });
    const round = async (n: number) => {
      await pg.metrics.record(`m${n}`, n * 1.5, { round: String(n), [`k${n}`]: "v" });
      await pg.metrics.query(`m${n}`, { since: n, until: T0 + n, labels: { round: String(n) } });
      await pg.metrics.query(`m${n}`);
      await pg.metrics.summary(`m${n}`);
      await pg.prefs.set(`p${n}`, { n, list: Array.from({ length: n }, (_, i) => i) });
      await pg.prefs.get(`p${n}`);
      await pg.prefs.all();
      await pg.prefs.delete(`p${n}`);
      await pg.audit.append({ actor: `a${n}`, action: "x", entity: n % 2 ? null : "e", details: { n } });
      await pg.audit.query({ actor: `a${n}`, action: "x", limit: n });
      await pg.audit.query({});
      await pg.audit.head();
      await pg.audit.verify();
      await pg.artifacts.register({ name: `m${n}`, version: String(n), path: `/p/${n}`, sha256: String(n % 10).repeat(64), size: n, tags: [`t${n}`] }, { readFile: false });
      await pg.artifacts.get(`m${n}`);
      await pg.artifacts.get(`m${n}`, String(n));
      await pg.artifacts.list({ name: `m${n}`, tag: `t${n}` });
      await pg.artifacts.list();
      await pg.artifacts.remove(`m${n}`, String(n));
    };
    const counted = async () => {
      const [{ count }] = await single.sql`SELECT count(*)::integer AS count FROM pg_prepared_statements`;
      return count as number;
    };
    await round(1);
    await round(2);
    const before = await counted();
    for (let n = 3; n < 10; n++) await round(n);
    expect(await counted()).toBe(before);
  });
});

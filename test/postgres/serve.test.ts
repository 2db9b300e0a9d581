/**
 * `bun run serve` over PostgreSQL (TRADELITE_BACKEND=postgres): the same API in its own process,
 * the store on a real server, the session cache's routes answering 501.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { killAllServers, startServeProcess } from "../support/api-server.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const available = await postgresAvailable();
const databases: TestDatabase[] = [];
afterAll(async () => {
  await killAllServers();
  for (const database of databases) await database.drop().catch(() => {});
});

describe.skipIf(!available)("serve over PostgreSQL", () => {
  test("health names the backend; bars go in and out; the audit chain verifies; cache routes are 501; SIGTERM exits 0", async () => {
    const database = await createTestDatabase("serve");
    databases.push(database);
    const server = await startServeProcess({ TRADELITE_BACKEND: "postgres", TRADELITE_DATABASE_URL: database.url, TRADELITE_PORT: "0", TRADELITE_TIMEZONE: "Asia/Shanghai" });
    expect(server.stdout()).toContain("backend postgres; no session cache");
    const health = (await (await fetch(`${server.url}/health`)).json()) as { db: { path: string } };
    expect(health).toMatchObject({ status: "ok", backend: "postgres", timezone: "Asia/Shanghai", db: { journalMode: "wal" } });
    expect(health.db.path).toContain(new URL(database.url).pathname);

    const bars = [
      { timestamp: "2024-01-15 09:31", open: 10, high: 10.2, low: 9.9, close: 10.1, volume: 100, amount: 1010 },
      { timestamp: "2024-01-15 09:32", open: 10.1, high: 10.3, low: 10, close: 10.2, volume: 200, amount: 2040 },
    ];
    const posted = await fetch(`${server.url}/v1/bars/600519.SH`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(bars) });
    expect(await posted.json()).toEqual({ written: 2 });
    const read = (await (await fetch(`${server.url}/v1/bars/600519.SH?format=ndjson`)).text()).trimEnd().split("\n").map((line) => JSON.parse(line));
    expect(read.map((bar: { timestamp: number }) => bar.timestamp)).toEqual([Date.parse("2024-01-15T09:31:00+08:00"), Date.parse("2024-01-15T09:32:00+08:00")]);
    expect(await (await fetch(`${server.url}/v1/audit/verify`)).json()).toEqual({ ok: true, checked: 1 });
    const cache = await fetch(`${server.url}/v1/cache`);
    expect(cache.status).toBe(501);
    expect(((await cache.json()) as { error: { code: string } }).error.code).toBe("NOT_IMPLEMENTED");

    server.proc.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });
});

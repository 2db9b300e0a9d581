/**
 * `bun run serve` over PostgreSQL (TRADELITE_BACKEND=postgres): the same API in its own process,
 * the store on a real server, the session cache's files on disk and its rows on the server.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { cacheFileName } from "../../src/cache/file-name.ts";
import { killAllServers, startServeProcess } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const available = await postgresAvailable();
const databases: TestDatabase[] = [];
const dir = tempDir("tradelite-serve-pg-");
afterAll(async () => {
  dir.cleanup();
  await killAllServers();
  for (const database of databases) await database.drop().catch(() => {});
});

describe.skipIf(!available)("serve over PostgreSQL", () => {
  test("health names the backend; bars go in and out, directly and through the session cache; the audit chain verifies; SIGTERM exits 0", async () => {
    const database = await createTestDatabase("serve");
    databases.push(database);
    const cacheDir = dir.file("cache");
    const server = await startServeProcess({ TRADELITE_BACKEND: "postgres", TRADELITE_DATABASE_URL: database.url, TRADELITE_PORT: "0", TRADELITE_TIMEZONE: "Asia/Shanghai", TRADELITE_CACHE_DIR: cacheDir });
    expect(server.stdout()).toContain("backend postgres");
    expect(server.stdout()).toContain(`session cache: ${cacheDir}`);
    const health = (await (await fetch(`${server.url}/v1/info`)).json()) as { db: { path: string } };
    expect(health).toMatchObject({ backend: "postgres", timezone: "Asia/Shanghai", db: { journalMode: "wal" } });
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
    // Through the session cache: the file on this machine, the row and the written-through bars on the server.
    const cached = [{ timestamp: "2024-01-15 09:33", open: 10.2, high: 10.4, low: 10.1, close: 10.3, volume: 300, amount: 3090 }];
    const stored = await fetch(`${server.url}/v1/cache/600519.SH`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(cached) });
    expect(stored.status).toBe(200);
    expect(((await stored.json()) as { written: number }).written).toBe(1);
    const listed = (await (await fetch(`${server.url}/v1/cache`)).json()) as { symbol: string; row_count: number }[];
    expect(listed).toMatchObject([{ symbol: "600519.SH", row_count: 3 }]);
    expect(readdirSync(cacheDir)).toEqual([cacheFileName("600519.SH")]);
    const fromCache = (await (await fetch(`${server.url}/v1/cache/600519.SH`)).json()) as { timestamp: number }[];
    expect(fromCache.map((bar) => bar.timestamp)).toEqual([
      Date.parse("2024-01-15T09:31:00+08:00"),
      Date.parse("2024-01-15T09:32:00+08:00"),
      Date.parse("2024-01-15T09:33:00+08:00"),
    ]);
    expect(await (await fetch(`${server.url}/v1/audit/verify`)).json()).toMatchObject({ ok: true });

    server.proc.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });
});

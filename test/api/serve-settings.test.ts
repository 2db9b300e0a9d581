/**
 * `bun run serve` as a real process reads the settings the database stores: $TRADELITE_TIMEZONE
 * and $TRADELITE_BAR_TIMESTAMP only say what a new database stores, so a server started with
 * them over a Shanghai database answers in Shanghai days, on both SQLite backends.
 */
import { afterAll, expect, test } from "bun:test";
import { openDatabase } from "../../src/mod.ts";
import { killAllServers, startServeProcess } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-serve-settings-");
afterAll(async () => {
  await killAllServers();
  dir.cleanup();
});

for (const backend of ["sqlite-worker", "sqlite"]) {
  test(`${backend}: /v1/info reports the stored settings and ?start=20240115&end=20240115 is the Shanghai day, whatever the environment says`, async () => {
    const dbPath = dir.file(`${backend}.db`);
    const db = openDatabase({ path: dbPath, timezone: "Asia/Shanghai", barTimestamp: "end", calendar: "XSHG" });
    const edges = [Date.UTC(2024, 0, 14, 15, 59), Date.UTC(2024, 0, 14, 16), Date.UTC(2024, 0, 15, 15, 59), Date.UTC(2024, 0, 15, 16)];
    db.insertBars("S", edges.map((timestamp) => ({ timestamp, open: 1, high: 1, low: 1, close: 1 })));
    db.close();
    const server = await startServeProcess({
      TRADELITE_DB: dbPath,
      TRADELITE_CACHE_DIR: dir.file(`${backend}-cache`),
      TRADELITE_PORT: "0",
      TRADELITE_BACKEND: backend,
      TRADELITE_TIMEZONE: "UTC",
      TRADELITE_BAR_TIMESTAMP: "start",
    });
    try {
      expect(server.stdout()).toContain("timezone Asia/Shanghai, bars stamped at the end, calendar XSHG");
      const health = await (await fetch(`${server.url}/v1/info`)).json();
      expect(health).toMatchObject({ timezone: "Asia/Shanghai", barTimestamp: "end", calendar: "XSHG" });
      const bars = (await (await fetch(`${server.url}/v1/bars/S?start=20240115&end=20240115`)).json()) as { timestamp: number }[];
      expect(bars.map((bar) => bar.timestamp)).toEqual(edges.slice(1, 3));
    } finally {
      server.proc.kill("SIGTERM");
      await server.exited;
    }
  });
}

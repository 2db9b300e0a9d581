/**
 * The serve script's process around the app: how it stops when a client stalls, and how its
 * session cache (which runs on the server's own thread) behaves when the writer holds the lock.
 * Each test spawns `bun scripts/serve.ts` (worker backend, the default) on a random port.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Database as RawDatabase } from "bun:sqlite";
import { connect, type Socket } from "node:net";
import { openDatabase } from "../../src/mod.ts";
import { barColumns, genBar } from "../support/api-bars.ts";
import { killAllServers, startServeProcess, type ServerProcess } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-serve-process-");
afterAll(async () => {
  await killAllServers();
  dir.cleanup();
});

let servers = 0;
/** A server over a fresh database holding `rows` bars of EXP. */
async function serve(rows: number, env: Record<string, string> = {}): Promise<{ server: ServerProcess; dbPath: string }> {
  const name = `serve-${++servers}`;
  const dbPath = dir.file(`${name}.db`);
  const db = openDatabase({ path: dbPath });
  try {
    if (rows > 0) db.insertBars("EXP", barColumns(rows, 1));
  } finally {
    db.close();
  }
  const server = await startServeProcess({ TRADELITE_DB: dbPath, TRADELITE_CACHE_DIR: dir.file(`${name}-cache`), TRADELITE_PORT: "0", ...env });
  return { server, dbPath };
}

/**
 * Asks for the whole EXP export as CSV and stops reading once the first bytes arrive: the
 * server's writes then back up behind the socket's buffers (400,000 rows are ~24 MB of CSV, far
 * more than loopback buffers hold), and its answer can never finish.
 */
async function stalledExport(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.once("data", () => {
      socket.pause();
      resolve();
    });
    socket.write(`GET /v1/bars/EXP?format=csv HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: keep-alive\r\n\r\n`);
  });
  socket.on("error", () => {}); // the server will cut it
  return socket;
}

async function exitCode(server: ServerProcess, waitMs = 30_000): Promise<number | string> {
  return Promise.race([server.exited, Bun.sleep(waitMs).then(() => "still running")]);
}

async function waitFor(read: () => string, text: string): Promise<void> {
  for (let tries = 0; tries < 500 && !read().includes(text); tries++) await Bun.sleep(20);
  expect(read()).toContain(text);
}

describe("stopping with a client that stopped reading", () => {
  const ROWS = 400_000;

  test("SIGTERM: requests in flight get TRADELITE_SHUTDOWN_GRACE_MS, then their connections are closed and the process exits 0", async () => {
    const { server, dbPath } = await serve(ROWS, { TRADELITE_SHUTDOWN_GRACE_MS: "300" });
    const socket = await stalledExport(server.url);
    try {
      server.proc.kill("SIGTERM");
      expect(await exitCode(server)).toBe(0);
      expect(server.stdout()).toContain("SIGTERM, stopping (requests in flight have 300 ms to finish)");
      expect(server.stdout()).toContain("closing the connections still open");
      expect(server.stderr()).not.toContain("tradelite api:");
    } finally {
      socket.destroy();
    }
    // The store closed cleanly: the file opens, whole, with nothing left to recover.
    const raw = new RawDatabase(dbPath);
    try {
      expect(raw.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
      expect(raw.query("SELECT count(*) AS n FROM market_data").get()).toEqual({ n: ROWS });
    } finally {
      raw.close();
    }
  });

  test("a second signal closes the connections at once, however long the grace", async () => {
    const { server } = await serve(ROWS, { TRADELITE_SHUTDOWN_GRACE_MS: "3600000" });
    const socket = await stalledExport(server.url);
    try {
      server.proc.kill("SIGINT");
      await waitFor(server.stdout, "SIGINT, stopping");
      // The graceful stop waits on the stalled export (it would for the whole hour).
      expect(await exitCode(server, 500)).toBe("still running");
      server.proc.kill("SIGTERM");
      expect(await exitCode(server)).toBe(0);
      expect(server.stdout()).toContain("SIGTERM again, closing open connections now");
    } finally {
      socket.destroy();
    }
  });
});

describe("the session cache while another connection holds the write lock", () => {
  test("a cache write answers 503 with Retry-After without waiting out the lock, writes nothing, and succeeds once the lock is free", async () => {
    const { server, dbPath } = await serve(0);
    const bars = Array.from({ length: 5 }, (_, i) => genBar(i, 7));
    const post = () =>
      fetch(`${server.url}/v1/cache/AAA`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(bars) });
    const holder = new RawDatabase(dbPath);
    try {
      holder.exec("PRAGMA busy_timeout = 5000");
      holder.exec("BEGIN IMMEDIATE");
      // Released 2 s from now: a cache connection that waited for the lock (busy_timeout 5 s)
      // would get it then and answer 200; one that waits 100 ms at most has answered 503 by then.
      const release = setTimeout(() => holder.exec("ROLLBACK"), 2_000);
      const refused = await post();
      const stillLocked = holder.inTransaction;
      clearTimeout(release);
      if (holder.inTransaction) holder.exec("ROLLBACK");
      expect(stillLocked).toBe(true);
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect(await refused.json()).toMatchObject({ error: { code: "UNAVAILABLE", details: { storageCode: "SQLITE_BUSY" } } });
      // Nothing of the refused write: no cache entry, no bars.
      expect(await (await fetch(`${server.url}/v1/cache`)).json()).toEqual([]);
      expect(await (await fetch(`${server.url}/v1/cache/AAA`)).json()).toEqual([]);

      const accepted = await post();
      expect(accepted.status).toBe(200);
      expect(await (await fetch(`${server.url}/v1/cache/AAA`)).json()).toEqual(bars);
    } finally {
      holder.close();
    }
    expect(server.stderr()).toContain("tradelite api:"); // the 503 is logged, once
  });
});

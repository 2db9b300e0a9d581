/**
 * `tradelite serve`'s command line as a real process: the store from --db (no environment), the
 * address from --host and --port, the exposure rule applied to --host, and a port already taken
 * ending the process at once with exit 1, before it opens (or creates) the database.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { openDatabase } from "../../src/mod.ts";
import { killAllServers, spawnServe, startServeProcess } from "../support/api-server.ts";
import { cli } from "../support/cli.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-serve-cli-");
afterAll(async () => {
  await killAllServers();
  dir.cleanup();
});

/** A database file holding one bar of S, closed cleanly: nothing beside it. */
function database(name: string): string {
  const path = dir.file(name);
  const db = openDatabase({ path, timezone: "Asia/Shanghai" });
  db.insertBars("S", [{ timestamp: Date.UTC(2024, 0, 15, 1, 31), open: 1, high: 1, low: 1, close: 1 }]);
  db.close();
  return path;
}

/** The files beside `path` that share its name (-wal, -shm). */
function sideFiles(path: string): string[] {
  const name = path.slice(dir.path.length + 1);
  return readdirSync(dir.path).filter((file) => file.startsWith(`${name}-`));
}

describe("tradelite serve's options", () => {
  for (const args of [[], ["--in-thread"]]) {
    test(`--db, --host and --port name the store and the address, whatever the environment says ${args.join(" ")}`, async () => {
      const path = database(`flags${args.length}.db`);
      // The environment names another database and port: the options win.
      const env = { TRADELITE_DB: dir.file("not-this.db"), TRADELITE_PORT: "1" };
      const server = await startServeProcess(env, 20_000, ["--db", path, "--host", "127.0.0.1", "--port", "0", "--cache-dir", dir.file("flags-cache"), ...args]);
      try {
        expect(server.url).toStartWith("http://127.0.0.1:");
        expect(server.stdout()).toContain(`tradelite database: ${path}`);
        expect(server.stdout()).toContain(`backend ${args.length === 0 ? "sqlite-worker" : "sqlite"}`);
        const bars = (await (await fetch(`${server.url}/v1/bars/S`)).json()) as { timestamp: number }[];
        expect(bars.map((bar) => bar.timestamp)).toEqual([Date.UTC(2024, 0, 15, 1, 31)]);
      } finally {
        server.proc.kill("SIGTERM");
        expect(await server.exited).toBe(0);
      }
      expect(readdirSync(dir.path)).not.toContain("not-this.db");
    });
  }

  test("--host beyond loopback without a token is exit 2 naming --host and TRADELITE_TOKEN; --in-thread with --backend is a usage error", async () => {
    const exposed = await cli(["serve", "--db", database("exposed.db"), "--host", "0.0.0.0", "--port", "0"]);
    expect(exposed.code).toBe(2);
    expect(exposed.stderr).toContain("tradelite serve: --host: 0.0.0.0 is not a loopback address: serving beyond this machine needs TRADELITE_TOKEN");
    expect(exposed.stdout).not.toContain("listening");
    const port = await cli(["serve", "--port", "http"]);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('tradelite serve: --port: expected a port number 0-65535, got "http"');
    const both = await cli(["serve", "--in-thread", "--backend", "sqlite-worker"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--in-thread is --backend sqlite: give one");
  });
});

describe("a port already taken", () => {
  for (const backend of ["sqlite-worker", "sqlite"]) {
    test(`${backend}: exit 1 within a second of starting, saying so, before the database is opened (no -wal or -shm, no new file)`, async () => {
      const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("someone else") });
      try {
        const path = database(`taken-${backend}.db`);
        expect(sideFiles(path)).toEqual([]);
        // The baseline: how long this machine takes to start bun and print a version.
        const started = performance.now();
        expect((await cli(["--version"])).code).toBe(0);
        const baseline = performance.now() - started;

        const spawned = performance.now();
        const server = spawnServe({}, ["--db", path, "--backend", backend, "--port", String(taken.port), "--cache-dir", dir.file(`taken-${backend}-cache`)]);
        const code = await Promise.race([server.exited, Bun.sleep(20_000).then(() => "still running")]);
        const took = performance.now() - spawned;
        await server.drained;
        expect(code).toBe(1);
        expect(server.stderr()).toBe(`tradelite serve: 127.0.0.1:${taken.port} is taken (another server is listening there); choose another --port or TRADELITE_PORT\n`);
        expect(server.stdout()).not.toContain("listening");
        console.log(`serve on a taken port (${backend}): exit after ${took.toFixed(0)} ms; bun --version took ${baseline.toFixed(0)} ms`);
        expect(took).toBeLessThan(baseline + 1_000);
        expect(sideFiles(path)).toEqual([]);
        // Nor is a database created for a server that cannot listen.
        const fresh = dir.file(`taken-${backend}-fresh.db`);
        const again = spawnServe({}, ["--db", fresh, "--backend", backend, "--port", String(taken.port)]);
        expect(await again.exited).toBe(1);
        expect(readdirSync(dir.path).filter((file) => file.startsWith(`taken-${backend}-fresh`))).toEqual([]);
        // The other server was never disturbed.
        expect(await (await fetch(`http://127.0.0.1:${taken.port}/`)).text()).toBe("someone else");
      } finally {
        taken.stop(true);
      }
    });
  }
});

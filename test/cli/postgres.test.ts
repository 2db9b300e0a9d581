/**
 * The `tradelite` commands over PostgreSQL, as a PostgreSQL user runs them: the real process,
 * the store named by --database-url (or TRADELITE_BACKEND and TRADELITE_DATABASE_URL), a real
 * server. What the commands print is checked against what the library reads from the same
 * database. Also migrate's report and what it leaves beside its source.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { openStore, type Store } from "../../src/mod.ts";
import { DEMO_SYMBOLS } from "../../scripts/cli/demo.ts";
import { killAllServers, startServeProcess } from "../support/api-server.ts";
import { cli } from "../support/cli.ts";
import { tempDir } from "../support/files.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";
import { realDataPath, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";

const available = await postgresAvailable();
const databases: TestDatabase[] = [];
const dir = tempDir("tradelite-cli-pg-");
afterAll(async () => {
  await killAllServers();
  dir.cleanup();
  for (const database of databases) await database.drop().catch(() => {});
});

async function database(label: string): Promise<TestDatabase> {
  const created = await createTestDatabase(label);
  databases.push(created);
  return created;
}

/** The library's view of the same database, closed after `read`. */
async function withStore<T>(url: string, read: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ backend: "postgres", url });
  try {
    return await read(store);
  } finally {
    await store.close();
  }
}

describe.skipIf(!available)("tradelite on PostgreSQL", () => {
  test("init, import, export, overview and gaps with --database-url: what they print is what the database holds", async () => {
    const { url } = await database("cli_pg");
    const init = await cli(["init", "--database-url", url, "--timezone", "Asia/Shanghai", "--calendar", "XSHG", "--json"]);
    expect(init.code).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ backend: "postgres", timezone: "Asia/Shanghai", calendar: "XSHG" });

    const imported = await cli(["import", realDataPath(TDX_INDEX_1MIN), "--database-url", url, "--json"]);
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ ok: true, written: 24_000, timezone: "Asia/Shanghai" });
    const stored = await withStore(url, (store) => store.getBars("000001.SH"));
    expect(stored.length).toBe(24_000);

    const exported = await cli(["export", "000001.SH", "--database-url", url, "--format", "ndjson"]);
    expect(exported.code).toBe(0);
    expect(exported.stdout.trimEnd().split("\n").map((line) => JSON.parse(line))).toEqual(stored);

    const overview = await cli(["overview", "--database-url", url, "--json"]);
    expect(overview.code).toBe(0);
    const summary = JSON.parse(overview.stdout) as { backend: string; database: string; symbols: { symbol: string; count: number; start: number; end: number }[] };
    expect(summary.backend).toBe("postgres");
    expect(summary.database).toContain(new URL(url).pathname);
    expect(summary.symbols).toEqual([{ symbol: "000001.SH", count: 24_000, start: stored[0]!.timestamp, end: stored.at(-1)!.timestamp }]);

    const gaps = await cli(["gaps", "000001.SH", "--database-url", url, "--json"]);
    expect(gaps.code).toBe(0);
    expect(JSON.parse(gaps.stdout)).toEqual(JSON.parse(JSON.stringify(await withStore(url, (store) => store.completeness("000001.SH")))));
    const text = await cli(["gaps", "000001.SH", "--database-url", url]);
    expect(text.stdout).toMatch(/^000001\.SH \(XSHG, Asia\/Shanghai\): \d+ trading days/);
  });

  test("TRADELITE_BACKEND=postgres and TRADELITE_DATABASE_URL name the same store; --db beside --database-url is a usage error", async () => {
    const { url } = await database("cli_pg_env");
    const env = { TRADELITE_BACKEND: "postgres", TRADELITE_DATABASE_URL: url };
    const file = dir.file("600519.SH.csv");
    await Bun.write(file, "datetime,open,high,low,close,volume,amount\n2024-01-15 09:31,10,10.2,9.9,10.1,100,1010\n2024-01-15 09:32,10.1,10.3,10,10.2,200,2040\n");
    expect((await cli(["import", file], env)).code).toBe(0);
    const overview = JSON.parse((await cli(["overview", "--json"], env)).stdout) as { backend: string; symbols: { symbol: string; count: number }[] };
    expect(overview.backend).toBe("postgres");
    expect(overview.symbols.map(({ symbol, count }) => [symbol, count])).toEqual([["600519.SH", 2]]);

    const both = await cli(["overview", "--db", dir.file("x.db"), "--database-url", url]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--db names a SQLite file and --database-url a PostgreSQL database: give one");
    const badBackend = await cli(["overview", "--backend", "mysql"]);
    expect(badBackend.code).toBe(2);
    expect(badBackend.stderr).toContain('--backend is sqlite, sqlite-worker, postgres, got "mysql"');
  });

  test("a symbol with no bars is exit 1 naming the stored symbol it differs from in case", async () => {
    const { url } = await database("cli_pg_hint");
    await withStore(url, (store) => store.insertBars("000001.SH", [{ timestamp: Date.UTC(2024, 0, 15, 1, 31), open: 1, high: 1, low: 1, close: 1 }]));
    const wrongCase = await cli(["export", "000001.sh", "--database-url", url]);
    expect(wrongCase.code).toBe(1);
    expect(wrongCase.stderr.trim()).toBe("tradelite export: no bars for 000001.sh; did you mean 000001.SH?");
    expect(wrongCase.stdout).toBe("");
  });

  test("the session cache over PostgreSQL: import --cache, compact and overview; maintain runs, and refuses --backup in its own words", async () => {
    const { url } = await database("cli_pg_cache");
    const cacheDir = dir.file("pg-cache");
    const file = dir.file("000858.SZ.csv");
    const rows = ["datetime,open,high,low,close,volume,amount"];
    for (let i = 0; i < 60; i++) rows.push(`2024-03-01 10:${String(i).padStart(2, "0")},150,151,149,150.5,100,15050`);
    await Bun.write(file, `${rows.join("\n")}\n`);
    for (let run = 0; run < 3; run++) expect((await cli(["import", file, "--cache", "--database-url", url, "--cache-dir", cacheDir])).code).toBe(0);
    const compact = await cli(["compact", "--all", "--database-url", url, "--cache-dir", cacheDir, "--json"]);
    expect(compact.code).toBe(0);
    expect(JSON.parse(compact.stdout)).toMatchObject({ files: [{ symbol: "000858.SZ", rowsBefore: 180, rowsAfter: 60 }] });
    const overview = JSON.parse((await cli(["overview", "--database-url", url, "--cache-dir", cacheDir, "--json"])).stdout) as { cache: { symbol: string; row_count: number }[] };
    expect(overview.cache.map((entry) => [entry.symbol, entry.row_count])).toEqual([["000858.SZ", 60]]);

    const maintain = await cli(["maintain", "--database-url", url, "--json"]);
    expect(maintain.code).toBe(0);
    expect(JSON.parse(maintain.stdout)).toMatchObject({ database: expect.stringContaining(new URL(url).pathname), optimize: { durationMs: expect.any(Number) } });
    const backup = dir.file("pg-backup.db");
    const refused = await cli(["maintain", "--database-url", url, "--backup", backup]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe("tradelite maintain: --backup writes a SQLite file (VACUUM INTO); a PostgreSQL database is backed up with pg_dump");
    expect(existsSync(backup)).toBe(false);
  });

  test("demo --database-url writes its five symbols into an empty PostgreSQL database through the session cache, and refuses one that holds bars", async () => {
    const { url } = await database("cli_pg_demo");
    const folder = dir.file("demo");
    const demo = await cli(["demo", "--dir", folder, "--days", "1", "--no-serve", "--database-url", url]);
    expect(demo.code).toBe(0);
    const overview = await withStore(url, (store) => store.overview());
    expect(overview.map(({ symbol, count }) => [symbol, count]).sort()).toEqual(DEMO_SYMBOLS.map(({ symbol }) => [symbol, 240]).sort());
    expect(await withStore(url, async (store) => [store.timezone, store.barTimestamp])).toEqual(["Asia/Shanghai", "end"]);
    expect(readdirSync(folder)).toEqual(["session_cache"]);
    const again = await cli(["demo", "--dir", folder, "--days", "1", "--no-serve", "--database-url", url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already holds bars; the demo writes into an empty database");
  });

  test("serve --database-url --port 0: the API over PostgreSQL", async () => {
    const { url } = await database("cli_pg_serve");
    const server = await startServeProcess({}, 20_000, ["--database-url", url, "--port", "0", "--cache-dir", dir.file("serve-cache")]);
    try {
      expect(server.stdout()).toContain("backend postgres");
      expect(await (await fetch(`${server.url}/v1/info`)).json()).toMatchObject({ backend: "postgres" });
    } finally {
      server.proc.kill("SIGTERM");
      expect(await server.exited).toBe(0);
    }
  });
});

describe.skipIf(!available)("tradelite migrate", () => {
  test("reports rows copied and rows already identical apart (a second run copies none), and leaves no -wal or -shm beside its source", async () => {
    const { url } = await database("cli_migrate");
    const source = dir.file("source.db");
    expect((await cli(["import", realDataPath(TDX_INDEX_1MIN), "--db", source, "--timezone", "Asia/Shanghai"])).code).toBe(0);
    const before = readdirSync(dir.path).filter((name) => name.startsWith("source"));
    expect(before).toEqual(["source.db"]);
    const first = await cli(["migrate", "--from", source, "--to", url]);
    expect(first.code).toBe(0);
    const copied = Number(/rows copied\s+([\d,]+)/.exec(first.stdout)![1]!.replaceAll(",", ""));
    expect(copied).toBeGreaterThanOrEqual(24_000);
    expect(first.stdout).toMatch(/rows already identical\s+0\n/);
    const second = await cli(["migrate", "--from", source, "--to", url]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/rows copied\s+0\n/);
    expect(second.stdout).toContain(`rows already identical  ${copied.toLocaleString("en-US")}`);
    const json = await cli(["migrate", "--from", source, "--to", url, "--json"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ identical: true, rowsCopied: 0, rowsIdentical: copied, differences: [] });
    expect(readdirSync(dir.path).filter((name) => name.startsWith("source"))).toEqual(["source.db"]);
  });
});

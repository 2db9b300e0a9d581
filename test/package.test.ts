/**
 * tradelite as another project gets it: packed (`bun pm pack`), added to a scratch app in a temp
 * dir (`bun add` of the tarball, and of the checkout's path), and used there through its subpaths
 * the way an app would: a store on a SQLite file, the API on a loopback port, read back with
 * tradelite/client. The installed copy holds what runs and nothing else.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { tempDir } from "./support/files.ts";

const root = join(import.meta.dir, "..");
const dir = tempDir("tradelite-package-");
afterAll(() => dir.cleanup());

/** The app a user would write: every subpath imported, the root's types used across them. */
const APP = `
import { openStore, ValidationError, type Bar } from "tradelite";
import { startServer } from "tradelite/api";
import { createClient } from "tradelite/client";
import { SessionCache } from "tradelite/cache";
import { PostgresPool } from "tradelite/postgres";
import { importBarFile } from "tradelite/import";
import { copySqliteToPostgres } from "tradelite/migrate";

const store = await openStore({ backend: "sqlite", path: "./trading.db", timezone: "Asia/Shanghai" });
const bars: Bar[] = [0, 1, 2].map((i) => ({ timestamp: 1704159060000 + i * 60000, open: 10, high: 11, low: 9, close: 10.5, volume: 100, amount: 1050 }));
const written = await store.insertBars("600519.SH", bars);
const server = startServer(store, { port: 0 });
const client = createClient({ url: server.url });
const read = await client.getBars("600519.SH");
let refused = "";
try {
  await client.insertBars("600519.SH", [{ timestamp: 1704159240000, open: 10, high: 9, low: 11, close: 10 }]);
} catch (error) {
  if (error instanceof ValidationError) refused = error.issues[0]?.field ?? "";
}
await server.stop(true);
await store.close();
console.log(JSON.stringify({
  written,
  same: JSON.stringify(read) === JSON.stringify(bars),
  refused,
  loaded: [SessionCache, PostgresPool, importBarFile, copySqliteToPostgres].every((f) => typeof f === "function"),
}));
`;

async function run(cmd: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

/** A scratch app with `spec` added as its tradelite dependency and APP written beside it. */
async function scratchApp(name: string, spec: string): Promise<string> {
  const app = dir.file(name);
  await Bun.write(join(app, "package.json"), JSON.stringify({ name, private: true, type: "module" }));
  const added = await run(["bun", "add", spec], app);
  expect(added.code, added.stderr).toBe(0);
  writeFileSync(join(app, "app.ts"), APP);
  return app;
}

async function expectAppRuns(app: string): Promise<void> {
  const result = await run(["bun", "app.ts"], app);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  expect(JSON.parse(result.stdout)).toEqual({ written: 3, same: true, refused: "low", loaded: true });
}

function filesUnder(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)));
}

test("the packed tarball installs into a scratch app that runs the store, the API and the client, holding only what runs", async () => {
  const packed = await run(["bun", "pm", "pack", "--destination", dir.path, "--quiet"], root);
  expect(packed.code, packed.stderr).toBe(0);
  const tarball = readdirSync(dir.path).find((name) => name.endsWith(".tgz"));
  expect(tarball).toBeDefined();

  const app = await scratchApp("from-tarball", join(dir.path, tarball!));
  await expectAppRuns(app);

  const installed = join(app, "node_modules", "tradelite");
  const files = filesUnder(installed);
  expect(files).toContain("src/mod.ts");
  for (const entry of ["api", "cache", "postgres", "import", "migrate", "client"]) expect(files).toContain(`src/entries/${entry}.ts`);
  expect(files).toContain("scripts/tradelite.ts");
  expect(files.filter((file) => /^(test|\.git|\.ci|data|bench-results)\//.test(file) || file === ".git")).toEqual([]);
  expect(files.filter((file) => /\.db(-wal|-shm)?$/.test(file) || /bench/.test(file))).toEqual([]);
  // No devDependency came along: none is needed at run time.
  for (const dev of ["typescript", "fast-check", "playwright-core", "chinese-days", "@types/bun"]) expect(existsSync(join(app, "node_modules", dev))).toBe(false);

  // The binary runs from the installed copy.
  const help = await run([join(app, "node_modules", ".bin", "tradelite"), "--help"], app);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("tradelite");
}, 120_000);

test("`bun add <path to a checkout>` installs a copy that runs the same app", async () => {
  const app = await scratchApp("from-path", root);
  await expectAppRuns(app);
}, 120_000);

/**
 * Dependencies point one way (DESIGN.md, "Layout"): src/domain imports no backend, no backend
 * imports another or the cache, the cache imports no backend, the API no implementation. Read from every file's import statements; a
 * made-up bad import shows the check fails, naming the file and the import.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { dependencyViolations, importsOf, readSourceFiles } from "../support/dependencies.ts";

const ROOT = join(import.meta.dir, "../..");

test("every import under src/ points the allowed way", () => {
  const files = readSourceFiles(ROOT);
  // The walk found the tree, not an empty folder.
  expect(files.some((file) => file.path === "src/cache/session-cache.ts")).toBe(true);
  expect(files.some((file) => file.path === "src/domain/cache-backend.ts")).toBe(true);
  expect(dependencyViolations(files)).toEqual([]);
});

test("the import reader sees every form: import, import type, re-export, bare import, dynamic import", () => {
  const text = [
    'import { a } from "./a.ts";',
    'import type { B } from "../b.ts";',
    "export { c } from './c.ts';",
    'export * from "./d.ts";',
    'import "./e.ts";',
    "import {\n  f,\n  g,\n} from \"./fg.ts\";",
    'const h = await import("./h.ts");',
    '// "from" in a comment is no import',
  ].join("\n");
  expect(importsOf(text)).toEqual(["./a.ts", "../b.ts", "./c.ts", "./d.ts", "./e.ts", "./fg.ts", "./h.ts"]);
});

test("a made-up bad import fails the check, naming the file and the import", () => {
  const bad = [
    { path: "src/domain/store.ts", text: 'import type { Database } from "../sqlite/database.ts";' },
    { path: "src/sqlite/bars.ts", text: 'import { createBarRepository } from "../postgres/bars.ts";' },
    { path: "src/postgres/store.ts", text: 'export { createWorkerStore } from "../worker/store.ts";' },
    { path: "src/worker/store.ts", text: 'const pg = await import("../postgres/store.ts");' },
    { path: "src/cache/session-cache.ts", text: 'import { getDatabase } from "../sqlite/database.ts";' },
    { path: "src/domain/bar.ts", text: 'import { Database } from "bun:sqlite";' },
    { path: "src/postgres/cache-backend.ts", text: 'import { runAsync } from "../cache/backend.ts";' },
    { path: "src/api/app.ts", text: 'import type { Database } from "../sqlite/database.ts";' },
  ];
  expect(dependencyViolations(bad)).toEqual([
    'src/domain/store.ts: imports "../sqlite/database.ts" (src/sqlite; the domain imports no backend, cache, API or tool)',
    'src/sqlite/bars.ts: imports "../postgres/bars.ts" (src/postgres; a backend imports no other backend)',
    'src/postgres/store.ts: imports "../worker/store.ts" (src/worker; a backend imports no other backend)',
    'src/worker/store.ts: imports "../postgres/store.ts" (src/postgres; the worker carries SQLite, not PostgreSQL)',
    'src/cache/session-cache.ts: imports "../sqlite/database.ts" (src/sqlite; the cache runs on the cache interface in src/domain, not on a backend)',
    'src/domain/bar.ts: imports "bun:sqlite" (src/domain imports no storage or HTTP package)',
    'src/postgres/cache-backend.ts: imports "../cache/backend.ts" (src/cache; the cache is above the backends; its interface is in src/domain)',
    'src/api/app.ts: imports "../sqlite/database.ts" (src/sqlite; the API sees the Store and CacheService interfaces, never an implementation)',
  ]);
  // The allowed arrows stay allowed: a backend on the domain, the worker on SQLite, the API on the domain.
  const good = [
    { path: "src/sqlite/bars.ts", text: 'import { validateBars } from "../domain/bar.ts";' },
    { path: "src/worker/store.ts", text: 'import { openDatabase } from "../sqlite/database.ts";' },
    { path: "src/cache/session-cache.ts", text: 'import type { CacheBackend } from "../domain/cache-backend.ts";' },
    { path: "src/store.ts", text: 'import { openPostgresStore } from "./postgres/store.ts";' },
  ];
  expect(dependencyViolations(good)).toEqual([]);
});

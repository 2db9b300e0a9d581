/**
 * The package's doors: every subpath in package.json's exports is a file that re-exports and holds
 * nothing of its own (DESIGN.md), and the root keeps to the store, its types and its errors.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const exportsMap = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).exports as Record<string, string>;
const entries = Object.entries(exportsMap).filter(([, target]) => target.endsWith(".ts"));

test("package.json exports the root and the six subpaths the issue names", () => {
  expect(entries.map(([subpath]) => subpath).sort()).toEqual([".", "./api", "./cache", "./client", "./import", "./migrate", "./postgres"]);
});

test("every entry file holds re-exports and comments only", () => {
  for (const [subpath, target] of entries) {
    const code = readFileSync(join(root, target), "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/^\s*\/\/.*$/gm, "");
    const statements = code.split(";").map((statement) => statement.trim()).filter(Boolean);
    for (const statement of statements) expect({ subpath, statement }).toEqual({ subpath, statement: expect.stringMatching(/^export (type )?\{[^}]*\} from "[^"]+"$/) });
  }
});

test("the root leaves internals out and every subpath loads", async () => {
  const rootNames = Object.keys(await import(join(root, exportsMap["."]!)));
  expect(rootNames).toEqual(expect.arrayContaining(["openStore", "openDatabase", "ValidationError", "StorageError", "NotFoundError", "ConflictError"]));
  for (const internal of ["mapHeader", "COPIED_TABLES", "readSettingsRequest", "createSqliteStore", "SCHEMA_VERSION", "createApp", "SessionCache"]) expect(rootNames).not.toContain(internal);
  for (const [subpath, target] of entries) expect({ subpath, loaded: Object.keys(await import(join(root, target))).length > 0 }).toEqual({ subpath, loaded: true });
  expect(Object.keys(await import(join(root, exportsMap["./client"]!)))).toEqual(["createClient"]);
});

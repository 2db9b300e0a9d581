/**
 * src/sqlite and src/postgres mirror each other (Kysely's dialect folders): the same file for
 * the same job, and in it the same names for the factories and types that do that job, so
 * learning one backend teaches the other. Read from the files' export statements.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { readSourceFiles } from "../support/dependencies.ts";

const files = readSourceFiles(join(import.meta.dir, "../.."));

/** Files one backend has for a job the other does not do, with why. */
const ONLY_SQLITE: Record<string, string> = {
  "database.ts": "the synchronous embedded Database (the ADR's get_database()); PostgreSQL has only the Store",
  "series.ts": "fixed prepared statements for ranged reads, shared by bars and quotes; PostgreSQL's ranged reads are written in bars.ts and quotes.ts",
  "upsert.ts": "fixed-shape multi-row VALUES statements (bun:sqlite binds no arrays); PostgreSQL inserts one unnest of array parameters in bars.ts and quotes.ts",
  "own-write.ts": "how the bar triggers tell insertBars' own rows (last_insert_rowid(), a SQLite connection's own); PostgreSQL's triggers skip them on a transaction-local setting (derived-days.ts)",
};
/** The entry points, named for their backend: both are exported side by side from the root. */
const ENTRY = "store.ts";

function folder(name: "sqlite" | "postgres"): Map<string, string> {
  const prefix = `src/${name}/`;
  return new Map(files.filter((file) => file.path.startsWith(prefix)).map((file) => [file.path.slice(prefix.length), file.text]));
}

/** The factories and repository types a file exports: `create*`, `migrate`, `*Repository`, ... */
function jobNames(text: string): string[] {
  const names = [...text.matchAll(/^export (?:async )?(?:function\*?|const|class|type|interface) ([A-Za-z_]\w*)/gm)].map((match) => match[1]!);
  return names.filter((name) => /^create[A-Z]|^migrate$|^MIGRATIONS$|^SCHEMA_VERSION$|Repository$|^toStorageError$/.test(name)).sort();
}

test("the two backends hold the same files, but for the SQLite-only jobs named here", () => {
  const sqlite = [...folder("sqlite").keys()].filter((name) => !(name in ONLY_SQLITE)).sort();
  const postgres = [...folder("postgres").keys()].sort();
  expect(postgres).toEqual(sqlite);
});

test("each file both backends hold names its factories and repository types alike", () => {
  const sqlite = folder("sqlite");
  const differences: string[] = [];
  for (const [name, text] of folder("postgres")) {
    if (name === ENTRY) continue;
    const mine = jobNames(sqlite.get(name) ?? "");
    const theirs = jobNames(text);
    if (mine.join() !== theirs.join()) differences.push(`${name}: sqlite ${mine.join(", ")} | postgres ${theirs.join(", ")}`);
  }
  expect(differences).toEqual([]);
});

test("the name reader finds what a drift would change", () => {
  expect(jobNames("export function createPgBars() {}\nexport type PgBars = 1;\nexport function createBarRepository() {}")).toEqual(["createBarRepository", "createPgBars"]);
});

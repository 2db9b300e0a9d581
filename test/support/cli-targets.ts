/**
 * A database as the CLI tests reach it three ways: the command's flags, the library's store, and
 * a raw client of its own (bun:sqlite, or Bun.SQL as psql would), for what another program does.
 */
import { Database as RawSqlite } from "bun:sqlite";
import { SQL } from "bun";
import { openStore, type Store } from "../../src/mod.ts";
import { createTestDatabase, type TestDatabase } from "./postgres.ts";

export interface CliTarget {
  /** The flags that name it to a command. */
  args: string[];
  open(): Promise<Store>;
  /** Runs constant SQL on the raw client; resolves with the first column of the first row (0 without one). */
  raw(sql: string): Promise<number>;
  close(): Promise<void>;
}

/** A SQLite file at `path`, reached by the CLI through `backend`. */
export function sqliteTarget(path: string, backend: "sqlite" | "sqlite-worker" = "sqlite"): CliTarget {
  return {
    args: ["--db", path, "--backend", backend],
    open: () => openStore({ backend: "sqlite", path }),
    async raw(sql) {
      const conn = new RawSqlite(path);
      try {
        const row = conn.query(sql).get() as Record<string, number> | null;
        return row === null ? 0 : Object.values(row)[0]!;
      } finally {
        conn.close();
      }
    },
    close: async () => {},
  };
}

/** A fresh PostgreSQL database, pushed onto `created` for the caller to drop. */
export async function postgresTarget(label: string, created: TestDatabase[]): Promise<CliTarget> {
  const database = await createTestDatabase(label);
  created.push(database);
  const sql = new SQL({ url: database.url, max: 1 });
  return {
    args: ["--database-url", database.url],
    open: () => openStore({ backend: "postgres", url: database.url }),
    async raw(text) {
      const rows = (await sql.unsafe(text)) as Record<string, unknown>[];
      return rows.length === 0 ? 0 : Number(Object.values(rows[0]!)[0]);
    },
    close: () => sql.close(),
  };
}

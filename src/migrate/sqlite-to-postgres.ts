/**
 * Copying a SQLite database into PostgreSQL (`tradelite migrate`), and proving the copy. This
 * module stands apart from both backends (neither imports the other); it reads SQLite directly.
 *
 * Every table is read from SQLite in key order, in batches (keyset pagination: nothing is held
 * whole), and written with one fixed unnest statement per table, each batch in its own
 * transaction. Tables whose rows change (bars, quotes, cache metadata, preferences) are upserted;
 * append-only or immutable ones (audit_log, recovery_metrics, model_artifacts) are inserted with
 * ON CONFLICT DO NOTHING and their ids kept, so the audit chain arrives byte for byte. A second
 * run therefore changes nothing, and a run killed part-way is finished by running it again.
 * Identity sequences are moved past the copied ids, so new rows on PostgreSQL do not collide.
 * Exchange calendars are copied whole, before the tables (symbol_calendars names them); see
 * ./calendars.ts.
 *
 * The source's open audit rollups (audit_pending: live appends acknowledged but not yet in an
 * entry, src/domain/audit-rollup.ts) are closed into entries on the source first, the one change
 * the copy makes to it: the entries are then copied with the chain, so the copy's log accounts
 * for every bar the source acknowledged and verify() and verifyRollups() hold there. Copying the
 * pending rows instead would leave the copy's log short of them until the copy closed them, and a
 * row the source closes between two runs would linger on the copy and be closed twice.
 *
 * The proof: row counts per table, and a SHA-256 per symbol (bars, quotes) or per table (the
 * rest) over every row's values in key order, computed on both sides from the rows each returns,
 * and every calendar compared day for day. Any difference is reported; the caller exits non-zero.
 */
import { Database as SqliteDatabase } from "bun:sqlite";
import type { SQL } from "bun";
import { StorageError } from "../domain/errors.ts";
import { SCHEMA_VERSION } from "../sqlite/migrations.ts";
import { openDatabase } from "../sqlite/database.ts";
import { migrate as migratePostgres } from "../postgres/migrations.ts";
import { READ_COMMITTED, type PostgresPool } from "../postgres/connection.ts";
import { compareCalendars, copyCalendar, planCalendars, type CalendarPlan } from "./calendars.ts";

/** `date`: YYYY-MM-DD text in SQLite, a date in PostgreSQL (read back with to_char). */
type ColumnType = "text" | "bigint" | "float8" | "date";

interface TableSpec {
  readonly name: string;
  readonly columns: readonly (readonly [name: string, type: ColumnType])[];
  readonly key: readonly string[];
  /** Upsert (rows may change) or keep what is there (append-only, immutable). */
  readonly onConflict: "update" | "nothing";
  /** An identity column whose sequence must move past the copied ids. */
  readonly identity?: string;
  /** Checksums per symbol rather than per table. */
  readonly perSymbol?: boolean;
}

/** Our constants, never input: the SQL below is built from these names only. */
export const COPIED_TABLES: readonly TableSpec[] = [
  {
    name: "market_data",
    columns: [["symbol", "text"], ["timestamp", "bigint"], ["open", "float8"], ["high", "float8"], ["low", "float8"], ["close", "float8"], ["volume", "float8"], ["amount", "float8"]],
    key: ["symbol", "timestamp"],
    onConflict: "update",
    perSymbol: true,
  },
  {
    // Daily bars from daily files, beside market_data's (migration 7 on both sides).
    name: "market_data_daily",
    columns: [["symbol", "text"], ["timestamp", "bigint"], ["open", "float8"], ["high", "float8"], ["low", "float8"], ["close", "float8"], ["volume", "float8"], ["amount", "float8"]],
    key: ["symbol", "timestamp"],
    onConflict: "update",
    perSymbol: true,
  },
  {
    name: "quotes",
    columns: [["symbol", "text"], ["timestamp", "bigint"], ["bid", "float8"], ["bid_size", "float8"], ["ask", "float8"], ["ask_size", "float8"], ["last", "float8"], ["volume", "float8"]],
    key: ["symbol", "timestamp"],
    onConflict: "update",
    perSymbol: true,
  },
  {
    name: "session_cache",
    columns: [
      ["symbol", "text"], ["last_updated", "bigint"], ["row_count", "bigint"], ["file_path", "text"], ["checksum", "text"], ["size_bytes", "bigint"],
      ["writes_since_compaction", "bigint"], ["last_compacted", "bigint"], ["first_timestamp", "bigint"], ["last_timestamp", "bigint"],
      ["covered_from", "bigint"], ["market_version", "bigint"], ["file_version", "bigint"],
    ],
    key: ["symbol"],
    onConflict: "update",
  },
  {
    name: "user_preferences",
    columns: [["key", "text"], ["value", "text"], ["updated_at", "bigint"]],
    key: ["key"],
    onConflict: "update",
  },
  {
    // The database's zone, stamping and calendar go with its data: a copy read with other
    // settings would give other bars.
    name: "settings",
    columns: [["key", "text"], ["value", "text"], ["updated_at", "bigint"]],
    key: ["key"],
    onConflict: "update",
  },
  {
    // Which calendar a symbol follows; the calendars themselves are copied whole, first.
    name: "symbol_calendars",
    columns: [["symbol", "text"], ["calendar", "text"]],
    key: ["symbol"],
    onConflict: "update",
  },
  {
    // What each symbol is; after the calendars it names, before its status history.
    name: "instruments",
    columns: [
      ["symbol", "text"], ["exchange", "text"], ["calendar", "text"], ["name", "text"], ["board", "text"], ["lot_size", "bigint"], ["lot_step", "bigint"],
      ["tick_size", "float8"], ["price_limit_pct", "float8"], ["listed_date", "date"], ["delisted_date", "date"], ["updated_at", "bigint"],
    ],
    key: ["symbol"],
    onConflict: "update",
  },
  {
    name: "instrument_status",
    columns: [["symbol", "text"], ["date", "date"], ["status", "text"]],
    key: ["symbol", "date"],
    onConflict: "update",
  },
  {
    name: "recovery_metrics",
    columns: [["id", "bigint"], ["name", "text"], ["timestamp", "bigint"], ["value", "float8"], ["labels", "text"]],
    key: ["id"],
    onConflict: "nothing",
    identity: "id",
  },
  {
    name: "model_artifacts",
    columns: [
      ["id", "bigint"], ["name", "text"], ["version", "text"], ["path", "text"], ["sha256", "text"], ["size", "bigint"],
      ["created_at", "bigint"], ["params", "text"], ["metrics", "text"], ["tags", "text"],
    ],
    key: ["id"],
    onConflict: "nothing",
    identity: "id",
  },
  {
    name: "audit_log",
    columns: [["id", "bigint"], ["timestamp", "bigint"], ["actor", "text"], ["action", "text"], ["entity", "text"], ["details", "text"], ["prev_hash", "text"], ["hash", "text"]],
    key: ["id"],
    onConflict: "nothing",
  },
];

export interface CopyProgress {
  table: string;
  copied: number;
  total: number;
}

export interface CopyOptions {
  /** Rows per batch (each batch one transaction on PostgreSQL). Default 10,000. */
  batchRows?: number;
  onProgress?(progress: CopyProgress): void;
}

export interface CopySummary {
  /** Per table: the source's rows, and those the target did not already hold as they are. */
  tables: { table: string; rows: number; written: number }[];
  rows: number;
  written: number;
  /** Calendars by name: written whole, or already identical on the target and left alone. */
  calendars: { written: string[]; identical: string[] };
  /** The source's open audit rollups closed into entries before the copy (and copied as such). */
  rollupsClosed: number;
  durationMs: number;
}

function insertSql(table: TableSpec): string {
  const names = table.columns.map(([name]) => name);
  const arrays = table.columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(", ");
  const overriding = table.identity ? " OVERRIDING SYSTEM VALUE" : "";
  // A row already there with the same values is left alone: a second run rewrites nothing.
  const values = names.filter((name) => !table.key.includes(name));
  const conflict =
    table.onConflict === "nothing"
      ? "DO NOTHING"
      : `DO UPDATE SET ${values.map((name) => `${name} = excluded.${name}`).join(", ")}
         WHERE (${values.map((name) => `${table.name}.${name}`).join(", ")}) IS DISTINCT FROM (${values.map((name) => `excluded.${name}`).join(", ")})`;
  return `INSERT INTO ${table.name} (${names.join(", ")})${overriding}
    SELECT * FROM unnest(${arrays}) AS t(${names.join(", ")})
    ON CONFLICT (${table.key.join(", ")}) ${conflict}`;
}

/** SQLite's rows of `table` after `after` (a key tuple), in key order, `limit` of them. */
function sqlitePage(sqlite: SqliteDatabase, table: TableSpec, after: unknown[] | null, limit: number): Record<string, unknown>[] {
  const names = table.columns.map(([name]) => name).join(", ");
  const keys = table.key.join(", ");
  const where = after === null ? "" : `WHERE (${keys}) > (${table.key.map(() => "?").join(", ")})`;
  const statement = sqlite.query(`SELECT ${names} FROM ${table.name} ${where} ORDER BY ${keys} LIMIT ?`);
  return statement.all(...((after ?? []) as never[]), limit as never) as Record<string, unknown>[];
}

/** The open audit rollups of the source: what the copy would not otherwise carry. */
function openRollups(sqlite: SqliteDatabase): number {
  return (sqlite.query("SELECT count(*) AS n FROM audit_pending").get() as { n: number }).n;
}

/**
 * Closes the source's open rollups into entries through tradelite's own audit code (the chain
 * appended as every writer appends it, each entry naming the rollup's actor); returns how many.
 */
function closeSourceRollups(path: string): number {
  const db = openDatabase({ path });
  try {
    return db.audit.rollUp();
  } finally {
    db.close();
  }
}

/**
 * Opens the SQLite file for reading only (the copy changes its source only by closing its open
 * rollups, through another connection), at the schema this tradelite writes: an older file must be opened once with tradelite first, which migrates it.
 * A read-write connection held to reads by query_only, not a read-only one: a WAL file's last
 * connection removes the -wal and -shm files as it closes, which a read-only one cannot, so
 * they stayed beside a source no other process had open.
 */
export function openSource(path: string): SqliteDatabase {
  let sqlite: SqliteDatabase;
  try {
    sqlite = new SqliteDatabase(path, { readwrite: true, create: false });
    sqlite.exec("PRAGMA query_only = ON");
  } catch (error) {
    throw new StorageError("SOURCE", `cannot open ${path}: ${(error as Error).message}`);
  }
  const version = (sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (version !== SCHEMA_VERSION) {
    sqlite.close();
    throw new StorageError("SOURCE", `${path} has schema version ${version}; this tradelite copies version ${SCHEMA_VERSION} (open it once with tradelite to migrate it)`);
  }
  return sqlite;
}

export async function copySqliteToPostgres(sqlitePath: string, pool: PostgresPool, options: CopyOptions = {}): Promise<CopySummary> {
  const batchRows = options.batchRows ?? 10_000;
  const started = performance.now();
  await pool.run((sql) => migratePostgres(sql));
  const sqlite = openSource(sqlitePath);
  const summary: CopySummary = { tables: [], rows: 0, written: 0, calendars: { written: [], identical: [] }, rollupsClosed: 0, durationMs: 0 };
  try {
    const calendars = await planCalendars(sqlitePath, pool);
    await refuseForeignTarget(sqlite, pool, batchRows, calendars);
    // After the refusal, so a refused copy leaves its source as it found it.
    if (openRollups(sqlite) > 0) summary.rollupsClosed = closeSourceRollups(sqlitePath);
    options.onProgress?.({ table: "calendars", copied: 0, total: calendars.toWrite.length });
    for (const [i, data] of calendars.toWrite.entries()) {
      await copyCalendar(pool, data);
      summary.calendars.written.push(data.name);
      options.onProgress?.({ table: "calendars", copied: i + 1, total: calendars.toWrite.length });
    }
    summary.calendars.identical.push(...calendars.identical);
    for (const table of COPIED_TABLES) {
      const total = (sqlite.query(`SELECT count(*) AS n FROM ${table.name}`).get() as { n: number }).n;
      const statement = insertSql(table);
      let after: unknown[] | null = null;
      let copied = 0;
      let written = 0;
      options.onProgress?.({ table: table.name, copied, total });
      for (;;) {
        const rows = sqlitePage(sqlite, table, after, batchRows);
        if (rows.length === 0) break;
        const arrays = table.columns.map(([name]) => rows.map((row) => row[name] ?? null));
        // The server's count leaves out the rows the ON CONFLICT clause left alone.
        const result = await pool.run((sql) => sql.begin(READ_COMMITTED, (tx) => tx.unsafe(statement, arrays)));
        copied += rows.length;
        written += (result as { count: number }).count;
        const last = rows[rows.length - 1]!;
        after = table.key.map((name) => last[name]);
        options.onProgress?.({ table: table.name, copied, total });
      }
      if (table.identity) {
        await pool.run((sql) =>
          sql.unsafe(
            `SELECT setval(pg_get_serial_sequence('${table.name}', '${table.identity}'), greatest((SELECT coalesce(max(${table.identity}), 0) FROM ${table.name}), 1), (SELECT count(*) > 0 FROM ${table.name}))`,
          ),
        );
      }
      summary.tables.push({ table: table.name, rows: copied, written });
      summary.rows += copied;
      summary.written += written;
    }
  } finally {
    sqlite.close();
  }
  summary.durationMs = performance.now() - started;
  return summary;
}

/** Problems listed per table before the refusal says "and N more". */
const LISTED_PER_TABLE = 3;

/**
 * Refuses, before anything is written, a target that is not (part of) a copy of this source:
 * - an audit_log, recovery_metrics or model_artifacts row on PostgreSQL must be the source's row
 *   with the same id, value for value. Anything else (entries appended on PostgreSQL, a copy of
 *   another database) would interleave two histories and break the audit chain, or collide on an
 *   artifact's (name, version) under another id;
 * - a bar, quote, cache entry or preference on PostgreSQL must exist in the source. Rows the source
 *   does not have (another database's, or ones deleted from the source since the last run) would
 *   stay and make the comparison fail after the copy had already overwritten the rest.
 * - a calendar on PostgreSQL must be one the source has (its days may differ: the copy replaces
 *   them), or a shipped calendar exactly as shipped (every new database holds those).
 * A resumed or repeated run passes: it finds a subset of the source's rows, perhaps older values
 * of the upserted tables, which the copy brings up to date. The cost is one read of the target's
 * rows, each looked up in SQLite by its key.
 */
async function refuseForeignTarget(sqlite: SqliteDatabase, pool: PostgresPool, batchRows: number, calendars: CalendarPlan): Promise<void> {
  const problems: string[] = calendars.foreign.slice(0, LISTED_PER_TABLE).map(({ name, what }) => `calendars name=${JSON.stringify(name)}: ${what}`);
  if (calendars.foreign.length > LISTED_PER_TABLE) problems.push(`calendars: and ${calendars.foreign.length - LISTED_PER_TABLE} more`);
  for (const table of COPIED_TABLES) {
    const names = table.columns.map(([name]) => name).join(", ");
    const lookup = sqlite.query(`SELECT ${names} FROM ${table.name} WHERE ${table.key.map((name) => `${name} = ?`).join(" AND ")}`);
    const found: string[] = [];
    let count = 0;
    await readPostgres(pool, table, batchRows, (row) => {
      const key = table.key.map((name) => row[name]);
      const theirs = lookup.get(...(key as never[])) as Record<string, unknown> | null;
      const wrong = theirs === null ? "not in the source" : table.onConflict === "nothing" && rowText(table, theirs) !== rowText(table, row) ? "differs from the source's row" : null;
      if (wrong === null) return;
      count++;
      if (found.length < LISTED_PER_TABLE) found.push(`${table.name} ${table.key.map((name, i) => `${name}=${JSON.stringify(key[i])}`).join(" ")}: ${wrong}`);
    });
    problems.push(...found);
    if (count > found.length) problems.push(`${table.name}: and ${count - found.length} more`);
  }
  if (problems.length > 0) {
    throw new StorageError(
      "TARGET_NOT_A_COPY",
      `the PostgreSQL database holds rows that are not this source's, so copying into it would mix two databases (nothing was written): ${problems.join("; ")}. Copy into an empty database, or one an earlier run of this migration filled from this source.`,
    );
  }
}

export interface Difference {
  table: string;
  /** The symbol, for per-symbol tables. */
  symbol?: string;
  /** The calendar's name, for `calendars`. */
  calendar?: string;
  what: string;
}

/** Canonical text of a row's values, the same whichever side it came from. */
function rowText(table: TableSpec, row: Record<string, unknown>): string {
  return JSON.stringify(table.columns.map(([name, type]) => {
    const value = row[name] ?? null;
    return value === null ? null : type === "text" || type === "date" ? String(value) : Number(value);
  }));
}

/** Counts and checksums of every table on both sides; the differences found (none: identical). */
export async function compareSqliteWithPostgres(sqlitePath: string, pool: PostgresPool, batchRows = 20_000): Promise<Difference[]> {
  const sqlite = openSource(sqlitePath);
  const differences: Difference[] = [];
  try {
    for (const table of COPIED_TABLES) {
      const fromSqlite = new Map<string, { count: number; hash: Bun.CryptoHasher }>();
      const fromPostgres = new Map<string, { count: number; hash: Bun.CryptoHasher }>();
      const add = (into: typeof fromSqlite, row: Record<string, unknown>) => {
        const group = table.perSymbol ? String(row.symbol) : "";
        let entry = into.get(group);
        if (!entry) into.set(group, (entry = { count: 0, hash: new Bun.CryptoHasher("sha256") }));
        entry.count++;
        entry.hash.update(`${rowText(table, row)}\n`);
      };
      let after: unknown[] | null = null;
      for (;;) {
        const rows = sqlitePage(sqlite, table, after, batchRows);
        if (rows.length === 0) break;
        for (const row of rows) add(fromSqlite, row);
        const last = rows[rows.length - 1]!;
        after = table.key.map((name) => last[name]);
      }
      await readPostgres(pool, table, batchRows, (row) => add(fromPostgres, row));
      for (const group of new Set([...fromSqlite.keys(), ...fromPostgres.keys()])) {
        const a = fromSqlite.get(group);
        const b = fromPostgres.get(group);
        const where = table.perSymbol ? { table: table.name, symbol: group } : { table: table.name };
        if (!a || !b || a.count !== b.count) {
          differences.push({ ...where, what: `rows: SQLite ${a?.count ?? 0}, PostgreSQL ${b?.count ?? 0}` });
        } else if (a.hash.digest("hex") !== b.hash.digest("hex")) {
          differences.push({ ...where, what: "the same number of rows, different values (checksums differ)" });
        }
      }
    }
    // While the source is open here: the calendars' read-only connection is then not the last,
    // and this one's close removes the -wal and -shm files.
    for (const { calendar, what } of await compareCalendars(sqlitePath, pool)) differences.push({ table: "calendars", calendar, what });
    // Appends the source acknowledged after (or without) a copy: bars the copy's log lacks.
    const open = openRollups(sqlite);
    if (open > 0) differences.push({ table: "audit_pending", what: `${open} open audit rollup(s) on the source, not in the copy's audit log: run the migration (not --verify-only) to close and copy them` });
  } finally {
    sqlite.close();
  }
  return differences;
}

/** PostgreSQL's rows of `table` in key order (keyset pages; numbers as numbers, in SQLite's order of bytes). */
async function readPostgres(pool: PostgresPool, table: TableSpec, batchRows: number, onRow: (row: Record<string, unknown>) => void): Promise<void> {
  const select = table.columns
    .map(([name, type]) => (type === "bigint" ? `${name}::float8 AS ${name}` : type === "date" ? `to_char(${name}, 'YYYY-MM-DD') AS ${name}` : name))
    .join(", ");
  // Text keys compare by bytes, as SQLite's BINARY collation does.
  const keys = table.key.map((name) => (table.columns.find(([column]) => column === name)![1] === "text" ? `${name} COLLATE "C"` : name)).join(", ");
  const first = `SELECT ${select} FROM ${table.name} ORDER BY ${keys} LIMIT $1`;
  const isText = (name: string) => table.columns.find(([column]) => column === name)![1] === "text";
  const next = `SELECT ${select} FROM ${table.name} WHERE (${keys}) > (${table.key.map((name, i) => `$${i + 2}${isText(name) ? ` COLLATE "C"` : ""}`).join(", ")}) ORDER BY ${keys} LIMIT $1`;
  let after: unknown[] | null = null;
  for (;;) {
    const rows = (await pool.run((sql: SQL) => sql.unsafe(after === null ? first : next, after === null ? [batchRows] : [batchRows, ...after]))) as Record<string, unknown>[];
    for (const row of rows) onRow(row);
    if (rows.length < batchRows) return;
    const last = rows[rows.length - 1]!;
    after = table.key.map((name) => last[name]);
  }
}

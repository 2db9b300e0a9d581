/**
 * The records (metrics, preferences, audit log, artifacts) on both backends side by side, for
 * the differential tests in test/postgres/{metrics,prefs,audit,artifacts,records}.test.ts: each
 * runs the same calls on both and expects the same outcome. A SQLite database in memory behind
 * its Store, the PostgreSQL repositories on a database of their own, raw audit rows to copy a
 * chain from one to the other, and outcomes (a value or an error) that compare with toEqual.
 */
import { Database as RawDatabase } from "bun:sqlite";
import { expect, setSystemTime } from "bun:test";
import { createSqliteStore } from "../../src/sqlite/store.ts";
import { openDatabase, TradeliteError, ValidationError, type AuditEntry, type Database, type Store } from "../../src/mod.ts";
import { createArtifactRepository } from "../../src/postgres/artifacts.ts";
import { createAuditRepository } from "../../src/postgres/audit.ts";
import { PostgresPool } from "../../src/postgres/connection.ts";
import { createMetricRepository } from "../../src/postgres/metrics.ts";
import { migrate as migratePostgres } from "../../src/postgres/migrations.ts";
import { createPreferenceRepository } from "../../src/postgres/prefs.ts";
import { createTestDatabase, postgresAvailable } from "./postgres.ts";

/** The part of a Store both backends are compared on. */
export type Records = Pick<Store, "metrics" | "prefs" | "audit" | "artifacts">;

export interface RecordSettings {
  timezone: string;
  actor: string;
}

/** The PostgreSQL repositories wired as a Store would wire them (one audit recorder for all). */
export function openPgRecords(pool: PostgresPool, settings: RecordSettings) {
  const audit = createAuditRepository(pool, settings);
  const records = {
    metrics: createMetricRepository(pool, settings),
    prefs: createPreferenceRepository(pool, audit.record),
    audit,
    artifacts: createArtifactRepository(pool, audit.record),
  };
  // Checked here: the repositories are the Store's record interfaces.
  const asStore: Records = records;
  void asStore;
  return records;
}

export type PgRecords = ReturnType<typeof openPgRecords>;

export interface RecordPair {
  sqlite: Records;
  db: Database;
  pg: PgRecords;
  pool: PostgresPool;
  url: string;
  close(): Promise<void>;
}

/** A fresh SQLite database in memory and a fresh, migrated PostgreSQL database. */
export async function openRecordPair(label: string, settings: RecordSettings = { timezone: "Asia/Shanghai", actor: "tradelite" }): Promise<RecordPair> {
  const database = await createTestDatabase(label);
  const pool = new PostgresPool({ url: database.url, max: 4 });
  await migratePostgres(pool.sql);
  const db = openDatabase({ path: ":memory:", timezone: settings.timezone });
  const sqlite = createSqliteStore(db);
  // The SQLite store names the `actor` option; the tests use its default, "tradelite".
  return {
    sqlite,
    db,
    pg: openPgRecords(pool, settings),
    pool,
    url: database.url,
    async close() {
      db.close();
      await pool.close();
      await database.drop();
    },
  };
}

/** An audit_log row as stored (details as text), the form a chain is copied in. */
export interface RawAuditRow {
  id: number;
  timestamp: number;
  actor: string;
  action: string;
  entity: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

export function readSqliteAuditRows(path: string): RawAuditRow[] {
  const raw = new RawDatabase(path, { readonly: true });
  try {
    return raw.query("SELECT id, timestamp, actor, action, entity, details, prev_hash, hash FROM audit_log ORDER BY id").all() as RawAuditRow[];
  } finally {
    raw.close();
  }
}

/** Inserts rows into a tradelite SQLite file's audit_log as another program would (INSERT is allowed). */
export function insertSqliteAuditRows(path: string, rows: readonly RawAuditRow[]): void {
  const raw = new RawDatabase(path);
  try {
    raw.exec("PRAGMA busy_timeout = 5000");
    const insert = raw.prepare("INSERT INTO audit_log (id, timestamp, actor, action, entity, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    raw.transaction(() => {
      for (const row of rows) insert.run(row.id, row.timestamp, row.actor, row.action, row.entity, row.details, row.prev_hash, row.hash);
    })();
  } finally {
    raw.close();
  }
}

/** The same rows into a PostgreSQL audit_log, in one fixed statement (columns as arrays). */
export async function insertPgAuditRows(pool: PostgresPool, rows: readonly RawAuditRow[]): Promise<void> {
  const column = <K extends keyof RawAuditRow>(key: K) => rows.map((row) => row[key]);
  await pool.sql`INSERT INTO audit_log (id, timestamp, actor, action, entity, details, prev_hash, hash)
                 SELECT * FROM unnest(${column("id")}::bigint[], ${column("timestamp")}::bigint[], ${column("actor")}::text[],
                                      ${column("action")}::text[], ${column("entity")}::text[], ${column("details")}::text[],
                                      ${column("prev_hash")}::text[], ${column("hash")}::text[])`;
}

/** What a call ended with, in a form toEqual compares: its value, or its error's class, code, message and issues. */
export type Outcome<T> = { value: T } | { error: { name: string; code?: string; message: string; issues?: unknown } };

export async function outcome<T>(work: () => Promise<T> | T): Promise<Outcome<T>> {
  try {
    return { value: await work() };
  } catch (error) {
    if (!(error instanceof TradeliteError)) throw error;
    return {
      error: {
        name: error.name,
        code: error.code,
        message: error.message,
        ...(error instanceof ValidationError ? { issues: error.issues } : {}),
      },
    };
  }
}

export const available = await postgresAvailable();
export const MINUTE = 60_000;
/** 2024-01-02 09:31 in Shanghai. */
export const T0 = Date.UTC(2024, 0, 2, 1, 31);

/** What a test opened, closed newest first by closeRecordTests (each file's afterEach). */
export const cleanups: Array<() => unknown> = [];

export async function closeRecordTests(): Promise<void> {
  setSystemTime();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

export async function pair(label: string): Promise<RecordPair> {
  const opened = await openRecordPair(label);
  cleanups.push(() => opened.close());
  return opened;
}

/**
 * Runs `work` on SQLite, then on PostgreSQL, each with the clock stopped at `at`, and expects
 * the same outcome (value, or error class, code, message and issues). Returns it.
 */
export async function both<T>(records: RecordPair, at: number, work: (side: Records) => Promise<T>): Promise<Outcome<T>> {
  setSystemTime(at);
  const fromSqlite = await outcome(() => work(records.sqlite));
  setSystemTime(at);
  const fromPostgres = await outcome(() => work(records.pg));
  expect(fromPostgres).toEqual(fromSqlite);
  return fromPostgres;
}

export function valueOf<T>(result: Outcome<T>): T {
  if (!("value" in result)) throw new Error(`expected a value, got ${JSON.stringify(result.error)}`);
  return result.value;
}

export function errorOf<T>(result: Outcome<T>): { name: string; code?: string; message: string; issues?: unknown } {
  if (!("error" in result)) throw new Error(`expected an error, got ${JSON.stringify(result.value)}`);
  return result.error;
}

/** After a test's mutations: the whole audit log is the same, hashes included, and verifies. */
export async function expectSameAuditLog(records: RecordPair, at: number): Promise<AuditEntry[]> {
  const entries = valueOf(await both(records, at, (side) => side.audit.query()));
  expect(valueOf(await both(records, at, (side) => side.audit.verify()))).toEqual({ ok: true, checked: entries.length });
  return entries;
}


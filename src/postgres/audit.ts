/**
 * audit_log on PostgreSQL: append-only (triggers refuse UPDATE, DELETE and TRUNCATE) and
 * hash-chained exactly as src/sqlite/audit.ts chains it (same ids, canonical JSON and hashes,
 * domain/audit.ts), so a log copied from SQLite verifies here and verify() gives the same answer.
 *
 * Appends are serialized by a transaction-level advisory lock taken before the chain's end is
 * read: appenders in other pools and processes queue on it, so two never both extend the same
 * head (the primary key on id would refuse the second anyway). An advisory lock needs no
 * privilege on the table, unlike LOCK TABLE ... EXCLUSIVE, which needs UPDATE or DELETE rights
 * an append-only role should not have.
 */
import type { ZoneReading } from "../domain/time.ts";
import { AsyncLocalStorage } from "node:async_hooks";
import type { SQL } from "bun";
import {
  auditEntryOfRow,
  ChainVerifier,
  checkActor,
  checkAuditInput,
  checkExpectedHead,
  nextAuditEntry,
  readAuditQuery,
  type AuditEntry,
  type AuditHead,
  type AuditInput,
  type AuditVerification,
  type StoredAuditRow,
} from "../domain/audit.ts";
import type { JsonValue } from "../domain/json.ts";
import type { AuditQuery } from "../domain/store.ts";
import { DEFAULT_AUDIT_ROLLUP_MS, readRollUpOptions, type AuditGrain, type RollUpOptions, type RollupDetails, type RollupVerification } from "../domain/audit-rollup.ts";
import { READ_COMMITTED, type PostgresPool } from "./connection.ts";
import { createRollups } from "./audit-rollup.ts";

type AuditRow = StoredAuditRow;

export type { AuditHead };

/** Rows per page in verify(), as SQLite's (src/sqlite/series.ts PAGE_ROWS). */
const PAGE_ROWS = 8_192;
/** "tl-audit" as a 64-bit advisory lock key: every appender of the chain queues on it. */
const AUDIT_LOCK = 0x746c_2d61_7564_6974n;

/**
 * Takes the chain's lock for the rest of `tx` (re-taking it is free). Audited mutations take it
 * first, as SQLite's BEGIN IMMEDIATE takes its write lock up front: a transaction that holds row
 * locks then always holds this one too, so two mutations can never wait on each other in a cycle.
 */
export async function lockAuditChain(tx: SQL): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(${AUDIT_LOCK.toString()}::bigint)`;
}

/**
 * Appends one entry inside the caller's open transaction `tx`: it commits or rolls back with the
 * caller's mutation. Checks the input as append() does.
 */
export async function appendAuditEntry(tx: SQL, input: AuditInput): Promise<AuditEntry> {
  const checked = checkAuditInput(input);
  await lockAuditChain(tx);
  const [previous] = (await tx`SELECT id::float8 AS id, hash FROM audit_log ORDER BY id DESC LIMIT 1`) as AuditHead[];
  const entry = nextAuditEntry(previous, checked);
  await tx`INSERT INTO audit_log (id, timestamp, actor, action, entity, details, prev_hash, hash)
           VALUES (${entry.id}, ${entry.timestamp}, ${entry.actor}, ${entry.action}, ${entry.entity}, ${checked.details}, ${entry.prev_hash}, ${entry.hash})`;
  return entry;
}

/**
 * What the repositories' own mutations record: `record(tx, actor, action, entity, details)` in
 * their transaction. Unlike SQLite's, it does not read the actor itself: a repository reads
 * `actor()` synchronously when its call starts (before any await) and passes it along, so the
 * actor `as()` set is the one named however the transaction's callbacks are scheduled.
 */
export interface AuditRecorder {
  (tx: SQL, actor: string, action: string, entity: string | null, details: JsonValue): Promise<AuditEntry>;
  /** The store's `actor` option, or the one an enclosing `as()` set. */
  actor(): string;
  /** Runs `work` (synchronous or async) with actor() naming `actor` for the calls it starts. */
  as<T>(actor: string, work: () => T): T;
  /**
   * Records an insert of `rows` minute bars at the store's grain (src/domain/audit-rollup.ts):
   * a live append grows the symbol's rollup, any other gets its own `bars.insert` entry. In `tx`.
   */
  appended(tx: SQL, actor: string, symbol: string, rows: number, start: number, end: number, grain: AuditGrain | undefined): Promise<void>;
  /** A compaction's rollup of `symbol` (in its transaction `tx`, naming `actor`), or null. */
  takeRollup(tx: SQL, actor: string, symbol: string): Promise<RollupDetails | null>;
}

export function createAuditRepository(pool: PostgresPool, settings: ZoneReading & { readonly actor: string; readonly auditRollupMs?: number }) {
  const actors = new AsyncLocalStorage<string>();
  const rollups = createRollups((tx, actor, action, entity, details) => appendAuditEntry(tx, { actor, action, entity, details }), settings.auditRollupMs ?? DEFAULT_AUDIT_ROLLUP_MS);

  const record: AuditRecorder = Object.assign(
    (tx: SQL, actor: string, action: string, entity: string | null, details: JsonValue) =>
      appendAuditEntry(tx, { actor, action, entity, details }),
    {
      actor: () => actors.getStore() ?? settings.actor,
      as<T>(actor: string, work: () => T): T {
        checkActor(actor);
        return actors.run(actor, work);
      },
      appended: (tx: SQL, actor: string, symbol: string, rows: number, start: number, end: number, grain: AuditGrain | undefined) =>
        rollups.appended(tx, symbol, actor, rows, start, end, grain, () => appendAuditEntry(tx, { actor, action: "bars.insert", entity: symbol, details: { rows, start, end } })),
      takeRollup: (tx: SQL, actor: string, symbol: string) => rollups.take(tx, symbol, actor),
    },
  );

  /** Closes rollups in one transaction on the chain's lock; due ones are looked for first, without it. */
  async function closeRollups(symbol: string | undefined, due: boolean): Promise<number> {
    if (due && !(await pool.run((sql) => rollups.anyDue(sql)))) return 0;
    return pool.run((sql) =>
      sql.begin(READ_COMMITTED, async (tx) => {
        await lockAuditChain(tx);
        return rollups.rollUp(tx, symbol, due);
      }),
    );
  }

  return {
    async append(input: AuditInput): Promise<AuditEntry> {
      checkAuditInput(input);
      return pool.run((sql) => sql.begin(READ_COMMITTED, (tx) => appendAuditEntry(tx, input)));
    },

    record,

    async query(query: AuditQuery = {}): Promise<AuditEntry[]> {
      const { start, end, actor: who, action: what, limit } = readAuditQuery(query, settings);
      const rows = await pool.run(
        async (sql) =>
          (await sql`SELECT id::float8 AS id, timestamp::float8 AS timestamp, actor, action, entity, details, prev_hash, hash
                     FROM audit_log WHERE timestamp BETWEEN ${start} AND ${end}
                     AND (${who}::text IS NULL OR actor = ${who}::text) AND (${what}::text IS NULL OR action = ${what}::text)
                     ORDER BY id LIMIT ${limit ?? null}`) as AuditRow[],
      );
      return rows.map((row) => auditEntryOfRow(plainRow(row)));
    },

    /** Closes the open rollup of `symbol`, or of every symbol (`due`: those due), into entries now; resolves with how many. */
    async rollUp(options?: RollUpOptions): Promise<number> {
      const { symbol, due } = readRollUpOptions(options);
      return closeRollups(symbol, due);
    },

    /** Closes the rollups open for auditRollupMs or more (a crashed writer's): run when a store opens. */
    rollUpDue: (): Promise<number> => closeRollups(undefined, true),

    /** Re-digests every rollup's bars, as SQLite's verifyRollups(). */
    verifyRollups(): Promise<RollupVerification> {
      return pool.run((sql) => rollups.verify(sql));
    },

    /** The newest entry's id and hash: keep a copy elsewhere to catch a later truncation. */
    async head(): Promise<AuditHead | null> {
      const rows = await pool.run(async (sql) => (await sql`SELECT id::float8 AS id, hash FROM audit_log ORDER BY id DESC LIMIT 1`) as AuditHead[]);
      return rows.length === 0 ? null : { id: rows[0]!.id, hash: rows[0]!.hash };
    },

    /**
     * Recomputes the whole chain, page by page, from the table's own rows, by the same rules as
     * SQLite's verify(). With `head` (an earlier head()), entries missing from the end since
     * then are caught too.
     */
    async verify(options: { head?: AuditHead } = {}): Promise<AuditVerification> {
      const verifier = new ChainVerifier(checkExpectedHead(options?.head));
      let after = 0;
      for (;;) {
        const rows = await pool.run(
          async (sql) =>
            (await sql`SELECT id::float8 AS id, timestamp::float8 AS timestamp, actor, action, entity, details, prev_hash, hash
                       FROM audit_log WHERE id > ${after} ORDER BY id LIMIT ${PAGE_ROWS}`) as AuditRow[],
        );
        for (const row of rows) {
          const failed = verifier.row(row);
          if (failed) return failed;
        }
        if (rows.length < PAGE_ROWS) return verifier.end();
        after = rows[rows.length - 1]!.id;
      }
    },
  };
}

/** A row as a plain object with the fields in SQLite's column order. */
function plainRow(row: AuditRow): AuditRow {
  return {
    id: row.id, timestamp: row.timestamp, actor: row.actor, action: row.action, entity: row.entity,
    details: row.details, prev_hash: row.prev_hash, hash: row.hash,
  };
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;

/**
 * audit_log: append-only (triggers refuse UPDATE and DELETE) and hash-chained, so a rewrite that
 * goes around the triggers (a raw client dropping them) is caught by verify().
 */
import type { ZoneReading } from "../domain/time.ts";
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
import { guard, type Connection } from "./connection.ts";
import { PAGE_ROWS } from "./series.ts";
import { createRollups } from "./audit-rollup.ts";

type AuditRow = StoredAuditRow;

const COLUMNS = "id, timestamp, actor, action, entity, details, prev_hash, hash";

export type { AuditHead };

/** What the store's own mutations record: who, what, which entity, counts and ranges. */
export interface AuditRecorder {
  (action: string, entity: string | null, details: JsonValue): void;
  /** The actor the next record() names: the store's `actor` option, or the one `as()` set. */
  actor(): string;
  /** Runs synchronous `work` with record() naming `actor` (a request's caller, say). */
  as<T>(actor: string, work: () => T): T;
  /**
   * Records an insert of `rows` minute bars of `symbol` spanning start..end at the store's grain
   * (src/domain/audit-rollup.ts): a live append grows the symbol's rollup, any other gets its
   * own `bars.insert` entry. In the insert's transaction.
   */
  appended(symbol: string, rows: number, start: number, end: number, grain: AuditGrain | undefined): void;
}

export function createAuditRepository(conn: Connection, settings: ZoneReading & { readonly actor: string; readonly auditRollupMs?: number }) {
  const last = conn.prepare<{ id: number; hash: string }>("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1");
  const insert = conn.prepare(`INSERT INTO audit_log (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  const range = conn.prepare<AuditRow>(
    `SELECT ${COLUMNS} FROM audit_log WHERE timestamp BETWEEN ? AND ? ` +
      "AND (? IS NULL OR actor = ?) AND (? IS NULL OR action = ?) ORDER BY id LIMIT ?",
  );
  const page = conn.prepare<AuditRow>(`SELECT ${COLUMNS} FROM audit_log WHERE id > ? ORDER BY id LIMIT ?`);

  /** Must run inside a write transaction: reading the chain's end and appending are one step. */
  function appendInTransaction(input: AuditInput): AuditEntry {
    const checked = checkAuditInput(input);
    const entry = nextAuditEntry(last.get(), checked);
    insert.run(
      entry.id as never, entry.timestamp as never, entry.actor as never, entry.action as never,
      entry.entity as never, checked.details as never, entry.prev_hash as never, entry.hash as never,
    );
    return entry;
  }

  const rollups = createRollups(
    conn,
    (actor, action, entity, details) => void appendInTransaction({ actor, action, entity, details }),
    settings.auditRollupMs ?? DEFAULT_AUDIT_ROLLUP_MS,
  );

  let actorOverride: string | null = null;
  /** Records a mutation the store itself made, in the caller's transaction. */
  const record = Object.assign(
    (action: string, entity: string | null, details: JsonValue) => {
      appendInTransaction({ actor: actorOverride ?? settings.actor, action, entity, details });
    },
    {
      actor: () => actorOverride ?? settings.actor,
      as<T>(actor: string, work: () => T): T {
        checkActor(actor);
        const previous = actorOverride;
        actorOverride = actor;
        try {
          const result = work();
          if (result instanceof Promise) {
            throw new TypeError("as(actor, work): work must be synchronous; an async step would run under another actor");
          }
          return result;
        } finally {
          actorOverride = previous;
        }
      },
      appended(symbol: string, rows: number, start: number, end: number, grain: AuditGrain | undefined): void {
        const actor = actorOverride ?? settings.actor;
        rollups.appended(symbol, actor, rows, start, end, grain, () => void appendInTransaction({ actor, action: "bars.insert", entity: symbol, details: { rows, start, end } }));
      },
    },
  ) satisfies AuditRecorder;

  /** Closes rollups in one write transaction; due ones are looked for first, without the write lock. */
  function closeRollups(symbol: string | undefined, due: boolean): number {
    if (due && !rollups.anyDue()) return 0;
    return conn.writeTransaction(() => rollups.rollUp(symbol, due));
  }

  return {
    append(input: AuditInput): AuditEntry {
      return conn.writeTransaction(() => appendInTransaction(input));
    },

    record,

    query(query: AuditQuery = {}): AuditEntry[] {
      const { start, end, actor: who, action: what, limit } = readAuditQuery(query, settings);
      return guard(() =>
        range.all(start as never, end as never, who as never, who as never, what as never, what as never, (limit ?? -1) as never),
      ).map(auditEntryOfRow);
    },

    /** Closes the open rollup of `symbol`, or of every symbol (`due`: those due), into entries now; returns how many. */
    rollUp(options?: RollUpOptions): number {
      const { symbol, due } = readRollUpOptions(options);
      return closeRollups(symbol, due);
    },

    /** A compaction's rollup of `symbol` (in the compaction's transaction), or null. */
    takeRollup(symbol: string): RollupDetails | null {
      return rollups.take(symbol, record.actor());
    },

    /** Closes the rollups open for auditRollupMs or more (a crashed writer's): run when a store opens. */
    rollUpDue: (): number => closeRollups(undefined, true),

    /**
     * Recomputes every rollup's digest from the bars stored in its range: with verify() (the
     * chain is intact), proof that the stored bars are the ones recorded.
     */
    verifyRollups(): RollupVerification {
      return rollups.verify();
    },

    /** The newest entry's id and hash: keep a copy elsewhere to catch a later truncation. */
    head(): AuditHead | null {
      return guard(() => last.get()) ?? null;
    },

    /**
     * Recomputes the whole chain, page by page, from the table's own rows. With `head` (an
     * earlier head()), entries removed from the end since then are caught too: a chain alone
     * cannot tell its newest entries were deleted from their never having been written.
     */
    verify(options: { head?: AuditHead } = {}): AuditVerification {
      const verifier = new ChainVerifier(checkExpectedHead(options?.head));
      let after = 0;
      for (;;) {
        const rows = guard(() => page.all(after as never, PAGE_ROWS as never));
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

export type AuditRepository = ReturnType<typeof createAuditRepository>;

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
import { guard, type Connection } from "./connection.ts";
import { PAGE_ROWS } from "./series.ts";

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
}

export function createAuditRepository(conn: Connection, settings: ZoneReading & { readonly actor: string }) {
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
    },
  ) satisfies AuditRecorder;

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

/**
 * audit_pending: the open rollup of each symbol's live appends (src/domain/audit-rollup.ts has
 * the rules), upserted in the append's transaction and closed into one audit entry.
 */
import type { Bar } from "../domain/bar.ts";
import {
  closedRollup,
  isLiveAppend,
  mismatchCause,
  rollupOf,
  ROLLUP_ACTION,
  ROLLUP_ACTIONS,
  barsDigest,
  type AuditGrain,
  type PendingRollup,
  type RollupDetails,
  type RollupMismatch,
  type RollupVerification,
} from "../domain/audit-rollup.ts";
import { auditEntryOfRow, type StoredAuditRow } from "../domain/audit.ts";
import type { JsonValue } from "../domain/json.ts";
import { guard, type Connection } from "./connection.ts";
import { PAGE_ROWS } from "./series.ts";

export const AUDIT_PENDING_TABLE = `
CREATE TABLE audit_pending (
    symbol TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    batches INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    first_timestamp INTEGER NOT NULL,
    last_timestamp INTEGER NOT NULL,
    opened_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** Appends an entry naming `actor`, in the caller's write transaction. */
type AppendAs = (actor: string, action: string, entity: string, details: JsonValue) => void;

export function createRollups(conn: Connection, appendAs: AppendAs, rollupMs: number) {
  // One statement a live append: the actor guard makes an append by another actor return no
  // row, and RETURNING says when the rollup opened, so a due one closes without another read.
  const note = conn.prepare<{ opened_at: number }>(`
    INSERT INTO audit_pending (symbol, actor, batches, rows, first_timestamp, last_timestamp, opened_at)
    VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6)
    ON CONFLICT (symbol) DO UPDATE SET batches = batches + 1, rows = rows + excluded.rows,
      first_timestamp = min(first_timestamp, excluded.first_timestamp), last_timestamp = max(last_timestamp, excluded.last_timestamp)
    WHERE actor = excluded.actor
    RETURNING opened_at`);
  const pendingOf = conn.prepare<PendingRollup>("SELECT * FROM audit_pending WHERE symbol = ?");
  const pendingAll = conn.prepare<PendingRollup>("SELECT * FROM audit_pending WHERE opened_at <= ? ORDER BY symbol");
  const pendingCount = conn.prepare<{ n: number }>("SELECT count(*) AS n FROM audit_pending");
  const remove = conn.prepare("DELETE FROM audit_pending WHERE symbol = ?");
  const stored = conn.prepare<Bar>(
    "SELECT timestamp, open, high, low, close, volume, amount FROM market_data WHERE symbol = ? AND timestamp BETWEEN ? AND ? ORDER BY timestamp",
  );
  const rollupPage = conn.prepare<StoredAuditRow>(
    `SELECT id, timestamp, actor, action, entity, details, prev_hash, hash FROM audit_log
     WHERE id > ? AND action IN ('${ROLLUP_ACTIONS.join("', '")}') ORDER BY id LIMIT ?`,
  );
  const later = conn.prepare<{ id: number; action: string; details: string }>("SELECT id, action, details FROM audit_log WHERE id > ? AND entity = ? ORDER BY id");

  /** The pending row closed: its details, the row gone (in the caller's transaction). */
  function take(pending: PendingRollup): RollupDetails {
    remove.run(pending.symbol as never);
    return closedRollup(pending, stored.iterate(pending.symbol as never, pending.first_timestamp as never, pending.last_timestamp as never));
  }

  function close(pending: PendingRollup): void {
    appendAs(pending.actor, ROLLUP_ACTION, pending.symbol, take(pending) as unknown as JsonValue);
  }

  /** Closes every pending rollup opened at or before `openedBy`, or `symbol`'s; returns how many. */
  function closeWhere(openedBy: number, symbol: string | undefined): number {
    const rows =
      symbol === undefined ? pendingAll.all(openedBy as never) : [pendingOf.get(symbol as never)].filter((row): row is PendingRollup => row != null && row.opened_at <= openedBy);
    for (const pending of rows) close(pending);
    return rows.length;
  }

  return {
    /**
     * Records an insertBars of `rows` minute bars at the store's grain, inside its transaction:
     * `full` (the per-call entry) when it is not a live append, else the symbol's rollup grows.
     */
    appended(symbol: string, actor: string, rows: number, start: number, end: number, grain: AuditGrain | undefined, full: () => void): void {
      if (!isLiveAppend(rows, rollupMs, grain)) return full();
      const now = Date.now();
      let opened = note.get(symbol as never, actor as never, rows as never, start as never, end as never, now as never);
      if (opened === null) {
        // Another actor's rollup is open: it closes under its own name, this one opens.
        close(pendingOf.get(symbol as never)!);
        opened = note.get(symbol as never, actor as never, rows as never, start as never, end as never, now as never);
      }
      if (opened!.opened_at <= now - rollupMs) close(pendingOf.get(symbol as never)!);
    },

    /**
     * The symbol's rollup closed for an entry `actor` writes itself (a compaction's): its
     * details, or null when none is open. One opened by another actor closes under that name.
     */
    take(symbol: string, actor: string): RollupDetails | null {
      const pending = pendingOf.get(symbol as never);
      if (!pending) return null;
      if (pending.actor !== actor) {
        close(pending);
        return null;
      }
      return take(pending);
    },

    /** Closes `symbol`'s rollup, or every one (`due`: only if open for rollupMs); in a write transaction. */
    rollUp(symbol: string | undefined, due = false): number {
      return closeWhere(due ? Date.now() - rollupMs : Number.MAX_SAFE_INTEGER, symbol);
    },

    /** Whether any rollup has been open for rollupMs (checked before taking the write lock). */
    anyDue(): boolean {
      return rollupMs > 0 && guard(() => pendingAll.get((Date.now() - rollupMs) as never)) != null;
    },

    /** Re-digests every rollup's range (src/domain/audit-rollup.ts says what a mismatch means). */
    verify(): RollupVerification {
      const mismatches: RollupMismatch[] = [];
      let checked = 0;
      let after = 0;
      for (;;) {
        const rows = guard(() => rollupPage.all(after as never, PAGE_ROWS as never));
        for (const row of rows) {
          const entry = auditEntryOfRow(row);
          const rollup = rollupOf(entry);
          if (!rollup || entry.entity === null) continue;
          checked++;
          const found = barsDigest(stored.iterate(entry.entity as never, rollup.start as never, rollup.end as never));
          if (found.sha256 === rollup.sha256) continue;
          const changedBy = mismatchCause(guard(() => later.all(entry.id as never, entry.entity as never)), pendingOf.get(entry.entity as never), rollup.start, rollup.end);
          mismatches.push({
            id: entry.id, symbol: entry.entity, start: rollup.start, end: rollup.end,
            recorded: { stored: rollup.stored, sha256: rollup.sha256 }, found, changedBy,
          });
        }
        if (rows.length < PAGE_ROWS) break;
        after = rows[rows.length - 1]!.id;
      }
      return { ok: mismatches.every((each) => each.changedBy !== null), checked, pending: guard(() => pendingCount.get())!.n, mismatches };
    },
  };
}

export type Rollups = ReturnType<typeof createRollups>;

/**
 * audit_pending on PostgreSQL: the open rollup of each symbol's live appends, as
 * src/sqlite/audit-rollup.ts keeps it (src/domain/audit-rollup.ts has the rules). Every call
 * runs in the caller's transaction, which holds the audit chain's lock.
 */
import type { SQL } from "bun";
import type { Bar } from "../domain/bar.ts";
import {
  barsDigest,
  closedRollup,
  isLiveAppend,
  mismatchCause,
  rollupOf,
  ROLLUP_ACTION,
  ROLLUP_ACTIONS,
  type AuditGrain,
  type PendingRollup,
  type RollupDetails,
  type RollupMismatch,
  type RollupVerification,
} from "../domain/audit-rollup.ts";
import { auditEntryOfRow, type StoredAuditRow } from "../domain/audit.ts";
import type { JsonValue } from "../domain/json.ts";

export const AUDIT_PENDING_TABLE = `
CREATE TABLE audit_pending (
    symbol TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    batches BIGINT NOT NULL,
    rows BIGINT NOT NULL,
    first_timestamp BIGINT NOT NULL,
    last_timestamp BIGINT NOT NULL,
    opened_at BIGINT NOT NULL
);
`;

/** Rows per page in verify(), as the chain's. */
const PAGE_ROWS = 8_192;

/** Appends an entry naming `actor` in `tx`. */
type AppendAs = (tx: SQL, actor: string, action: string, entity: string, details: JsonValue) => Promise<unknown>;

const PENDING_COLUMNS = `symbol, actor, batches::float8 AS batches, rows::float8 AS rows, first_timestamp::float8 AS first_timestamp,
  last_timestamp::float8 AS last_timestamp, opened_at::float8 AS opened_at`;

export function createRollups(appendAs: AppendAs, rollupMs: number) {
  async function pendingOf(tx: SQL, symbol: string): Promise<PendingRollup | undefined> {
    const rows = (await tx.unsafe(`SELECT ${PENDING_COLUMNS} FROM audit_pending WHERE symbol = $1`, [symbol])) as PendingRollup[];
    return rows[0];
  }

  function stored(tx: SQL, symbol: string, start: number, end: number): Promise<Bar[]> {
    return tx`SELECT timestamp::float8 AS timestamp, open, high, low, close, volume, amount FROM market_data
              WHERE symbol = ${symbol} AND timestamp BETWEEN ${start} AND ${end} ORDER BY timestamp` as Promise<Bar[]>;
  }

  async function take(tx: SQL, pending: PendingRollup): Promise<RollupDetails> {
    await tx`DELETE FROM audit_pending WHERE symbol = ${pending.symbol}`;
    return closedRollup(pending, await stored(tx, pending.symbol, pending.first_timestamp, pending.last_timestamp));
  }

  async function close(tx: SQL, pending: PendingRollup): Promise<void> {
    await appendAs(tx, pending.actor, ROLLUP_ACTION, pending.symbol, (await take(tx, pending)) as unknown as JsonValue);
  }

  async function note(tx: SQL, symbol: string, actor: string, rows: number, start: number, end: number, now: number): Promise<number | undefined> {
    const found = (await tx`
      INSERT INTO audit_pending (symbol, actor, batches, rows, first_timestamp, last_timestamp, opened_at)
      VALUES (${symbol}, ${actor}, 1, ${rows}, ${start}, ${end}, ${now})
      ON CONFLICT (symbol) DO UPDATE SET batches = audit_pending.batches + 1, rows = audit_pending.rows + excluded.rows,
        first_timestamp = least(audit_pending.first_timestamp, excluded.first_timestamp),
        last_timestamp = greatest(audit_pending.last_timestamp, excluded.last_timestamp)
      WHERE audit_pending.actor = excluded.actor
      RETURNING opened_at::float8 AS opened_at`) as { opened_at: number }[];
    return found[0]?.opened_at;
  }

  async function closeWhere(tx: SQL, openedBy: number, symbol: string | undefined): Promise<number> {
    const rows =
      symbol === undefined
        ? ((await tx.unsafe(`SELECT ${PENDING_COLUMNS} FROM audit_pending WHERE opened_at <= $1 ORDER BY symbol`, [openedBy])) as PendingRollup[])
        : [await pendingOf(tx, symbol)].filter((row): row is PendingRollup => row !== undefined && row.opened_at <= openedBy);
    for (const pending of rows) await close(tx, pending);
    return rows.length;
  }

  return {
    /** As SQLite's: a live append grows the symbol's rollup, any other runs `full`. In `tx`. */
    async appended(
      tx: SQL, symbol: string, actor: string, rows: number, start: number, end: number, grain: AuditGrain | undefined, full: () => Promise<unknown>,
    ): Promise<void> {
      if (!isLiveAppend(rows, rollupMs, grain)) {
        await full();
        return;
      }
      const now = Date.now();
      let opened = await note(tx, symbol, actor, rows, start, end, now);
      if (opened === undefined) {
        await close(tx, (await pendingOf(tx, symbol))!);
        opened = await note(tx, symbol, actor, rows, start, end, now);
      }
      if (opened! <= now - rollupMs) await close(tx, (await pendingOf(tx, symbol))!);
    },

    /** The symbol's rollup closed for a compaction's entry naming `actor`, or null. */
    async take(tx: SQL, symbol: string, actor: string): Promise<RollupDetails | null> {
      const pending = await pendingOf(tx, symbol);
      if (!pending) return null;
      if (pending.actor !== actor) {
        await close(tx, pending);
        return null;
      }
      return take(tx, pending);
    },

    /** Closes `symbol`'s rollup, or every one (`due`: only if open for rollupMs), in `tx`. */
    rollUp: (tx: SQL, symbol: string | undefined, due = false) => closeWhere(tx, due ? Date.now() - rollupMs : Number.MAX_SAFE_INTEGER, symbol),

    async anyDue(sql: SQL): Promise<boolean> {
      if (rollupMs <= 0) return false;
      const rows = await sql`SELECT 1 FROM audit_pending WHERE opened_at <= ${Date.now() - rollupMs} LIMIT 1`;
      return rows.length > 0;
    },

    /** Re-digests every rollup's range, as SQLite's verify does. */
    async verify(sql: SQL): Promise<RollupVerification> {
      const mismatches: RollupMismatch[] = [];
      let checked = 0;
      let after = 0;
      for (;;) {
        const rows = (await sql`SELECT id::float8 AS id, timestamp::float8 AS timestamp, actor, action, entity, details, prev_hash, hash
                                FROM audit_log WHERE id > ${after} AND action IN ${sql([...ROLLUP_ACTIONS])} ORDER BY id LIMIT ${PAGE_ROWS}`) as StoredAuditRow[];
        for (const row of rows) {
          const entry = auditEntryOfRow(row);
          const rollup = rollupOf(entry);
          if (!rollup || entry.entity === null) continue;
          checked++;
          const found = barsDigest(await stored(sql, entry.entity, rollup.start, rollup.end));
          if (found.sha256 === rollup.sha256) continue;
          const later = (await sql`SELECT id::float8 AS id, action, details FROM audit_log
                                 WHERE id > ${entry.id} AND entity = ${entry.entity} ORDER BY id`) as { id: number; action: string; details: string }[];
          const changedBy = mismatchCause(later, await pendingOf(sql, entry.entity), rollup.start, rollup.end);
          mismatches.push({
            id: entry.id, symbol: entry.entity, start: rollup.start, end: rollup.end,
            recorded: { stored: rollup.stored, sha256: rollup.sha256 }, found, changedBy,
          });
        }
        if (rows.length < PAGE_ROWS) break;
        after = rows[rows.length - 1]!.id;
      }
      const [count] = (await sql`SELECT count(*)::float8 AS n FROM audit_pending`) as { n: number }[];
      return { ok: mismatches.every((each) => each.changedBy !== null), checked, pending: count!.n, mismatches };
    },
  };
}

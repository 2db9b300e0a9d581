/**
 * bar_changes: what watch() reads (src/domain/watch.ts says why a log). One row per change:
 * symbol, series, the timestamp range, kind ("upsert" or "delete"), with a seq that only grows
 * (AUTOINCREMENT: a trimmed or emptied log never hands out an old seq again, so a cursor cannot
 * meet a different change under its number).
 *
 * Who writes it, inside the writer's own transaction:
 * - tradelite's insertBars: one row per batch (appendChange), while the summary's insert
 *   trigger is switched off (src/sqlite/summary.ts), so the hot path adds one insert per batch,
 *   not a trigger statement per row.
 * - every other writer (deletes, restamps, daily bars, a Python recorder, the sqlite3 shell): the
 *   summary's row triggers, recreated here with a logging statement in the same body, so there
 *   is still one trigger (and one WHEN) per row: a second trigger would cost every row of the
 *   hot path its WHEN again (~x1.2, summary.ts). Price updates by other programs (an UPDATE, or
 *   an upsert that meets its key) are logged by an update trigger that never fires for
 *   tradelite's own batches, whose switch is on.
 *
 * Retention: the newest CHANGE_LOG_KEEP rows. insertBars trims at every TRIM_EVERY-th seq, at most
 * TRIM_STEP rows at a time (a bounded cost inside a write), and maintenance.optimize() trims all
 * that is past it (a file only other programs write), each recording the highest seq trimmed
 * in bar_changes_state, so a cursor older than that replays from the oldest row kept and says so.
 * bar_changes_state also holds the database's random identity, which every cursor carries.
 */
import { SUMMARY_SERIES } from "../domain/overview.ts";
import { CHANGE_LOG_KEEP, headPoller, type ChangeFeed, type ChangedBar, type ChangeLogState, type ChangeRow } from "../domain/change-feed.ts";
import { guard, type Connection } from "./connection.ts";
import { KEY_MOVED, OTHER_WRITER, summaryAdd, summaryRemove } from "./summary.ts";

const TRIM_EVERY = 1_024;
const TRIM_STEP = 8_192;
/** How often a waiting watch reads the head: a change is seen ~1 ms after commit on average. */
const POLL_MS = 2;


function logRow(series: string, row: "NEW" | "OLD", kind: "upsert" | "delete"): string {
  return `
  INSERT INTO bar_changes (symbol, series, first_timestamp, last_timestamp, kind)
  VALUES (${row}.symbol, '${series}', ${row}.timestamp, ${row}.timestamp, '${kind}');`;
}

/**
 * The one insert trigger of `table` for every writer but insertBars: the summary's count of a new
 * key, the change log's row, and `also` (our constant SQL: a later feature that must see other
 * writers' inserts adds its statement here, as derived days do, instead of a second trigger,
 * which would cost insertBars a trigger subprogram per row even with its WHEN false).
 */
export function insertTrigger(table: string, series: string, also = "", when = OTHER_WRITER): string {
  return `CREATE TRIGGER ${table}_summary_insert BEFORE INSERT ON ${table}
WHEN ${when} AND NEW.symbol IS NOT NULL AND NEW.timestamp IS NOT NULL
BEGIN${summaryAdd(series, "NEW", table)}${logRow(series, "NEW", "upsert")}${also}
END;`;
}

/** One series' triggers: the summary's three, each logging too, and the price-update logger. */
function changeTriggers(table: string, series: string): string {
  return `
DROP TRIGGER ${table}_summary_insert;
DROP TRIGGER ${table}_summary_delete;
DROP TRIGGER ${table}_summary_move;
${insertTrigger(table, series)}
CREATE TRIGGER ${table}_summary_delete AFTER DELETE ON ${table}
BEGIN${summaryRemove(table, series, "OLD")}${logRow(series, "OLD", "delete")}
END;
CREATE TRIGGER ${table}_summary_move AFTER UPDATE OF symbol, timestamp ON ${table}
WHEN ${KEY_MOVED}
BEGIN${summaryRemove(table, series, "OLD")}${summaryAdd(series, "NEW")}${logRow(series, "OLD", "delete")}${logRow(series, "NEW", "upsert")}
END;
${updateLogger(table, series)}
`;
}

/** The change log's logger of price updates by other programs (an UPDATE, or an upsert that meets its key). */
export function updateLogger(table: string, series: string, when = OTHER_WRITER): string {
  return `CREATE TRIGGER ${table}_changes_update AFTER UPDATE OF open, high, low, close, volume, amount ON ${table}
WHEN ${when} AND NOT (${KEY_MOVED})
BEGIN${logRow(series, "NEW", "upsert")}
END;`;
}

export const CHANGES_MIGRATION =
  `
CREATE TABLE bar_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    symbol TEXT NOT NULL,
    series TEXT NOT NULL,
    first_timestamp INTEGER NOT NULL,
    last_timestamp INTEGER NOT NULL,
    kind TEXT NOT NULL
);
CREATE TABLE bar_changes_state (id TEXT NOT NULL, trimmed INTEGER NOT NULL);
INSERT INTO bar_changes_state (id, trimmed) VALUES (lower(hex(randomblob(8))), 0);
` + SUMMARY_SERIES.map(({ series, table }) => changeTriggers(table, series)).join("");

/**
 * Deletes the rows more than `keep` behind `head`, at most `step` of them (-1: all), and records
 * the highest seq trimmed; resolves with the rows deleted. In the caller's write transaction.
 */
export function prepareChangeTrim(conn: Connection, keep = CHANGE_LOG_KEEP) {
  const trim = conn.prepare("DELETE FROM bar_changes WHERE seq IN (SELECT seq FROM bar_changes WHERE seq <= ? ORDER BY seq LIMIT ?)");
  const recordTrim = conn.prepare(
    "UPDATE bar_changes_state SET trimmed = max(trimmed, coalesce((SELECT min(seq) FROM bar_changes), ?1 + 1) - 1)",
  );
  return function trimChanges(head: number, step: number): number {
    if (head <= keep) return 0;
    const deleted = trim.run((head - keep) as never, step as never).changes;
    recordTrim.run(head as never);
    return deleted;
  };
}

/** insertBars' one row per batch, and the bounded trim every `every` seqs (a test passes small numbers). */
export function prepareChangeLog(conn: Connection, keep = CHANGE_LOG_KEEP, every = TRIM_EVERY) {
  const append = conn.prepare("INSERT INTO bar_changes (symbol, series, first_timestamp, last_timestamp, kind) VALUES (?, 'minutes', ?, ?, 'upsert')");
  const trimChanges = prepareChangeTrim(conn, keep);
  return function appendChange(symbol: string, first: number, last: number): void {
    const seq = Number(append.run(symbol as never, first as never, last as never).lastInsertRowid);
    if (seq % every === 0) trimChanges(seq, TRIM_STEP);
  };
}

/** The change log read synchronously (what a store worker answers with). */
export interface ChangeLogReader {
  head(): number;
  state(): ChangeLogState;
  rows(after: number, limit: number): ChangeRow[];
  /** ChangeFeed.bars with the ranges as their JSON (a string crosses to a worker as a copy of its bytes; 5,000 objects are cloned one by one). */
  bars(rangesJson: string, limit: number): ChangedBar[];
}

export function prepareChangeLogReader(conn: Connection): ChangeLogReader {
  const head = conn.prepare<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'bar_changes'");
  const state = conn.prepare<{ id: string; trimmed: number }>("SELECT id, trimmed FROM bar_changes_state");
  const rows = conn.prepare<ChangeRow>(
    "SELECT seq, symbol, series, first_timestamp AS first, last_timestamp AS last, kind, NULL AS txn FROM bar_changes WHERE seq > ? ORDER BY seq LIMIT ?",
  );
  // The ranges go in as one JSON parameter (one statement text whatever their number); each is
  // a seek on market_data's (symbol, timestamp) key.
  const bars = conn.prepare<ChangedBar>(
    `SELECT m.symbol, m.timestamp, m.open, m.high, m.low, m.close, m.volume, m.amount
       FROM json_each(?) AS r
       JOIN market_data AS m ON m.symbol = r.value ->> '$.symbol' AND m.timestamp BETWEEN r.value ->> '$.first' AND r.value ->> '$.last'
      ORDER BY r.key, m.timestamp LIMIT ?`,
  );
  const readHead = () => {
    conn.assertOpen();
    return guard(() => head.get()?.seq ?? 0);
  };
  return {
    head: readHead,
    state() {
      conn.assertOpen();
      const { id, trimmed } = guard(() => state.get()!);
      return { id, trimmed, head: readHead() };
    },
    rows(after, limit) {
      conn.assertOpen();
      return guard(() => rows.all(after as never, limit as never));
    },
    bars(rangesJson, limit) {
      conn.assertOpen();
      return guard(() => bars.all(rangesJson as never, limit as never));
    },
  };
}

/** The change log as watch() reads it, with one head poller for every watch on this connection. */
export function createChangeFeed(log: ChangeLogReader): ChangeFeed {
  const poller = headPoller(log.head, POLL_MS);
  return {
    state: async () => log.state(),
    read: async (after, limit) => log.rows(after, limit),
    bars: async (ranges, limit) => log.bars(JSON.stringify(ranges), limit),
    wait: (after, signal) => poller.wait(after, signal),
  };
}

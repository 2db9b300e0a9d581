/**
 * market_data_summary: per symbol and stored series (market_data's minutes, market_data_daily's
 * days) the bar count and the first and last timestamp, so overview() reads one row per symbol
 * instead of grouping every bar. Triggers on the two bar tables keep it exact in the transaction
 * of every write, whichever program makes it: tradelite, or a Python recorder or the sqlite3
 * shell on the same file.
 *
 * Measured on this machine (2026-12, 2 shared cores, medians of 1,500 appended 240-row batches,
 * interleaved with the code before the summary): counting every row in the insert trigger makes
 * insertBars x1.9 slower; at the bare-SQL level a trigger costs ~1 us a row and even one that
 * never fires (WHEN 0) x1.2, since SQLite runs a trigger subprogram per row. A change check
 * without triggers (recount the touched symbol after each write: bench.ts case 19) costs more as
 * the symbol's history grows, and cannot see which symbols another program touched: SQLite tells
 * a connection only that the file changed (PRAGMA data_version), so every foreign commit would
 * mean recounting every row, the GROUP BY overview() is here to avoid. So: triggers for every
 * writer, and tradelite's own minute inserts (the hot path) switch the insert trigger off inside
 * their transaction and count the batch themselves with two range counts and one summary
 * upsert (prepareCountedInsert): insertBars x1.4 of before (x1.05 of it is the counting, the
 * rest the switched-off trigger's per-row WHEN). The switch was a row that is 1 only inside that
 * BEGIN IMMEDIATE transaction (set and reset in it, rolled back with it), so no other
 * connection ever reads it as 1; from schema 15 it is the connection's last_insert_rowid()
 * (src/sqlite/own-write.ts says why and how), and an append past the symbol's last bar skips
 * the range counts. Every other write (deletes, restamps, daily bars, imports that
 * do not go through insertBars, other programs) is counted by the triggers.
 *
 * The rules, each one SQLite behaviour:
 * - Inserts count in a BEFORE INSERT trigger when the key is not there yet: INSERT OR REPLACE
 *   deletes the old row without firing DELETE triggers (unless the writer turned on
 *   recursive_triggers), and an upsert that meets its key fires BEFORE INSERT then UPDATE, never
 *   AFTER INSERT; counting absent keys only is right for plain inserts, REPLACE, OR IGNORE,
 *   DO NOTHING and DO UPDATE alike.
 * - A delete recounts nothing: it decrements, and re-reads min or max through the primary key
 *   only when the deleted bar was the first or the last (row triggers run after each row, so
 *   the table is exactly the state the summary describes).
 * - An update fires the move trigger only when it changes the key (`UPDATE OF symbol,
 *   timestamp` with a WHEN): an upsert's DO UPDATE SET of the prices costs nothing. A move onto
 *   an existing key is refused: UPDATE OR REPLACE would delete the bar there unseen.
 * - The summary row goes when its count reaches 0, so a symbol with no bars left is not listed.
 */
import type { Connection } from "./connection.ts";
import { SUMMARY_SERIES } from "../domain/overview.ts";
import type { OwnWriteSwitch } from "./own-write.ts";

export const SUMMARY_TABLE = `
CREATE TABLE market_data_summary_writer (counting INTEGER NOT NULL);
INSERT INTO market_data_summary_writer (counting) VALUES (0);
CREATE TABLE market_data_summary (
    series TEXT NOT NULL,
    symbol TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_timestamp INTEGER NOT NULL,
    last_timestamp INTEGER NOT NULL,
    PRIMARY KEY (series, symbol)
) WITHOUT ROWID;
`;

/**
 * A trigger body's summary upsert counting bar `row` ("NEW") of `series`; with `newKeyIn` (a
 * BEFORE INSERT's table) only when the key is not stored yet.
 */
export function summaryAdd(series: string, row: "NEW", newKeyIn?: string): string {
  const values = `'${series}', ${row}.symbol, 1, ${row}.timestamp, ${row}.timestamp`;
  const source = newKeyIn === undefined
    ? `VALUES (${values})`
    : `SELECT ${values} WHERE NOT EXISTS (SELECT 1 FROM ${newKeyIn} WHERE symbol = ${row}.symbol AND timestamp = ${row}.timestamp)`;
  return `
  INSERT INTO market_data_summary (series, symbol, count, first_timestamp, last_timestamp)
  ${source}
  ON CONFLICT (series, symbol) DO UPDATE SET count = count + 1,
    first_timestamp = min(first_timestamp, excluded.first_timestamp),
    last_timestamp = max(last_timestamp, excluded.last_timestamp);`;
}

/** A trigger body's summary update uncounting bar `row` ("OLD") of `table`. */
export function summaryRemove(table: string, series: string, row: "OLD"): string {
  const key = `series = '${series}' AND symbol`;
  return `
  DELETE FROM market_data_summary WHERE ${key} = ${row}.symbol AND count <= 1;
  UPDATE market_data_summary SET count = count - 1,
    first_timestamp = CASE WHEN ${row}.timestamp <= first_timestamp
      THEN (SELECT min(timestamp) FROM ${table} WHERE symbol = ${row}.symbol) ELSE first_timestamp END,
    last_timestamp = CASE WHEN ${row}.timestamp >= last_timestamp
      THEN (SELECT max(timestamp) FROM ${table} WHERE symbol = ${row}.symbol) ELSE last_timestamp END
  WHERE ${key} = ${row}.symbol;`;
}

/**
 * True in a trigger for every writer but tradelite's insertBars (which counts, logs and derives
 * its batch itself), on the row switch of schema 11-14; from 15 a file whose market_data is
 * WITHOUT ROWID switches on last_insert_rowid() instead (src/sqlite/own-write.ts).
 */
export const OTHER_WRITER = "(SELECT counting FROM market_data_summary_writer) = 0";

/** An update trigger's WHEN for an update that moves a bar's key. */
export const KEY_MOVED = "OLD.symbol IS NOT NEW.symbol OR OLD.timestamp IS NOT NEW.timestamp";

/** The triggers that keep one series' rows exact; `table` and `series` are our constants. */
function summaryTriggers(table: string, series: string): string {
  const add = (row: "NEW") => summaryAdd(series, row);
  const remove = (row: "OLD") => summaryRemove(table, series, row);
  const moved = KEY_MOVED;
  return `
CREATE TRIGGER ${table}_summary_insert BEFORE INSERT ON ${table}
WHEN ${OTHER_WRITER} AND NEW.symbol IS NOT NULL AND NEW.timestamp IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM ${table} WHERE symbol = NEW.symbol AND timestamp = NEW.timestamp)
BEGIN${add("NEW")}
END;
CREATE TRIGGER ${table}_summary_delete AFTER DELETE ON ${table}
BEGIN${remove("OLD")}
END;
CREATE TRIGGER ${table}_summary_no_overwrite BEFORE UPDATE OF symbol, timestamp ON ${table}
WHEN (${moved}) AND EXISTS (SELECT 1 FROM ${table} WHERE symbol = NEW.symbol AND timestamp = NEW.timestamp)
BEGIN
  SELECT RAISE(ABORT, '${table}: moving a bar onto an existing (symbol, timestamp) is refused; delete that bar first');
END;
CREATE TRIGGER ${table}_summary_move AFTER UPDATE OF symbol, timestamp ON ${table}
WHEN ${moved}
BEGIN${remove("OLD")}${add("NEW")}
END;
`;
}

/**
 * The migration's SQL: the table, its triggers, and the rows of the bars already stored (one
 * GROUP BY, once), all inside the migration's transaction.
 */
export const SUMMARY_MIGRATION =
  SUMMARY_TABLE +
  SUMMARY_SERIES.map(({ series, table }) => summaryTriggers(table, series)).join("") +
  SUMMARY_SERIES.map(
    ({ series, table }) => `
INSERT INTO market_data_summary (series, symbol, count, first_timestamp, last_timestamp)
SELECT '${series}', symbol, count(*), min(timestamp), max(timestamp) FROM ${table} GROUP BY symbol;`,
  ).join("");

/** overview()'s read: one series' rows in symbol order (the key's order, no sort). */
export const SUMMARY_OVERVIEW_SQL = `
SELECT symbol, count, first_timestamp AS start, last_timestamp AS "end"
FROM market_data_summary WHERE series = ? ORDER BY symbol`;

/**
 * Runs `write` (an upsert of `symbol`'s bars spanning start..end, in the caller's write
 * transaction; it returns the distinct timestamps it wrote) with the triggers switched off for
 * it (src/sqlite/own-write.ts), and counts what it added itself. An append past the symbol's
 * last bar (the live path) adds every row: one summary lookup, no count. Otherwise the rows in
 * the span after minus those before are the new keys. First and last widen to the span.
 */
export function prepareCountedInsert(conn: Connection, own: OwnWriteSwitch) {
  const lastOf = conn.prepare<{ last: number }>("SELECT last_timestamp AS last FROM market_data_summary WHERE series = 'minutes' AND symbol = ?");
  const countSpan = conn.prepare<{ n: number }>("SELECT count(*) AS n FROM market_data WHERE symbol = ? AND timestamp BETWEEN ? AND ?");
  const add = conn.prepare(`
    INSERT INTO market_data_summary (series, symbol, count, first_timestamp, last_timestamp) VALUES ('minutes', ?1, ?2, ?3, ?4)
    ON CONFLICT (series, symbol) DO UPDATE SET count = count + excluded.count,
      first_timestamp = min(first_timestamp, excluded.first_timestamp), last_timestamp = max(last_timestamp, excluded.last_timestamp)`);
  return function countedInsert(symbol: string, start: number, end: number, write: () => number): number {
    const last = lastOf.get(symbol as never)?.last;
    const appends = last === undefined || start > last;
    const before = appends ? 0 : countSpan.get(symbol as never, start as never, end as never)!.n;
    let written: number;
    own.on();
    try {
      written = write();
    } finally {
      own.off();
    }
    const added = appends ? written : countSpan.get(symbol as never, start as never, end as never)!.n - before;
    if (added > 0) add.run(symbol as never, added as never, start as never, end as never);
    return written;
  };
}

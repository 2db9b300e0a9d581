/**
 * How a trigger on the bar tables tells tradelite's own insertBars rows (which insertBars counts,
 * logs and derives itself, a batch at a time) from every other writer's (counted, logged and
 * marked by the triggers, a row at a time).
 *
 * The first switch (schema 11-14) was a row, market_data_summary_writer.counting, that
 * insertBars set to 1 and back inside its transaction, and every trigger's WHEN read it: a
 * subquery per row, two UPDATEs per batch and a page of the file rewritten by every commit.
 * From schema 15 the switch is the connection's own last_insert_rowid(): insertBars inserts a
 * row with rowid OWN_WRITE_MARK into a TEMP table before its upsert and another after it, and
 * the WHEN compares. Measured here (2026-12, medians of 1,200 appended 240-row batches,
 * interleaved, raw statements): the upsert with the triggers on the row switch 0.81 of the
 * bare per-row loop, on last_insert_rowid() 0.89, without any trigger 1.14.
 *
 * Why it is exact:
 * - last_insert_rowid() is the connection's, so no other program ever reads tradelite's mark;
 *   another program's value is the rowid of its own last rowid insert, OWN_WRITE_MARK only if
 *   it inserted that very rowid (a negative number no AUTOINCREMENT or default rowid hands out).
 * - An insert into a WITHOUT ROWID table leaves last_insert_rowid() alone, so the mark holds
 *   through the whole multi-row upsert into market_data; inside a trigger body the value
 *   changes for the body only and is restored when the trigger ends (SQLite's documented rule).
 * - A market_data adopted from the ADR's DDL is a rowid table: each row inserted moves
 *   last_insert_rowid(), so such a file keeps the row switch (withoutRowid decides per file,
 *   at the migration and when insertBars prepares).
 * - The mark is not transactional: insertBars clears it in a finally, so a failed batch cannot
 *   leave it on for the connection's next delete or restamp.
 */
import type { Connection } from "./connection.ts";
import { insertTrigger, updateLogger } from "./changes.ts";
import { derivedTriggers } from "./derived-days.ts";

/** The rowid insertBars' TEMP row carries while its own upsert runs (within 2^53: bound exactly from JavaScript). */
export const OWN_WRITE_MARK = -6_004_217_913_318_901;

/** A trigger's WHEN on a file whose market_data is WITHOUT ROWID. */
export const MARKED_OTHER_WRITER = `last_insert_rowid() <> ${OWN_WRITE_MARK}`;

/** Whether market_data keeps rows without rowid (a new file) rather than as the ADR's rowid table (adopted). */
function withoutRowid(conn: Connection): boolean {
  const row = conn.sqlite.query("SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = 'market_data'").get() as { wr: number } | null;
  return row?.wr === 1;
}

/** insertBars' switch: on() before its own upsert, off() after it (in a finally). */
export interface OwnWriteSwitch {
  on(): void;
  off(): void;
}

export function prepareOwnWrite(conn: Connection): OwnWriteSwitch {
  if (!withoutRowid(conn)) {
    const setCounting = conn.prepare("UPDATE market_data_summary_writer SET counting = ?");
    return { on: () => setCounting.run(1 as never), off: () => setCounting.run(0 as never) };
  }
  // Made at the first write: a query_only reader that prepares the bar statements never writes.
  let mark: ReturnType<Connection["prepare"]> | undefined;
  const set = (rowid: number) => {
    if (!mark) {
      conn.sqlite.run("CREATE TEMP TABLE IF NOT EXISTS tradelite_own_write (id INTEGER PRIMARY KEY)");
      mark = conn.prepare("INSERT OR REPLACE INTO temp.tradelite_own_write (id) VALUES (?)");
    }
    mark.run(rowid as never);
  };
  return { on: () => set(OWN_WRITE_MARK), off: () => set(0) };
}

/**
 * Schema 15: the triggers that read the row switch, recreated on last_insert_rowid() when this
 * file's market_data is WITHOUT ROWID (an adopted rowid table keeps them as they are).
 */
export function ownWriteTriggers(conn: Connection): string {
  if (!withoutRowid(conn)) return "";
  const when = MARKED_OTHER_WRITER;
  return `
DROP TRIGGER market_data_summary_insert;
DROP TRIGGER market_data_days_update;
DROP TRIGGER market_data_days_delete;
DROP TRIGGER market_data_changes_update;
DROP TRIGGER market_data_daily_summary_insert;
DROP TRIGGER market_data_daily_changes_update;
${derivedTriggers(when)}
${updateLogger("market_data", "minutes", when)}
${insertTrigger("market_data_daily", "daily", "", when)}
${updateLogger("market_data_daily", "daily", when)}
`;
}

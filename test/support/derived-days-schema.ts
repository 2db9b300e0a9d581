/**
 * The schema objects of migration 13 (src/sqlite/derived-days.ts), dropped to simulate a file
 * written before it; the summary's insert trigger goes back to its migration-12 form (the change log's).
 */
import type { Database as SqliteDatabase } from "bun:sqlite";
import { insertTrigger } from "../../src/sqlite/changes.ts";

export function dropDerivedDays(raw: SqliteDatabase, restoreSummaryTrigger = true): void {
  for (const name of ["market_data_days_update", "market_data_days_delete"]) raw.run(`DROP TRIGGER IF EXISTS ${name}`);
  for (const table of ["market_data_days", "market_data_days_built", "market_data_days_dirty", "market_data_days_basis"]) raw.run(`DROP TABLE IF EXISTS ${table}`);
  if (restoreSummaryTrigger) {
    raw.run("DROP TRIGGER IF EXISTS market_data_summary_insert");
    raw.run(insertTrigger("market_data", "minutes"));
  }
}

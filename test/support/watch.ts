/**
 * Fixtures for the watch tests: collecting a watch's events, and taking the change log
 * (src/sqlite/changes.ts, src/postgres/changes.ts) out of a database for a migration test.
 */
import type { Database as SqliteDatabase } from "bun:sqlite";
import type { BarEvent, BarWatch } from "../../src/mod.ts";

/** Removes the change log's tables and its own triggers (the summary's keep their names). */
export function dropChangeLog(raw: SqliteDatabase): void {
  for (const table of ["market_data", "market_data_daily"]) raw.run(`DROP TRIGGER IF EXISTS ${table}_changes_update`);
  raw.run("DROP TABLE IF EXISTS bar_changes");
  raw.run("DROP TABLE IF EXISTS bar_changes_state");
}

/** The PostgreSQL change log's trigger functions (CASCADE takes the triggers). */
export const DROP_POSTGRES_CHANGE_TRIGGERS = `DROP FUNCTION IF EXISTS ${["market_data", "market_data_daily"]
  .flatMap((table) => ["insert", "update", "delete"].map((event) => `${table}_changes_${event}`))
  .join(", ")} CASCADE`;

/** The PostgreSQL change log's tables and trigger functions. */
export const DROP_POSTGRES_CHANGE_LOG = `DROP TABLE IF EXISTS bar_changes, bar_changes_state; ${DROP_POSTGRES_CHANGE_TRIGGERS}`;

/** The next `count` events of `watch` (it stays open). */
export async function take(watch: BarWatch, count: number): Promise<BarEvent[]> {
  const events: BarEvent[] = [];
  while (events.length < count) {
    const next = await watch.next();
    if (next.done) break;
    events.push(next.value);
  }
  return events;
}

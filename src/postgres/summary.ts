/**
 * market_data_summary on PostgreSQL: what src/sqlite/summary.ts keeps (count, first and last
 * timestamp per series and symbol), kept by statement-level triggers with transition tables, so
 * a batch costs one grouped statement, not a trigger call per row (tradelite's 240-row insert,
 * a psql COPY or a recorder's multi-row INSERT alike). PostgreSQL has no INSERT OR REPLACE: an
 * upsert that meets its key fires UPDATE triggers, whose transition tables hold the same keys
 * before and after, and is skipped; an UPDATE that moves keys, a DELETE and a TRUNCATE recount
 * the edges they may have removed through the primary key.
 *
 * Exact under concurrent writers at READ COMMITTED: inserts only add (count + n, LEAST and
 * GREATEST, resolved on the row's latest version by ON CONFLICT); a delete or move first locks
 * the summary rows of the symbols it touched, then re-reads min and max in a new statement, so
 * it sees every writer that committed before it got the lock.
 *
 * Where market_data is a TimescaleDB hypertable (migration 5), which refuses transition tables,
 * the same bodies run as row-level triggers instead: slower per row, equally exact.
 */
import { SUMMARY_SERIES } from "../domain/overview.ts";


export const SUMMARY_TABLE = `
CREATE TABLE market_data_summary (
    series text NOT NULL,
    symbol text COLLATE "C" NOT NULL,
    count bigint NOT NULL,
    first_timestamp bigint NOT NULL,
    last_timestamp bigint NOT NULL,
    PRIMARY KEY (series, symbol)
);
`;

/** Where a trigger's touched rows come from: transition tables, or the row's NEW and OLD. */
export interface RowsSource {
  readonly added: string;
  readonly removed: string;
  /** For UPDATE: true when no key moved (an upsert's DO UPDATE), so there is nothing to do. */
  readonly unmoved: string;
  readonly level: string;
}

export const STATEMENT_LEVEL: RowsSource = {
  added: "SELECT symbol, timestamp FROM new_rows",
  removed: "SELECT symbol, timestamp FROM old_rows",
  unmoved: "NOT EXISTS (SELECT symbol, timestamp FROM new_rows EXCEPT ALL SELECT symbol, timestamp FROM old_rows)",
  level: "STATEMENT",
};

export const ROW_LEVEL: RowsSource = {
  added: "SELECT NEW.symbol, NEW.timestamp",
  removed: "SELECT OLD.symbol, OLD.timestamp",
  unmoved: "NEW.symbol = OLD.symbol AND NEW.timestamp = OLD.timestamp",
  level: "ROW",
};

/**
 * The trigger functions and triggers of one series; `table`, `series` and the sources are our
 * constants. `changed` is the per-symbol count change of the rows removed and added.
 */
function summaryTriggers(table: string, series: string, source: RowsSource): string {
  const fn = `${table}_summary`;
  const recount = (changed: string) => `
    PERFORM 1 FROM market_data_summary
      WHERE series = '${series}' AND symbol IN (SELECT symbol FROM (${changed}) AS c) ORDER BY symbol FOR UPDATE;
    INSERT INTO market_data_summary (series, symbol, count, first_timestamp, last_timestamp)
    SELECT '${series}', c.symbol, c.n, e.first, e.last
    FROM (${changed}) AS c,
         LATERAL (SELECT min(timestamp) AS first, max(timestamp) AS last FROM ${table} WHERE symbol = c.symbol) AS e
    WHERE e.first IS NOT NULL
    ON CONFLICT (series, symbol) DO UPDATE SET count = market_data_summary.count + excluded.count,
      first_timestamp = excluded.first_timestamp, last_timestamp = excluded.last_timestamp;
    DELETE FROM market_data_summary AS s
    WHERE s.series = '${series}' AND s.symbol IN (SELECT symbol FROM (${changed}) AS c)
      AND NOT EXISTS (SELECT 1 FROM ${table} WHERE symbol = s.symbol);`;
  const removed = `SELECT symbol, -count(*) AS n FROM (${source.removed}) AS r(symbol, timestamp) GROUP BY symbol`;
  const moved = `SELECT symbol, sum(n) AS n FROM (
      SELECT symbol, 1 AS n FROM (${source.added}) AS a(symbol, timestamp)
      UNION ALL SELECT symbol, -1 FROM (${source.removed}) AS r(symbol, timestamp)) AS m GROUP BY symbol`;
  const transition = (tables: string) => (source === STATEMENT_LEVEL ? `REFERENCING ${tables} ` : "");
  return `
CREATE FUNCTION ${fn}_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO market_data_summary (series, symbol, count, first_timestamp, last_timestamp)
    SELECT '${series}', symbol, count(*), min(timestamp), max(timestamp)
    FROM (${source.added}) AS a(symbol, timestamp) GROUP BY symbol
    ON CONFLICT (series, symbol) DO UPDATE SET count = market_data_summary.count + excluded.count,
      first_timestamp = LEAST(market_data_summary.first_timestamp, excluded.first_timestamp),
      last_timestamp = GREATEST(market_data_summary.last_timestamp, excluded.last_timestamp);
    RETURN NULL;
END
$$;
CREATE FUNCTION ${fn}_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN${recount(removed)}
    RETURN NULL;
END
$$;
CREATE FUNCTION ${fn}_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF ${source.unmoved} THEN RETURN NULL; END IF;${recount(moved)}
    RETURN NULL;
END
$$;
CREATE FUNCTION ${fn}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM market_data_summary WHERE series = '${series}';
    RETURN NULL;
END
$$;
CREATE TRIGGER ${fn}_insert AFTER INSERT ON ${table} ${transition("NEW TABLE AS new_rows")}FOR EACH ${source.level} EXECUTE FUNCTION ${fn}_insert();
CREATE TRIGGER ${fn}_delete AFTER DELETE ON ${table} ${transition("OLD TABLE AS old_rows")}FOR EACH ${source.level} EXECUTE FUNCTION ${fn}_delete();
CREATE TRIGGER ${fn}_update AFTER UPDATE ON ${table} ${transition("OLD TABLE AS old_rows NEW TABLE AS new_rows")}FOR EACH ${source.level} EXECUTE FUNCTION ${fn}_update();
CREATE TRIGGER ${fn}_truncate AFTER TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}_truncate();
`;
}

/**
 * The migration's SQL: the table, the triggers (row-level on a hypertable), and the rows of the
 * bars already stored, in the migration's transaction. Dollar-quoted bodies nest under $do$.
 */
export const SUMMARY_MIGRATION =
  SUMMARY_TABLE +
  SUMMARY_SERIES.map(
    ({ series, table }) => `
${triggersAtLevel(table, (source) => summaryTriggers(table, series, source))}
INSERT INTO market_data_summary (series, symbol, count, first_timestamp, last_timestamp)
SELECT '${series}', symbol, count(*), min(timestamp), max(timestamp) FROM ${table} GROUP BY symbol;
`,
  ).join("");

/**
 * A DO block creating `table`'s triggers: statement-level, or row-level where the table is a
 * TimescaleDB hypertable (which refuses transition tables).
 */
export function triggersAtLevel(table: string, triggers: (source: RowsSource) => string): string {
  return `
DO $do$
DECLARE
    hypertable boolean := false;
BEGIN
    -- The catalog is there only where TimescaleDB is installed: read it only then.
    IF to_regclass('_timescaledb_catalog.hypertable') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM _timescaledb_catalog.hypertable WHERE table_name = $1)' INTO hypertable USING '${table}';
    END IF;
    IF hypertable THEN
        EXECUTE ${dollarQuote(triggers(ROW_LEVEL))};
    ELSE
        EXECUTE ${dollarQuote(triggers(STATEMENT_LEVEL))};
    END IF;
END
$do$;`;
}

/**
 * Both series' trigger functions and triggers at one level, for a test to put the row-level ones
 * (a hypertable's) on a plain table.
 */
export function summaryTriggersSql(level: "statement" | "row"): string {
  return SUMMARY_SERIES.map(({ series, table }) => summaryTriggers(table, series, level === "row" ? ROW_LEVEL : STATEMENT_LEVEL)).join("");
}

/** Our own SQL text as a string literal for EXECUTE (it holds $$ but never $sql$). */
function dollarQuote(text: string): string {
  return `$sql$${text}$sql$`;
}

/**
 * bar_changes on PostgreSQL: what src/sqlite/changes.ts keeps, written by statement-level
 * triggers (one grouped row per symbol per statement, whichever program writes: tradelite, psql,
 * a recorder's COPY), which then NOTIFY `tradelite_bar_changes`. Watches LISTEN through Bun.SQL's
 * sql.listen (one dedicated connection for the pool, re-subscribed by Bun after a drop); a
 * notification, and every (re)subscription, makes them read the log after their cursor, so a
 * dropped listen connection loses nothing. A slow poll (POLL_MS) backs the notifications up.
 *
 * Seqs must grow in commit order, or a watch that read seq 12 would never see an 11 committed
 * after it: the trigger takes a transaction-level advisory lock (CHANGES_LOCK) before it draws a
 * seq, so bar writers queue from their first logged statement to their commit. The trigger is
 * named to fire before the summary's, so the lock is taken before the summary's row locks. The
 * NOTIFY's payload is the newest seq logged, so a watch reads the log without asking for its head.
 * `txn` (txid_current()) lets a watch deliver one transaction's rows of a symbol as one range.
 *
 * Retention: the newest CHANGE_LOG_KEEP rows, trimmed by the insert trigger at every TRIM_EVERY-th
 * seq at most TRIM_STEP rows at a time; bar_changes_state records the highest seq trimmed and the
 * database's identity (what every cursor carries).
 */
import { SUMMARY_SERIES } from "../domain/overview.ts";
import { CHANGE_LOG_KEEP, headPoller, type ChangedBar, type ChangeFeed, type ChangeLogState, type ChangeRow } from "../domain/change-feed.ts";
import type { PostgresPool } from "./connection.ts";
import { ROW_LEVEL, STATEMENT_LEVEL, triggersAtLevel, type RowsSource } from "./summary.ts";

export const CHANGES_CHANNEL = "tradelite_bar_changes";
/** "barchnge" as a 64-bit advisory lock key. */
const CHANGES_LOCK = "7161132032434267749";
const TRIM_EVERY = 1_024;
const TRIM_STEP = 8_192;
/** The poll behind the notifications (a NOTIFY lost between a drop and the re-LISTEN, say). */
const POLL_MS = 1_000;

function changeTriggers(table: string, series: string, source: RowsSource): string {
  const fn = `${table}_changes`;
  const log = (rows: string, kind: "upsert" | "delete") => `
    INSERT INTO bar_changes (symbol, series, first_timestamp, last_timestamp, kind)
    SELECT symbol, '${series}', min(timestamp), max(timestamp), '${kind}'
    FROM (${rows}) AS c(symbol, timestamp) GROUP BY symbol ORDER BY symbol;`;
  const begin = (rows: string) => `
    IF NOT EXISTS (${rows}) THEN RETURN NULL; END IF;
    PERFORM pg_advisory_xact_lock(${CHANGES_LOCK});`;
  // The payload is the newest seq this statement logged: a watch behind it reads the log at once.
  const notify = `
    PERFORM pg_notify('${CHANGES_CHANNEL}', currval(pg_get_serial_sequence('bar_changes', 'seq'))::text);
    RETURN NULL;`;
  const transition = (tables: string) => (source === STATEMENT_LEVEL ? `REFERENCING ${tables} ` : "");
  const removedOnly = `${source.removed} EXCEPT ${source.added}`;
  return `
CREATE FUNCTION ${fn}_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    logged bigint;
    newest bigint;
BEGIN${begin(source.added)}${log(source.added, "upsert")}
    GET DIAGNOSTICS logged = ROW_COUNT;
    newest := currval(pg_get_serial_sequence('bar_changes', 'seq'));
    IF newest > ${CHANGE_LOG_KEEP} AND newest / ${TRIM_EVERY} <> (newest - logged) / ${TRIM_EVERY} THEN
        DELETE FROM bar_changes WHERE seq IN (
            SELECT seq FROM bar_changes WHERE seq <= newest - ${CHANGE_LOG_KEEP} ORDER BY seq LIMIT ${TRIM_STEP});
        UPDATE bar_changes_state SET trimmed = GREATEST(trimmed, coalesce((SELECT min(seq) FROM bar_changes), newest + 1) - 1);
    END IF;${notify}
END
$$;
CREATE FUNCTION ${fn}_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN${begin(source.added)}${log(source.added, "upsert")}${log(removedOnly, "delete")}${notify}
END
$$;
CREATE FUNCTION ${fn}_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN${begin(source.removed)}${log(source.removed, "delete")}${notify}
END
$$;
CREATE TRIGGER ${fn}_insert AFTER INSERT ON ${table} ${transition("NEW TABLE AS new_rows")}FOR EACH ${source.level} EXECUTE FUNCTION ${fn}_insert();
CREATE TRIGGER ${fn}_update AFTER UPDATE ON ${table} ${transition("OLD TABLE AS old_rows NEW TABLE AS new_rows")}FOR EACH ${source.level} EXECUTE FUNCTION ${fn}_update();
CREATE TRIGGER ${fn}_delete AFTER DELETE ON ${table} ${transition("OLD TABLE AS old_rows")}FOR EACH ${source.level} EXECUTE FUNCTION ${fn}_delete();
`;
}

/** The migration's SQL: the log, its state row, and each series' triggers (row-level on a hypertable). */
export const CHANGES_MIGRATION =
  `
CREATE TABLE bar_changes (
    seq bigserial PRIMARY KEY,
    symbol text COLLATE "C" NOT NULL,
    series text NOT NULL,
    first_timestamp bigint NOT NULL,
    last_timestamp bigint NOT NULL,
    kind text NOT NULL,
    txn bigint NOT NULL DEFAULT txid_current()
);
CREATE TABLE bar_changes_state (id text NOT NULL, trimmed bigint NOT NULL);
INSERT INTO bar_changes_state (id, trimmed) VALUES (md5(random()::text || clock_timestamp()::text), 0);
` +
  SUMMARY_SERIES.map(({ series, table }) => triggersAtLevel(table, (source) => changeTriggers(table, series, source))).join("");

/** Both series' change-log functions and triggers at one level, for a test to put a hypertable's (row-level) on a plain table. */
export function changeTriggersSql(level: "statement" | "row"): string {
  return SUMMARY_SERIES.map(({ series, table }) => changeTriggers(table, series, level === "row" ? ROW_LEVEL : STATEMENT_LEVEL)).join("");
}

/** The change log as watch() reads it: LISTEN for the wake-ups, the pool for the rows. */
export function createChangeFeed(pool: PostgresPool): ChangeFeed & { close(): Promise<void> } {
  const readHead = () =>
    pool.run(async (sql) => ((await sql`SELECT coalesce(max(seq), 0)::float8 AS head FROM bar_changes`) as { head: number }[])[0]!.head);
  const poller = headPoller(readHead, POLL_MS);
  let listening: Promise<{ unlisten(): Promise<void> }> | undefined;
  const listen = () => {
    if (listening) return;
    listening = pool.sql.listen(CHANGES_CHANNEL, (payload) => poller.poke(Number(payload)), () => poller.poke());
    // A failed LISTEN is tried again by the next wait; the poll carries the watch meanwhile.
    listening.catch(() => (listening = undefined));
  };
  return {
    async state(): Promise<ChangeLogState> {
      const [row] = (await pool.run((sql) => sql`SELECT id, trimmed::float8 AS trimmed FROM bar_changes_state`)) as { id: string; trimmed: number }[];
      return { id: row!.id, trimmed: row!.trimmed, head: await readHead() };
    },
    read: (after, limit) =>
      pool.run(
        (sql) => sql`SELECT seq::float8 AS seq, symbol, series, first_timestamp::float8 AS first, last_timestamp::float8 AS last, kind, txn::float8 AS txn
                     FROM bar_changes WHERE seq > ${after}::bigint ORDER BY seq LIMIT ${limit}`,
      ) as Promise<ChangeRow[]>,
    // The ranges go in as three array parameters, unnested: one statement text whatever their number.
    bars: (ranges, limit) =>
      pool.run(
        (sql) => sql`SELECT r.symbol, m.timestamp::float8 AS timestamp, m.open, m.high, m.low, m.close, m.volume, m.amount
                     FROM unnest(${ranges.map((range) => range.symbol)}::text[], ${ranges.map((range) => range.first)}::bigint[], ${ranges.map((range) => range.last)}::bigint[])
                          WITH ORDINALITY AS r(symbol, first, last, n)
                     JOIN market_data AS m ON m.symbol = r.symbol AND m.timestamp BETWEEN r.first AND r.last
                     ORDER BY r.n, m.timestamp LIMIT ${limit}`,
      ) as Promise<ChangedBar[]>,
    wait(after, signal) {
      listen();
      return poller.wait(after, signal);
    },
    async close() {
      poller.wakeAll();
      const subscription = listening;
      listening = undefined;
      await subscription?.then((s) => s.unlisten()).catch(() => {});
    },
  };
}

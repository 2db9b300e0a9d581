/**
 * market_data_days on PostgreSQL: the derived days of src/domain/derived-days.ts, kept as
 * src/sqlite/derived-days.ts keeps them, with PostgreSQL's means:
 *
 * - tradelite's insertBars keeps the days of its own batch in its transaction (continued in
 *   JavaScript when it appends, recomputed from the minutes when it lands inside a day), under
 *   a per-symbol advisory lock, so two writers appending to one symbol at READ COMMITTED never
 *   continue the same stored day twice. It says so to the triggers with a transaction-local
 *   setting (set_config(..., true): no other session sees it, a rollback clears it).
 * - Every other write (psql, a recorder, tradelite's deletes and restamps) is caught by
 *   statement-level triggers with transition tables (one grouped statement per statement, as
 *   the summary's: src/postgres/summary.ts), which mark the hours touched; a hypertable, which
 *   refuses transition tables, gets the same bodies as row-level triggers. Reads resample marked
 *   days on the fly; tradelite's next write to the symbol recomputes them.
 * - Built lazily (the migration creates empty tables): at a symbol's first insertBars or by
 *   buildDerivedDays(), one symbol per transaction.
 */
import type { SQL } from "bun";
import type { Bar } from "../domain/bar.ts";
import {
  aggregateDays,
  basisKey,
  batchDays,
  dayFinder,
  daysOfBatch,
  dirtyDays,
  fromRow,
  toRow,
  type DerivedBasis,
  type DerivedDay,
  type DerivedRow,
  type MinuteColumns,
} from "../domain/derived-days.ts";
import type { ReadRange } from "../domain/query.ts";
import { DAY_MS, MAX_TIMESTAMP, MIN_TIMESTAMP } from "../domain/time.ts";
import { READ_COMMITTED, type PostgresPool } from "./connection.ts";

const SETTING = "tradelite.days_writer";

/** Trigger bodies marking the hours of `rows` (our constant SQL) for built symbols. */
function markFunction(name: string, rows: string): string {
  return `
CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('${SETTING}', true) = 'on' THEN RETURN NULL; END IF;
    INSERT INTO market_data_days_dirty (symbol, hour)
    SELECT DISTINCT r.symbol, r.timestamp / 3600000 FROM (${rows}) AS r(symbol, timestamp)
    WHERE r.symbol IN (SELECT symbol FROM market_data_days_built)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;`;
}

function triggers(level: "STATEMENT" | "ROW"): string {
  const statement = level === "STATEMENT";
  const added = statement ? "SELECT symbol, timestamp FROM new_rows" : "SELECT NEW.symbol, NEW.timestamp";
  const removed = statement ? "SELECT symbol, timestamp FROM old_rows" : "SELECT OLD.symbol, OLD.timestamp";
  const transition = (tables: string) => (statement ? `REFERENCING ${tables} ` : "");
  return `${markFunction("market_data_days_insert", added)}${markFunction("market_data_days_delete", removed)}${markFunction("market_data_days_update", `${added} UNION ALL ${removed}`)}
CREATE FUNCTION market_data_days_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM market_data_days;
    DELETE FROM market_data_days_dirty;
    RETURN NULL;
END
$$;
CREATE TRIGGER market_data_days_insert AFTER INSERT ON market_data ${transition("NEW TABLE AS new_rows")}FOR EACH ${level} EXECUTE FUNCTION market_data_days_insert();
CREATE TRIGGER market_data_days_delete AFTER DELETE ON market_data ${transition("OLD TABLE AS old_rows")}FOR EACH ${level} EXECUTE FUNCTION market_data_days_delete();
CREATE TRIGGER market_data_days_update AFTER UPDATE ON market_data ${transition("OLD TABLE AS old_rows NEW TABLE AS new_rows")}FOR EACH ${level} EXECUTE FUNCTION market_data_days_update();
CREATE TRIGGER market_data_days_truncate AFTER TRUNCATE ON market_data FOR EACH STATEMENT EXECUTE FUNCTION market_data_days_truncate();
`;
}

export const DERIVED_DAYS_MIGRATION = `
CREATE TABLE market_data_days (
    symbol text COLLATE "C" NOT NULL,
    day bigint NOT NULL,
    open double precision, high double precision, low double precision, close double precision,
    volume_sum double precision NOT NULL, volume_err double precision, volume_n integer NOT NULL,
    amount_sum double precision NOT NULL, amount_err double precision, amount_n integer NOT NULL,
    minutes integer NOT NULL,
    first_timestamp bigint NOT NULL,
    last_timestamp bigint NOT NULL,
    integral smallint NOT NULL,
    PRIMARY KEY (symbol, day)
);
CREATE TABLE market_data_days_built (symbol text COLLATE "C" PRIMARY KEY);
CREATE TABLE market_data_days_dirty (symbol text COLLATE "C" NOT NULL, hour bigint NOT NULL, PRIMARY KEY (symbol, hour));
CREATE TABLE market_data_days_basis (basis text NOT NULL);
DO $do$
DECLARE
    hypertable boolean := false;
BEGIN
    IF to_regclass('_timescaledb_catalog.hypertable') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM _timescaledb_catalog.hypertable WHERE table_name = $1)' INTO hypertable USING 'market_data';
    END IF;
    IF hypertable THEN
        EXECUTE $sql$${triggers("ROW")}$sql$;
    ELSE
        EXECUTE $sql$${triggers("STATEMENT")}$sql$;
    END IF;
END
$do$;
`;

const DAY_COLUMNS = `day::float8 AS day, open, high, low, close, volume_sum, volume_err, volume_n::float8 AS volume_n, amount_sum, amount_err,
  amount_n::float8 AS amount_n, minutes::float8 AS minutes, first_timestamp::float8 AS first_timestamp, last_timestamp::float8 AS last_timestamp,
  integral::float8 AS integral`;

/** Rows per read of a symbol's minutes while building its days. */
const BUILD_PAGE = 50_000;

/** `minutesIn` reads a symbol's stored minutes of a range, ascending, inside `tx`. */
export function createDerivedDays(
  pool: PostgresPool,
  basisOf: () => DerivedBasis,
  minutesIn: (tx: SQL, symbol: string, start: number, end: number, limit: number | null) => Promise<Bar[]>,
) {
  async function state(sql: SQL, symbol: string) {
    const [row] = (await sql`
      SELECT (SELECT basis FROM market_data_days_basis LIMIT 1) AS basis,
             EXISTS (SELECT 1 FROM market_data_days_built WHERE symbol = ${symbol}) AS built,
             EXISTS (SELECT 1 FROM market_data_days_dirty WHERE symbol = ${symbol}) AS dirty,
             (SELECT count::float8 FROM market_data_summary WHERE series = 'minutes' AND symbol = ${symbol}) AS minutes`) as {
      basis: string | null;
      built: boolean;
      dirty: boolean;
      minutes: number | null;
    }[];
    return row!;
  }

  async function store(tx: SQL, symbol: string, days: readonly DerivedDay[]): Promise<void> {
    if (days.length === 0) return;
    const rows = days.map(toRow);
    // Each column as one array literal in a text parameter: a JavaScript array's parameter type
    // follows its first element (0 is sent as an integer, 0.5 as a double), and each new type
    // list would leave one more prepared statement of the same text.
    const column = (i: number) => `{${rows.map((row) => (row[i] === null ? "NULL" : String(row[i]))).join(",")}}`;
    await tx`
      INSERT INTO market_data_days (symbol, day, open, high, low, close, volume_sum, volume_err, volume_n, amount_sum, amount_err, amount_n,
                                    minutes, first_timestamp, last_timestamp, integral)
      SELECT ${symbol}, t.* FROM unnest(${column(0)}::text::bigint[], ${column(1)}::text::float8[], ${column(2)}::text::float8[], ${column(3)}::text::float8[],
        ${column(4)}::text::float8[], ${column(5)}::text::float8[], ${column(6)}::text::float8[], ${column(7)}::text::integer[], ${column(8)}::text::float8[],
        ${column(9)}::text::float8[], ${column(10)}::text::integer[], ${column(11)}::text::integer[], ${column(12)}::text::bigint[], ${column(13)}::text::bigint[],
        ${column(14)}::text::smallint[]) AS t
      ON CONFLICT (symbol, day) DO UPDATE SET open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
        volume_sum = excluded.volume_sum, volume_err = excluded.volume_err, volume_n = excluded.volume_n,
        amount_sum = excluded.amount_sum, amount_err = excluded.amount_err, amount_n = excluded.amount_n,
        minutes = excluded.minutes, first_timestamp = excluded.first_timestamp, last_timestamp = excluded.last_timestamp, integral = excluded.integral`;
  }

  async function recompute(tx: SQL, symbol: string, stamps: Iterable<number>, basis: DerivedBasis): Promise<void> {
    const dayOf = dayFinder(basis);
    for (const stamp of stamps) {
      const span = dayOf(stamp + (basis.barTimestamp === "end" ? 1 : 0));
      await tx`DELETE FROM market_data_days WHERE symbol = ${symbol} AND day = ${stamp}::bigint`;
      await store(tx, symbol, aggregateDays(await minutesIn(tx, symbol, span.start, span.end - 1, null), dayOf));
    }
  }

  async function build(tx: SQL, symbol: string, basis: DerivedBasis, days?: DerivedDay[]): Promise<void> {
    await tx`DELETE FROM market_data_days WHERE symbol = ${symbol}`;
    await tx`DELETE FROM market_data_days_dirty WHERE symbol = ${symbol}`;
    const dayOf = dayFinder(basis);
    if (days) await store(tx, symbol, days);
    else {
      // Page by page, a day never split between pages: a page ends before its last minute's day.
      let from = MIN_TIMESTAMP;
      for (;;) {
        const page = await minutesIn(tx, symbol, from, MAX_TIMESTAMP, BUILD_PAGE);
        const full = page.length === BUILD_PAGE;
        const cut = full ? dayOf(page[page.length - 1]!.timestamp).start : Infinity;
        const whole = full ? page.filter((bar) => bar.timestamp < cut) : page;
        await store(tx, symbol, aggregateDays(whole, dayOf));
        if (!full) break;
        from = whole.length > 0 ? cut : page[page.length - 1]!.timestamp + 1;
      }
    }
    await tx`INSERT INTO market_data_days_built (symbol) VALUES (${symbol}) ON CONFLICT DO NOTHING`;
  }

  async function settle(tx: SQL, symbol: string, basis: DerivedBasis): Promise<void> {
    const hours = (await tx`SELECT hour::float8 AS hour FROM market_data_days_dirty WHERE symbol = ${symbol}`) as { hour: number }[];
    await recompute(tx, symbol, dirtyDays(hours.map((row) => row.hour), basis), basis);
    await tx`DELETE FROM market_data_days_dirty WHERE symbol = ${symbol}`;
  }

  /** The state of `symbol` before a tradelite write (its lock taken): un-builds everything when the basis moved. */
  async function prepareWrite(tx: SQL, symbol: string, basis: DerivedBasis) {
    await tx`SELECT pg_advisory_xact_lock(hashtextextended(${`tradelite.days ${symbol}`}, 0))`;
    const now = await state(tx, symbol);
    const key = basisKey(basis);
    if (now.basis !== key) {
      await tx`DELETE FROM market_data_days_built`;
      await tx`DELETE FROM market_data_days_dirty`;
      await tx`DELETE FROM market_data_days_basis`;
      await tx`INSERT INTO market_data_days_basis (basis) VALUES (${key})`;
      return { built: false, dirty: false, minutes: now.minutes ?? 0 };
    }
    return { built: now.built, dirty: now.dirty, minutes: now.minutes ?? 0 };
  }

  return {
    /** Before insertBars' upsert in `tx`: the triggers skip tradelite's own rows. */
    async beforeInsert(tx: SQL): Promise<void> {
      await tx`SELECT set_config(${SETTING}, 'on', true)`;
    },

    /** After insertBars wrote `batch` in `tx`: the days it touched (src/domain/derived-days.ts batchDays). */
    async afterInsert(tx: SQL, symbol: string, batch: MinuteColumns, count: number): Promise<void> {
      await tx`SELECT set_config(${SETTING}, 'off', true)`;
      const basis = basisOf();
      const { built, dirty, minutes } = await prepareWrite(tx, symbol, basis);
      if (!built) return build(tx, symbol, basis, minutes === count ? batchDays(batch, count, dayFinder(basis), () => undefined).store : undefined);
      const dayOf = dayFinder(basis);
      const stamps = daysOfBatch(batch, count, dayOf);
      const found = (await tx.unsafe(`SELECT ${DAY_COLUMNS} FROM market_data_days WHERE symbol = $1 AND day = ANY($2::text::bigint[])`, [symbol, `{${stamps.join(",")}}`])) as DerivedRow[];
      const stored = new Map(found.map((row) => [row.day!, fromRow(row)]));
      const changes = batchDays(batch, count, dayOf, (day) => stored.get(day));
      await store(tx, symbol, changes.store);
      if (changes.recompute.length > 0) await recompute(tx, symbol, changes.recompute, basis);
      if (dirty) await settle(tx, symbol, basis);
    },

    /** After a tradelite delete in `tx`: the triggers marked what it removed; recompute those days now. */
    async afterDelete(tx: SQL, symbol: string): Promise<void> {
      const basis = basisOf();
      const { built, dirty } = await prepareWrite(tx, symbol, basis);
      if (built && dirty) await settle(tx, symbol, basis);
    },

    /** As src/sqlite/derived-days.ts read(): the rows meeting the range and the marked days, or undefined. */
    async read(symbol: string, range: ReadRange, basis: DerivedBasis): Promise<{ days: DerivedDay[]; dirty: Set<number> } | undefined> {
      return pool.run(async (sql) => {
        const now = await state(sql, symbol);
        if (!now.built || now.basis !== basisKey(basis)) return undefined;
        const from = Math.max(MIN_TIMESTAMP, range.start - 2 * DAY_MS);
        const rows = (await sql.unsafe(`SELECT ${DAY_COLUMNS} FROM market_data_days WHERE symbol = $1 AND day BETWEEN $2::bigint AND $3::bigint ORDER BY day`, [
          symbol,
          from,
          range.end,
        ])) as DerivedRow[];
        const days = rows.map(fromRow).filter((day) => day.last >= range.start && day.first <= range.end);
        const hours = now.dirty ? ((await sql`SELECT hour::float8 AS hour FROM market_data_days_dirty WHERE symbol = ${symbol}`) as { hour: number }[]) : [];
        return { days, dirty: dirtyDays(hours.map((row) => row.hour), basis) };
      });
    },

    /** Builds every symbol with minutes not built yet, one per transaction; returns how many. */
    async buildAll(): Promise<number> {
      const basis = basisOf();
      const symbols = await pool.run(
        async (sql) =>
          (await sql`SELECT symbol FROM market_data_summary WHERE series = 'minutes'
                     AND symbol NOT IN (SELECT symbol FROM market_data_days_built) ORDER BY symbol`) as { symbol: string }[],
      );
      for (const { symbol } of symbols) {
        await pool.run((sql) =>
          sql.begin(READ_COMMITTED, async (tx) => {
            const { built } = await prepareWrite(tx, symbol, basis);
            if (!built) await build(tx, symbol, basis);
          }),
        );
      }
      return symbols.length;
    },
  };
}

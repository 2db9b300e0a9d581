/**
 * market_data_days: the derived days of src/domain/derived-days.ts on SQLite, kept current in
 * the transaction of every write.
 *
 * - tradelite's insertBars (the hot path) keeps the days of its own batch: an append after a
 *   day's last minute continues the stored row in JavaScript (the batch is in hand, sorted);
 *   a batch landing inside or before a day's minutes recomputes that day from its minutes.
 *   One lookup statement and one upsert per day touched: a 240-row batch is one day.
 * - Every other write (a Python recorder or the sqlite3 shell, tradelite's deletes and restamps)
 *   is caught by triggers that mark the hour it touched in market_data_days_dirty (inserts in
 *   the summary's insert trigger, extended: a second insert trigger made 240-row insertBars
 *   x1.11 slower, measured interleaved, since SQLite runs a trigger program per row even when
 *   its WHEN is false; folded into the one trigger it costs nothing measurable); reads
 *   resample a marked day on the fly, and the next tradelite write to the symbol recomputes
 *   its marked days and clears the marks. A trigger cannot compute a local day in an IANA zone
 *   (SQLite has no zone data), and recomputing a day per foreign row would cost a day's read a
 *   row; a mark is one conditional insert, an hour of a live recorder one row. The triggers skip
 *   insertBars' own rows on its switch (src/sqlite/own-write.ts), and symbols not built yet.
 * - Building is lazy, so the migration costs constant time whatever the file holds: a symbol's
 *   days are built from its minutes (one ascending read) at its first insertBars, or by
 *   buildDerivedDays(); until then its reads resample on the fly, as before. The rows hold one
 *   basis (zone and stamping, market_data_days_basis): a write that finds the settings changed
 *   un-builds every symbol, and a read in another basis resamples on the fly.
 */
import type { Bar } from "../domain/bar.ts";
import {
  aggregateDays,
  basisKey,
  batchDays,
  dayFinder,
  DERIVED_COLUMNS,
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
import type { Connection } from "./connection.ts";
import type { SeriesReader } from "./series.ts";
import { OTHER_WRITER } from "./summary.ts";
import { insertTrigger } from "./changes.ts";


/**
 * Marks the hour of `row`'s bar for a symbol whose days are built. NOT EXISTS rather than
 * INSERT OR IGNORE: a conflict clause of the statement that fired the trigger (a recorder's
 * plain UPDATE is ABORT) overrides the one inside the trigger.
 */
const mark = (row: "NEW" | "OLD") => `
  INSERT INTO market_data_days_dirty (symbol, hour)
  SELECT ${row}.symbol, ${row}.timestamp / 3600000
  WHERE EXISTS (SELECT 1 FROM market_data_days_built WHERE symbol = ${row}.symbol)
    AND NOT EXISTS (SELECT 1 FROM market_data_days_dirty WHERE symbol = ${row}.symbol AND hour = ${row}.timestamp / 3600000);`;
export const DERIVED_DAYS_MIGRATION = `
CREATE TABLE market_data_days (
    symbol TEXT NOT NULL,
    day INTEGER NOT NULL,
    open REAL, high REAL, low REAL, close REAL,
    volume_sum REAL NOT NULL, volume_err REAL, volume_n INTEGER NOT NULL,
    amount_sum REAL NOT NULL, amount_err REAL, amount_n INTEGER NOT NULL,
    minutes INTEGER NOT NULL,
    first_timestamp INTEGER NOT NULL,
    last_timestamp INTEGER NOT NULL,
    integral INTEGER NOT NULL,
    PRIMARY KEY (symbol, day)
) WITHOUT ROWID;
CREATE TABLE market_data_days_built (symbol TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE market_data_days_dirty (symbol TEXT NOT NULL, hour INTEGER NOT NULL, PRIMARY KEY (symbol, hour)) WITHOUT ROWID;
CREATE TABLE market_data_days_basis (basis TEXT NOT NULL);
DROP TRIGGER market_data_summary_insert;
${derivedTriggers(OTHER_WRITER)}
`;

/** market_data's insert trigger with the marking added, and the update and delete markers; `when` is our constant. */
export function derivedTriggers(when: string): string {
  return `
${insertTrigger("market_data", "minutes", mark("NEW"), when)}
CREATE TRIGGER market_data_days_update AFTER UPDATE ON market_data WHEN ${when}
BEGIN${mark("OLD")}${mark("NEW")}
END;
CREATE TRIGGER market_data_days_delete AFTER DELETE ON market_data WHEN ${when}
BEGIN${mark("OLD")}
END;`;
}

const SELECT_DAYS = `SELECT ${DERIVED_COLUMNS.join(", ")} FROM market_data_days`;

/** `basis` is read at each call (the store's settings of the moment). */
export function createDerivedDays(conn: Connection, series: SeriesReader<Bar>, basisOf: () => DerivedBasis) {
  const state = conn.prepare<{ basis: string | null; built: number; dirty: number; minutes: number | null }>(`
    SELECT (SELECT basis FROM market_data_days_basis) AS basis,
           (SELECT count FROM market_data_summary WHERE series = 'minutes' AND symbol = ?1) AS minutes,
           EXISTS (SELECT 1 FROM market_data_days_built WHERE symbol = ?1) AS built,
           EXISTS (SELECT 1 FROM market_data_days_dirty WHERE symbol = ?1) AS dirty`);
  const dayAt = conn.prepare<DerivedRow>(`${SELECT_DAYS} WHERE symbol = ? AND day = ?`);
  const daysIn = conn.prepare<DerivedRow>(`${SELECT_DAYS} WHERE symbol = ? AND day BETWEEN ? AND ? ORDER BY day`);
  const upsertDay = conn.prepare(
    `INSERT OR REPLACE INTO market_data_days (symbol, ${DERIVED_COLUMNS.join(", ")}) VALUES (?${", ?".repeat(DERIVED_COLUMNS.length)})`,
  );
  const deleteDay = conn.prepare("DELETE FROM market_data_days WHERE symbol = ? AND day = ?");
  const deleteSymbolDays = conn.prepare("DELETE FROM market_data_days WHERE symbol = ?");
  const dirtyHours = conn.prepare<{ hour: number }>("SELECT hour FROM market_data_days_dirty WHERE symbol = ?");
  const clearDirty = conn.prepare("DELETE FROM market_data_days_dirty WHERE symbol = ?");
  const markBuilt = conn.prepare("INSERT OR IGNORE INTO market_data_days_built (symbol) VALUES (?)");
  const unbuildAll = conn.prepare("DELETE FROM market_data_days_built");
  const clearAllDirty = conn.prepare("DELETE FROM market_data_days_dirty");
  const clearBasis = conn.prepare("DELETE FROM market_data_days_basis");
  const setBasis = conn.prepare("INSERT INTO market_data_days_basis (basis) VALUES (?)");
  const unbuilt = conn.prepare<{ symbol: string }>(
    "SELECT DISTINCT symbol FROM market_data_summary WHERE series = 'minutes' AND symbol NOT IN (SELECT symbol FROM market_data_days_built) ORDER BY symbol",
  );

  function store(symbol: string, day: DerivedDay): void {
    upsertDay.run(symbol as never, ...(toRow(day) as never[]));
  }

  /** Recomputes days `stamps` of `symbol` from their minutes (a day with none left goes). */
  function recompute(symbol: string, stamps: Iterable<number>, basis: DerivedBasis): void {
    const dayOf = dayFinder(basis);
    for (const stamp of stamps) {
      const span = dayOf(stamp + (basis.barTimestamp === "end" ? 1 : 0));
      deleteDay.run(symbol as never, stamp as never);
      for (const day of aggregateDays(series.iterate(symbol, { start: span.start, end: span.end - 1, limit: -1, order: "asc" }), dayOf)) store(symbol, day);
    }
  }

  /**
   * Every day of `symbol` from its minutes (`days`, a new symbol's first batch aggregated, when
   * it holds all of them: nothing is read back), in the write transaction of the caller.
   */
  function build(symbol: string, basis: DerivedBasis, days?: DerivedDay[]): void {
    deleteSymbolDays.run(symbol as never);
    clearDirty.run(symbol as never);
    const minutes = () => series.iterate(symbol, { start: MIN_TIMESTAMP, end: MAX_TIMESTAMP, limit: -1, order: "asc" });
    for (const day of days ?? aggregateDays(minutes(), dayFinder(basis))) store(symbol, day);
    markBuilt.run(symbol as never);
  }

  /** The marked days of `symbol` recomputed, the marks cleared. */
  function settle(symbol: string, basis: DerivedBasis): void {
    recompute(symbol, dirtyDays(dirtyHours.all(symbol as never).map((row) => row.hour), basis), basis);
    clearDirty.run(symbol as never);
  }

  /** The state of `symbol` before a tradelite write: un-builds everything when the basis moved. */
  function prepareWrite(symbol: string, basis: DerivedBasis): { built: boolean; dirty: boolean; minutes: number } {
    const now = state.get(symbol as never)!;
    const key = basisKey(basis);
    if (now.basis !== key) {
      unbuildAll.run();
      clearAllDirty.run();
      clearBasis.run();
      setBasis.run(key as never);
      return { built: false, dirty: false, minutes: now.minutes ?? 0 };
    }
    return { built: now.built === 1, dirty: now.dirty === 1, minutes: now.minutes ?? 0 };
  }

  return {
    /**
     * After insertBars wrote `batch` (sorted, in its transaction): the days it touched, continued
     * in JavaScript when it appends to them, recomputed when it lands inside or before a day.
     */
    afterInsert(symbol: string, batch: MinuteColumns, count: number): void {
      const basis = basisOf();
      const { built, dirty, minutes: stored } = prepareWrite(symbol, basis);
      if (!built) return build(symbol, basis, stored === count ? batchDays(batch, count, dayFinder(basis), () => undefined).store : undefined);
      // One primary-key lookup per day of the batch (a live batch: one).
      const changes = batchDays(batch, count, dayFinder(basis), (day) => {
        const found = dayAt.get(symbol as never, day as never);
        return found ? fromRow(found) : undefined;
      });
      for (const day of changes.store) store(symbol, day);
      if (changes.recompute.length > 0) recompute(symbol, changes.recompute, basis);
      if (dirty) settle(symbol, basis);
    },

    /** After a tradelite delete: the triggers marked what it removed; recompute those days now. */
    afterDelete(symbol: string): void {
      const basis = basisOf();
      const { built, dirty } = prepareWrite(symbol, basis);
      if (built && dirty) settle(symbol, basis);
    },

    /**
     * What a read of `symbol` over `range` needs, or undefined when its days are not built or
     * were built in another basis: the derived rows that meet the range and the marked days.
     */
    read(symbol: string, range: ReadRange, basis: DerivedBasis): { days: DerivedDay[]; dirty: Set<number> } | undefined {
      const now = state.get(symbol as never)!;
      if (now.built !== 1 || now.basis !== basisKey(basis)) return undefined;
      const from = Math.max(MIN_TIMESTAMP, range.start - 2 * DAY_MS);
      const days: DerivedDay[] = [];
      for (const row of daysIn.all(symbol as never, from as never, range.end as never)) {
        const day = fromRow(row);
        if (day.last >= range.start && day.first <= range.end) days.push(day);
      }
      const dirty = now.dirty === 1 ? dirtyDays(dirtyHours.all(symbol as never).map((row) => row.hour), basis) : new Set<number>();
      return { days, dirty };
    },

    /**
     * Builds (or settles) every symbol with minutes whose days are not built yet, one symbol per
     * transaction, so a migrated file fills in without one long lock. Returns the symbols built.
     */
    buildAll(): number {
      const basis = basisOf();
      let count = 0;
      for (const { symbol } of unbuilt.all()) {
        conn.writeTransaction(() => {
          const { built } = prepareWrite(symbol, basis);
          if (!built) build(symbol, basis);
        });
        count++;
      }
      return count;
    },
  };
}

export type DerivedDays = ReturnType<typeof createDerivedDays>;

/**
 * adjustment_factors and corporate_actions: factor rows and the actions they may be computed
 * from, written append-only (a correction is a row with a later known_at) and read by the bar
 * reads that adjust (src/domain/adjusted-reads.ts holds the rules; this file the statements).
 */
import type { Bar } from "../domain/bar.ts";
import { BAR_VALUE_FIELDS } from "../domain/bar.ts";
import type { AdjustmentFactor } from "../domain/adjustment.ts";
import {
  actionsInForce,
  actionsToStore,
  changedFactorRows,
  factorRowsToInsert,
  factorsOfActions,
  midnightOf,
  newActionRows,
  newFactorRows,
  previousCloseOf,
  readAsOf,
  readInsertActionsOptions,
  storedAction,
  type ActionRow,
  type AdjustmentFactorRow,
  type StoredCorporateAction,
} from "../domain/adjustment-writes.ts";
import type { CorporateAction } from "../domain/corporate-action.ts";
import { assertSymbol } from "../domain/symbol.ts";
import { MIN_TIMESTAMP, type TimestampInput, type ZoneReading } from "../domain/time.ts";
import type { AuditRecorder } from "./audit.ts";
import { guard, type Connection } from "./connection.ts";
import { prepareSeries } from "./series.ts";

const FACTOR_COLUMNS = "date, factor, known_at AS knownAt, source";
const ACTION_COLUMNS = "date, cash, bonus, rights, rights_price AS rightsPrice, known_at AS knownAt, source";

export function createAdjustmentRepository(conn: Connection, settings: ZoneReading, audit: AuditRecorder) {
  const selectFactors = conn.prepare<AdjustmentFactor>(
    `SELECT ${FACTOR_COLUMNS} FROM adjustment_factors WHERE symbol = ? ORDER BY date, known_at`,
  );
  const insertFactor = conn.prepare(
    "INSERT INTO adjustment_factors (symbol, date, factor, known_at, source) VALUES (?, ?, ?, ?, ?)",
  );
  const selectActions = conn.prepare<ActionRow>(
    `SELECT ${ACTION_COLUMNS} FROM corporate_actions WHERE symbol = ? ORDER BY date, known_at`,
  );
  const insertAction = conn.prepare(
    "INSERT INTO corporate_actions (symbol, date, cash, bonus, rights, rights_price, known_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  );
  const minutes = prepareSeries<Bar>(conn, "market_data", BAR_VALUE_FIELDS);
  const days = prepareSeries<Bar>(conn, "market_data_daily", BAR_VALUE_FIELDS);

  function storedFactors(symbol: string): AdjustmentFactor[] {
    conn.assertOpen();
    return guard(() => selectFactors.all(symbol as never));
  }

  // The rows of the symbols read lately, for the read path: reading 4 rows costs ~10 µs, a tenth
  // of a one-day read. Valid while PRAGMA data_version (which moves when another connection
  // commits) stays and this connection writes none; never filled inside a transaction, whose
  // rows a rollback may take back.
  const dataVersion = conn.prepare<{ data_version: number }>("PRAGMA data_version");
  const cached = new Map<string, AdjustmentFactor[]>();
  let cachedVersion: number | undefined;
  const CACHED_SYMBOLS = 10_000;

  /** The symbol's rows for a read that adjusts; shared with later reads, so never handed to a caller to keep. */
  function factorsOf(symbol: string): AdjustmentFactor[] {
    if (conn.sqlite.inTransaction) return storedFactors(symbol);
    const version = guard(() => dataVersion.get())!.data_version;
    if (version !== cachedVersion) {
      cached.clear();
      cachedVersion = version;
    }
    let rows = cached.get(symbol);
    if (rows === undefined) {
      rows = storedFactors(symbol);
      if (cached.size >= CACHED_SYMBOLS) cached.clear();
      cached.set(symbol, rows);
    }
    return rows;
  }

  function writeFactors(symbol: string, rows: readonly AdjustmentFactor[]): void {
    for (const row of rows) insertFactor.run(symbol as never, row.date as never, row.factor as never, row.knownAt as never, row.source as never);
  }

  /** The raw close before `date`'s local midnight: the later of the last daily and last minute bar. */
  function previousClose(symbol: string, date: string): number | null {
    const before = midnightOf(date, settings.timezone) - 1;
    const read = { start: MIN_TIMESTAMP, end: before, limit: 1, order: "desc" as const };
    return previousCloseOf(days.read(symbol, read)[0], minutes.read(symbol, read)[0], settings.timezone);
  }

  return {
    /** Every row of the symbol ascending by (date, knownAt), the read path's one query. */
    factorsOf,

    /** Writes the new rows; an identical row is skipped, a clash refused. One audit entry. */
    insert(symbol: string, rows: readonly AdjustmentFactorRow[]): number {
      assertSymbol(symbol);
      const factors = factorRowsToInsert(rows, settings);
      return conn.writeTransaction(() => {
        cached.clear();
        const fresh = newFactorRows(storedFactors(symbol), factors);
        writeFactors(symbol, fresh);
        audit("adjustments.insert", symbol, { rows: factors.length, written: fresh.length });
        return fresh.length;
      });
    },

    list(symbol: string, options?: { asOf?: TimestampInput }): AdjustmentFactor[] {
      assertSymbol(symbol);
      const asOf = readAsOf(options, settings);
      const rows = storedFactors(symbol);
      return asOf === undefined ? rows : rows.filter((row) => row.knownAt <= asOf);
    },

    /**
     * Stores the actions and the factors computed from every action in force (the stored ones
     * and these), each with the raw close the store holds before its ex-date; returns the
     * computed factors. One transaction, one audit entry; nothing written on any error.
     */
    insertActions(symbol: string, actions: readonly CorporateAction[], options?: unknown): AdjustmentFactor[] {
      assertSymbol(symbol);
      const { knownAt, source, priceDecimals } = readInsertActionsOptions(options, settings);
      const incoming = actionsToStore(actions, knownAt, source, settings.timezone);
      return conn.writeTransaction(() => {
        const stored = guard(() => selectActions.all(symbol as never)).map(storedAction);
        const fresh = newActionRows(stored, incoming);
        const computed = factorsOfActions(actionsInForce(stored, incoming), (date) => previousClose(symbol, date), source, priceDecimals);
        cached.clear();
        const written = changedFactorRows(storedFactors(symbol), computed);
        for (const action of fresh) {
          insertAction.run(
            symbol as never, action.date as never, (action.cash ?? null) as never, (action.bonus ?? null) as never,
            (action.rights ?? null) as never, (action.rightsPrice ?? null) as never, action.knownAt as never, action.source as never,
          );
        }
        writeFactors(symbol, written);
        audit("adjustments.insertActions", symbol, { actions: incoming.length, factors: computed.length, written: written.length });
        return computed;
      });
    },

    listActions(symbol: string): StoredCorporateAction[] {
      assertSymbol(symbol);
      conn.assertOpen();
      return guard(() => selectActions.all(symbol as never)).map(storedAction);
    },
  };
}

export type AdjustmentRepository = ReturnType<typeof createAdjustmentRepository>;

/**
 * adjustment_factors and corporate_actions on PostgreSQL, with the rules of src/sqlite/adjustments.ts
 * (both take them from src/domain/adjusted-reads.ts). Each write reads what is stored after
 * taking the audit chain's lock, which every audited write takes first, so two writers of one
 * symbol decide in turn and never both write the same row.
 */
import type { SQL } from "bun";
import type { Bar } from "../domain/bar.ts";
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
import type { TimestampInput, ZoneReading } from "../domain/time.ts";
import { lockAuditChain, type AuditRecorder } from "./audit.ts";
import { READ_COMMITTED, type PostgresPool } from "./connection.ts";

async function selectFactors(sql: SQL, symbol: string): Promise<AdjustmentFactor[]> {
  return [...((await sql`SELECT date, factor, known_at::float8 AS "knownAt", source FROM adjustment_factors
                          WHERE symbol = ${symbol} ORDER BY date COLLATE "C", known_at`) as AdjustmentFactor[])];
}

async function selectActions(sql: SQL, symbol: string): Promise<StoredCorporateAction[]> {
  const rows = (await sql`SELECT date, cash, bonus, rights, rights_price AS "rightsPrice", known_at::float8 AS "knownAt", source
                          FROM corporate_actions WHERE symbol = ${symbol} ORDER BY date COLLATE "C", known_at`) as ActionRow[];
  return rows.map(storedAction);
}

async function writeFactors(tx: SQL, symbol: string, rows: readonly AdjustmentFactor[]): Promise<void> {
  if (rows.length === 0) return;
  await tx`INSERT INTO adjustment_factors (symbol, date, factor, known_at, source)
           SELECT ${symbol}, t.date, t.factor, t.known_at, t.source
           FROM unnest(${rows.map((row) => row.date)}::text[], ${rows.map((row) => row.factor)}::float8[],
                       ${rows.map((row) => row.knownAt)}::bigint[], ${rows.map((row) => row.source)}::text[])
                AS t(date, factor, known_at, source)`;
}

export function createAdjustmentRepository(pool: PostgresPool, settings: ZoneReading, audit: AuditRecorder) {
  /** The raw close before `date`'s local midnight: the later of the last daily and last minute bar. */
  async function previousClose(tx: SQL, symbol: string, date: string): Promise<number | null> {
    const before = midnightOf(date, settings.timezone) - 1;
    const [daily] = (await tx`SELECT timestamp::float8 AS timestamp, close FROM market_data_daily
                              WHERE symbol = ${symbol} AND timestamp <= ${before}::bigint
                              ORDER BY market_data_daily.timestamp DESC LIMIT 1`) as Bar[];
    const [minute] = (await tx`SELECT timestamp::float8 AS timestamp, close FROM market_data
                               WHERE symbol = ${symbol} AND timestamp <= ${before}::bigint
                               ORDER BY market_data.timestamp DESC LIMIT 1`) as Bar[];
    return previousCloseOf(daily, minute, settings.timezone);
  }

  return {
    /** Every row of the symbol ascending by (date, knownAt), the read path's one query. */
    factorsOf(symbol: string): Promise<AdjustmentFactor[]> {
      return pool.run((sql) => selectFactors(sql, symbol));
    },

    /** Writes the new rows; an identical row is skipped, a clash refused. One audit entry. */
    async insert(symbol: string, rows: readonly AdjustmentFactorRow[]): Promise<number> {
      assertSymbol(symbol);
      const factors = factorRowsToInsert(rows, settings);
      const actor = audit.actor();
      return pool.run((sql) =>
        sql.begin(READ_COMMITTED, async (tx) => {
          await lockAuditChain(tx);
          const fresh = newFactorRows(await selectFactors(tx, symbol), factors);
          await writeFactors(tx, symbol, fresh);
          await audit(tx, actor, "adjustments.insert", symbol, { rows: factors.length, written: fresh.length });
          return fresh.length;
        }),
      );
    },

    async list(symbol: string, options?: { asOf?: TimestampInput }): Promise<AdjustmentFactor[]> {
      assertSymbol(symbol);
      const asOf = readAsOf(options, settings);
      const rows = await pool.run((sql) => selectFactors(sql, symbol));
      return asOf === undefined ? rows : rows.filter((row) => row.knownAt <= asOf);
    },

    /** As on SQLite: the actions and the factors of every action in force, in one transaction. */
    async insertActions(symbol: string, actions: readonly CorporateAction[], options?: unknown): Promise<AdjustmentFactor[]> {
      assertSymbol(symbol);
      const { knownAt, source, priceDecimals } = readInsertActionsOptions(options, settings);
      const incoming = actionsToStore(actions, knownAt, source, settings.timezone);
      const actor = audit.actor();
      return pool.run((sql) =>
        sql.begin(READ_COMMITTED, async (tx) => {
          await lockAuditChain(tx);
          const stored = await selectActions(tx, symbol);
          const fresh = newActionRows(stored, incoming);
          const inForce = actionsInForce(stored, incoming);
          const closes = new Map<string, number | null>();
          for (const action of inForce) closes.set(action.date, await previousClose(tx, symbol, action.date));
          const computed = factorsOfActions(inForce, (date) => closes.get(date) ?? null, source, priceDecimals);
          const written = changedFactorRows(await selectFactors(tx, symbol), computed);
          for (const action of fresh) {
            await tx`INSERT INTO corporate_actions (symbol, date, cash, bonus, rights, rights_price, known_at, source)
                     VALUES (${symbol}, ${action.date}, ${action.cash ?? null}, ${action.bonus ?? null}, ${action.rights ?? null},
                             ${action.rightsPrice ?? null}, ${action.knownAt}, ${action.source})`;
          }
          await writeFactors(tx, symbol, written);
          await audit(tx, actor, "adjustments.insertActions", symbol, { actions: incoming.length, factors: computed.length, written: written.length });
          return computed;
        }),
      );
    },

    listActions(symbol: string): Promise<StoredCorporateAction[]> {
      assertSymbol(symbol);
      return pool.run((sql) => selectActions(sql, symbol));
    },
  };
}

export type AdjustmentRepository = ReturnType<typeof createAdjustmentRepository>;

/**
 * instruments and instrument_status on PostgreSQL, with the rules, audit actions and details of
 * src/sqlite/instruments.ts. Rows are written as one unnest of array parameters: one statement
 * text whatever the batch.
 */
import { unknownCalendarError } from "../domain/calendar.ts";
import { NotFoundError } from "../domain/errors.ts";
import {
  filterInstruments,
  INSTRUMENT_AUDIT,
  instrumentAuditDetails,
  readInstrumentQuery,
  storedSymbol,
  validateInstruments,
  validateStatusRows,
  type Instrument,
  type InstrumentInput,
  type InstrumentQuery,
  type InstrumentStatusRow,
} from "../domain/instrument.ts";
import type { SQL } from "bun";
import { lockAuditChain, type AuditRecorder } from "./audit.ts";
import { READ_COMMITTED, type PostgresPool } from "./connection.ts";

/** The tables; run by the migration that introduces instruments. Dates are `date`, read back with to_char. */
export const INSTRUMENT_TABLES = `
CREATE TABLE instruments (
    symbol text PRIMARY KEY,
    exchange text NOT NULL,
    calendar text REFERENCES calendars (name),
    name text,
    board text,
    lot_size integer,
    lot_step integer,
    tick_size double precision,
    price_limit_pct double precision,
    listed_date date,
    delisted_date date,
    updated_at bigint NOT NULL
);
CREATE INDEX instruments_exchange_board ON instruments (exchange, board);
CREATE TABLE instrument_status (
    symbol text NOT NULL REFERENCES instruments (symbol) ON DELETE CASCADE,
    date date NOT NULL,
    status text NOT NULL,
    PRIMARY KEY (symbol, date)
);
`;

async function selectInstruments(sql: SQL, symbol: string | null): Promise<Instrument[]> {
  return (await sql`
    SELECT symbol, exchange, calendar, name, board, lot_size AS "lotSize", lot_step AS "lotStep", tick_size AS "tickSize",
           price_limit_pct AS "priceLimitPct", to_char(listed_date, 'YYYY-MM-DD') AS "listedDate", to_char(delisted_date, 'YYYY-MM-DD') AS "delistedDate"
    FROM instruments WHERE ${symbol}::text IS NULL OR symbol = ${symbol} ORDER BY symbol COLLATE "C"`) as Instrument[];
}

async function selectStatus(sql: SQL, symbol: string | null): Promise<({ symbol: string } & InstrumentStatusRow)[]> {
  return (await sql`
    SELECT symbol, to_char(date, 'YYYY-MM-DD') AS date, status FROM instrument_status
    WHERE ${symbol}::text IS NULL OR symbol = ${symbol} ORDER BY symbol COLLATE "C", date`) as ({ symbol: string } & InstrumentStatusRow)[];
}

export function createInstrumentRepository(pool: PostgresPool, audit: AuditRecorder, normalize: () => boolean) {
  const keyOf = (symbol: string) => storedSymbol(symbol, normalize());

  async function required(sql: SQL, symbol: string): Promise<string> {
    const key = keyOf(symbol);
    if ((await selectInstruments(sql, key)).length === 0) throw new NotFoundError(`no instrument ${JSON.stringify(key)} (tradelite instruments import FILE stores them)`);
    return key;
  }

  return {
    async put(rows: readonly InstrumentInput[]): Promise<Instrument[]> {
      const instruments = validateInstruments(rows, normalize());
      const actor = audit.actor();
      const column = <K extends keyof Instrument>(key: K) => instruments.map((each) => each[key]);
      await pool.run((sql) =>
        sql.begin(READ_COMMITTED, async (tx) => {
          await lockAuditChain(tx);
          const names = ((await tx`SELECT name FROM calendars ORDER BY name COLLATE "C"`) as { name: string }[]).map((row) => row.name);
          const unknown = instruments.find((each) => each.calendar !== null && !names.includes(each.calendar));
          if (unknown) throw unknownCalendarError(unknown.calendar!, names);
          await tx`
            INSERT INTO instruments (symbol, exchange, calendar, name, board, lot_size, lot_step, tick_size, price_limit_pct, listed_date, delisted_date, updated_at)
            SELECT r.*, ${Date.now()}::bigint FROM unnest(${column("symbol")}::text[], ${column("exchange")}::text[], ${column("calendar")}::text[], ${column("name")}::text[],
              ${column("board")}::text[], ${column("lotSize")}::integer[], ${column("lotStep")}::integer[], ${column("tickSize")}::float8[],
              ${column("priceLimitPct")}::float8[], ${column("listedDate")}::date[], ${column("delistedDate")}::date[]) AS r
            ON CONFLICT (symbol) DO UPDATE SET exchange = excluded.exchange, calendar = excluded.calendar, name = excluded.name, board = excluded.board,
              lot_size = excluded.lot_size, lot_step = excluded.lot_step, tick_size = excluded.tick_size, price_limit_pct = excluded.price_limit_pct,
              listed_date = excluded.listed_date, delisted_date = excluded.delisted_date, updated_at = excluded.updated_at`;
          await audit(tx, actor, INSTRUMENT_AUDIT.put, null, instrumentAuditDetails(instruments));
        }),
      );
      return instruments;
    },
    async get(symbol: string): Promise<Instrument | null> {
      const key = keyOf(symbol);
      return (await pool.run((sql) => selectInstruments(sql, key)))[0] ?? null;
    },
    async has(symbol: string): Promise<boolean> {
      const key = keyOf(symbol);
      return (await pool.run((sql) => selectInstruments(sql, key))).length > 0;
    },
    async list(query?: InstrumentQuery): Promise<Instrument[]> {
      const checked = readInstrumentQuery(query);
      return pool.run(async (sql) => filterInstruments(await selectInstruments(sql, null), checked.status === undefined ? [] : await selectStatus(sql, null), checked));
    },
    async setStatus(symbol: string, rows: readonly InstrumentStatusRow[]): Promise<InstrumentStatusRow[]> {
      const checked = validateStatusRows(rows);
      const actor = audit.actor();
      return pool.run((sql) =>
        sql.begin(READ_COMMITTED, async (tx) => {
          await lockAuditChain(tx);
          const key = await required(tx, symbol);
          await tx`
            INSERT INTO instrument_status (symbol, date, status)
            SELECT ${key}, r.date, r.status FROM unnest(${checked.map((row) => row.date)}::date[], ${checked.map((row) => row.status)}::text[]) AS r(date, status)
            ON CONFLICT (symbol, date) DO UPDATE SET status = excluded.status`;
          await audit(tx, actor, INSTRUMENT_AUDIT.status, key, { rows: checked } as never);
          return (await selectStatus(tx, key)).map(({ date, status }) => ({ date, status }));
        }),
      );
    },
    async statusHistory(symbol: string): Promise<InstrumentStatusRow[]> {
      return pool.run(async (sql) => (await selectStatus(sql, await required(sql, symbol))).map(({ date, status }) => ({ date, status })));
    },
  };
}

export type InstrumentRepository = ReturnType<typeof createInstrumentRepository>;

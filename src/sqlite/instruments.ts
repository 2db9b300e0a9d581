/**
 * instruments and instrument_status: what each symbol is, and its status history. The rules
 * (validation, board defaults, the list filter) are src/domain/instrument.ts; this file reads and
 * writes the rows. put() is one transaction and one audit entry, whatever its size.
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
import type { AuditRecorder } from "./audit.ts";
import { guard, type Connection } from "./connection.ts";

/** The tables; run by the migration that introduces instruments. */
export const INSTRUMENT_TABLES = `
CREATE TABLE instruments (
    symbol TEXT PRIMARY KEY,
    exchange TEXT NOT NULL,
    calendar TEXT REFERENCES calendars (name),
    name TEXT,
    board TEXT,
    lot_size INTEGER,
    lot_step INTEGER,
    tick_size REAL,
    price_limit_pct REAL,
    listed_date TEXT,
    delisted_date TEXT,
    updated_at INTEGER NOT NULL
);
CREATE INDEX instruments_exchange_board ON instruments (exchange, board);
CREATE TABLE instrument_status (
    symbol TEXT NOT NULL REFERENCES instruments (symbol) ON DELETE CASCADE,
    date TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (symbol, date)
) WITHOUT ROWID;
`;

const COLUMNS =
  "symbol, exchange, calendar, name, board, lot_size AS lotSize, lot_step AS lotStep, tick_size AS tickSize, " +
  "price_limit_pct AS priceLimitPct, listed_date AS listedDate, delisted_date AS delistedDate";

export function createInstrumentRepository(conn: Connection, audit: AuditRecorder, normalize: () => boolean) {
  const upsert = conn.prepare(
    "INSERT INTO instruments (symbol, exchange, calendar, name, board, lot_size, lot_step, tick_size, price_limit_pct, listed_date, delisted_date, updated_at) " +
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (symbol) DO UPDATE SET exchange = excluded.exchange, calendar = excluded.calendar, " +
      "name = excluded.name, board = excluded.board, lot_size = excluded.lot_size, lot_step = excluded.lot_step, tick_size = excluded.tick_size, " +
      "price_limit_pct = excluded.price_limit_pct, listed_date = excluded.listed_date, delisted_date = excluded.delisted_date, updated_at = excluded.updated_at",
  );
  const selectOne = conn.prepare<Instrument>(`SELECT ${COLUMNS} FROM instruments WHERE symbol = ?`);
  const selectAll = conn.prepare<Instrument>(`SELECT ${COLUMNS} FROM instruments ORDER BY symbol`);
  const selectAllStatus = conn.prepare<{ symbol: string } & InstrumentStatusRow>("SELECT symbol, date, status FROM instrument_status ORDER BY symbol, date");
  const selectStatus = conn.prepare<InstrumentStatusRow>("SELECT date, status FROM instrument_status WHERE symbol = ? ORDER BY date");
  const upsertStatus = conn.prepare("INSERT INTO instrument_status (symbol, date, status) VALUES (?, ?, ?) ON CONFLICT (symbol, date) DO UPDATE SET status = excluded.status");
  const selectCalendars = conn.prepare<{ name: string }>("SELECT name FROM calendars ORDER BY name");

  const keyOf = (symbol: string) => storedSymbol(symbol, normalize());

  function required(symbol: string): string {
    const key = keyOf(symbol);
    if (!guard(() => selectOne.get(key as never))) throw new NotFoundError(`no instrument ${JSON.stringify(key)} (tradelite instruments import FILE stores them)`);
    return key;
  }

  return {
    /** Upserts the rows as validateInstruments fills them in; all or nothing, one audit entry. */
    put(rows: readonly InstrumentInput[]): Instrument[] {
      const instruments = validateInstruments(rows, normalize());
      const names = guard(() => selectCalendars.all()).map((row) => row.name);
      const unknown = instruments.find((each) => each.calendar !== null && !names.includes(each.calendar));
      if (unknown) throw unknownCalendarError(unknown.calendar!, names);
      conn.writeTransaction(() => {
        const now = Date.now();
        for (const each of instruments) {
          guard(() =>
            upsert.run(
              ...([each.symbol, each.exchange, each.calendar, each.name, each.board, each.lotSize, each.lotStep, each.tickSize, each.priceLimitPct, each.listedDate, each.delistedDate, now] as never[]),
            ),
          );
        }
        audit(INSTRUMENT_AUDIT.put, null, instrumentAuditDetails(instruments));
      });
      return instruments;
    },
    get(symbol: string): Instrument | null {
      return guard(() => selectOne.get(keyOf(symbol) as never)) ?? null;
    },
    has(symbol: string): boolean {
      return guard(() => selectOne.get(keyOf(symbol) as never)) !== null;
    },
    list(query?: InstrumentQuery): Instrument[] {
      const checked = readInstrumentQuery(query);
      const statuses = checked.status === undefined ? [] : guard(() => selectAllStatus.all());
      return filterInstruments(guard(() => selectAll.all()), statuses, checked);
    },
    /** Upserts status rows (on date) of a stored instrument; returns its whole history. */
    setStatus(symbol: string, rows: readonly InstrumentStatusRow[]): InstrumentStatusRow[] {
      const checked = validateStatusRows(rows);
      return conn.writeTransaction(() => {
        const key = required(symbol);
        for (const row of checked) guard(() => upsertStatus.run(key as never, row.date as never, row.status as never));
        audit(INSTRUMENT_AUDIT.status, key, { rows: checked } as never);
        return guard(() => selectStatus.all(key as never));
      });
    },
    statusHistory(symbol: string): InstrumentStatusRow[] {
      return guard(() => selectStatus.all(required(symbol) as never));
    },
  };
}

export type InstrumentRepository = ReturnType<typeof createInstrumentRepository>;

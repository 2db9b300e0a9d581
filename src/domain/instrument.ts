/**
 * Instruments: what a symbol is (exchange, board, lot, tick, daily price limit, listing) and its
 * status history (normal, ST, *ST, suspended, delisted, each from an effective date). The rules
 * are here, once; each backend only reads and writes the rows.
 *
 * Boards and the defaults a row gets when it leaves a field out (the exchanges' trading rules as
 * of 2024; a row that says otherwise is stored as it says):
 *   board     lot  step  tick   limit %   what
 *   main      100  100   0.01   10        SSE and SZSE main boards (600, 601, 603, 605, 000-003)
 *   chinext   100  100   0.01   20        SZSE ChiNext (300, 301)
 *   star      200  1     0.01   20        SSE STAR Market (688, 689): 200 shares, then steps of 1
 *   bse       100  1     0.01   30        Beijing Stock Exchange (43, 83, 87, 88, 920)
 *   fund      100  100   0.001  10        exchange-traded funds (ETFs, LOFs: 15, 16, 18, 5x)
 *   index     -    -     -      -         indices (no orders, no limit)
 * `lot` is the smallest order (lotSize), `step` what it grows by (lotStep). A main-board stock
 * under ST or *ST is limited to 5% (priceLimitOn); ChiNext, STAR and BSE keep their limits.
 * Board, when left out, comes from the code prefix of an A-share symbol (boardOfSymbol); the
 * calendar from the exchange (SH and BJ: XSHG, the BSE trades the SSE's days and hours; SZ: XSHE).
 *
 * The calendar precedence, what calendars.of(symbol) answers: the symbol's own assignment
 * (`calendar assign`, a deliberate one-symbol choice), else its instrument's calendar (usually
 * derived from the exchange by a bulk import), else the database's default calendar.
 */
import { forEachRecord, readTradingDate } from "./adjustment.ts";
import { CALENDAR_NAME } from "./calendar.ts";
import { ValidationError, type Issue } from "./errors.ts";
import { normalizeSymbol } from "./instrument-symbol.ts";
import { symbolProblem } from "./symbol.ts";

export const BOARDS = ["main", "chinext", "star", "bse", "fund", "index"] as const;
export type Board = (typeof BOARDS)[number];

export const INSTRUMENT_STATUSES = ["normal", "ST", "*ST", "suspended", "delisted"] as const;
export type InstrumentStatus = (typeof INSTRUMENT_STATUSES)[number];

/** One row of the instruments table. Dates are YYYY-MM-DD; a field not known is null. */
export interface Instrument {
  symbol: string;
  /** `SH`, `SZ`, `BJ`, or another market's code (letters and digits). */
  exchange: string;
  /** The calendar the symbol's sessions follow (calendars.of reads it), or null. */
  calendar: string | null;
  name: string | null;
  board: Board | null;
  /** The smallest order, in shares. */
  lotSize: number | null;
  /** What an order grows by above lotSize, in shares. */
  lotStep: number | null;
  tickSize: number | null;
  /** The daily price limit, percent of the previous close, for a symbol in normal status. */
  priceLimitPct: number | null;
  listedDate: string | null;
  delistedDate: string | null;
}

/** An instrument as put() takes it: the symbol, and whatever else is known (exchange too, for an A-share code). */
export type InstrumentInput = Pick<Instrument, "symbol"> & Partial<Omit<Instrument, "symbol">>;

/** One row of a symbol's status history: the status in force from `date` on. */
export interface InstrumentStatusRow {
  date: string;
  status: InstrumentStatus;
}

/** What list() filters on; every filter left out matches everything. */
export interface InstrumentQuery {
  exchange?: string;
  board?: Board;
  /** The status in force at `asOf` (a symbol with no row by then is `normal`). */
  status?: InstrumentStatus;
  /** YYYY-MM-DD; today (UTC) when left out. Only `status` reads it. */
  asOf?: string;
}

export const INSTRUMENT_FIELDS = ["symbol", "exchange", "calendar", "name", "board", "lotSize", "lotStep", "tickSize", "priceLimitPct", "listedDate", "delistedDate"] as const;

/** The audit actions. put: one entry per call; status: one per setStatus call. */
export const INSTRUMENT_AUDIT = { put: "instruments.put", status: "instruments.status" } as const;

type BoardRule = Pick<Instrument, "lotSize" | "lotStep" | "tickSize" | "priceLimitPct">;

export const BOARD_DEFAULTS: Readonly<Record<Board, BoardRule>> = {
  main: { lotSize: 100, lotStep: 100, tickSize: 0.01, priceLimitPct: 10 },
  chinext: { lotSize: 100, lotStep: 100, tickSize: 0.01, priceLimitPct: 20 },
  star: { lotSize: 200, lotStep: 1, tickSize: 0.01, priceLimitPct: 20 },
  bse: { lotSize: 100, lotStep: 1, tickSize: 0.01, priceLimitPct: 30 },
  fund: { lotSize: 100, lotStep: 100, tickSize: 0.001, priceLimitPct: 10 },
  index: { lotSize: null, lotStep: null, tickSize: null, priceLimitPct: null },
};

/** A main-board stock's limit under ST or *ST, percent. */
export const ST_PRICE_LIMIT_PCT = 5;

const CALENDAR_OF_EXCHANGE: Readonly<Record<string, string>> = { SH: "XSHG", SZ: "XSHE", BJ: "XSHG" };
const EXCHANGE = /^[A-Z][A-Z0-9]{0,15}$/;

/**
 * The board of a normalized A-share symbol from its code, or null when the code says nothing
 * (B shares, bonds): the table in src/domain/instrument-symbol.ts, read by board.
 */
export function boardOfSymbol(symbol: string): Board | null {
  const m = /^(\d{6})\.(SH|SZ|BJ)$/.exec(symbol);
  if (!m) return null;
  const [code, exchange] = [m[1]!, m[2]!];
  if (exchange === "BJ") return "bse";
  const three = code.slice(0, 3);
  if (exchange === "SH") {
    if (["600", "601", "603", "605"].includes(three)) return "main";
    if (three === "688" || three === "689") return "star";
    if (three === "000") return "index";
    if (/^5[01268]/.test(code)) return "fund";
    return null;
  }
  if (["000", "001", "002", "003"].includes(three)) return "main";
  if (three === "300" || three === "301") return "chinext";
  if (three === "399") return "index";
  if (/^1[568]/.test(code)) return "fund";
  return null;
}

/** The daily limit in force under `status`: 5% for a main-board ST or *ST stock, else the instrument's. */
export function priceLimitOn(instrument: Pick<Instrument, "board" | "priceLimitPct">, status: InstrumentStatus): number | null {
  if ((status === "ST" || status === "*ST") && instrument.board === "main") return ST_PRICE_LIMIT_PCT;
  return instrument.priceLimitPct;
}

function isPositive(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value > 0;
}

function optionalText(record: Record<string, unknown>, field: string, row: number, issues: Issue[], check?: (text: string) => string | undefined): string | null | undefined {
  const value = record[field];
  if (value === undefined || value === null) return value;
  if (typeof value !== "string" || value.length === 0) {
    issues.push({ row, field, message: `expected a non-empty string or null, got ${JSON.stringify(value)}` });
    return undefined;
  }
  const problem = check?.(value);
  if (problem !== undefined) issues.push({ row, field, message: problem });
  return value;
}

function optionalDate(record: Record<string, unknown>, field: string, row: number, issues: Issue[]): string | null {
  const value = record[field];
  return value === undefined || value === null ? null : readTradingDate(value, row, field, issues) || null;
}

function optionalPositive(record: Record<string, unknown>, field: string, row: number, issues: Issue[], integer: boolean): number | null | undefined {
  const value = record[field];
  if (value === undefined || value === null) return value;
  if (!isPositive(value) || (integer && !Number.isInteger(value))) {
    issues.push({ row, field, message: `expected a ${integer ? "positive whole number" : "positive finite number"} or null, got ${JSON.stringify(value)}` });
  }
  return value as number;
}

/**
 * A symbol as the store keys it: normalized when the database normalizes symbols, else checked
 * by the symbol rule and kept as given. One function, so every method reads a symbol alike.
 */
export function storedSymbol(symbol: string, normalize: boolean, row?: number, field = "symbol"): string {
  if (normalize) return normalizeSymbol(symbol, { row, field });
  const problem = symbolProblem(symbol);
  if (problem !== undefined) throw new ValidationError([{ ...(row === undefined ? {} : { row }), field, message: problem }]);
  return symbol;
}

/**
 * Validates put()'s rows and fills in what the board and exchange imply, or throws a
 * ValidationError naming every bad row and field (nothing is written). An A-share symbol
 * (`600519.SH`) gives its exchange and board when those are left out; another market's symbol
 * needs its exchange. The same symbol twice in one call is refused (which row holds is undecidable).
 */
export function validateInstruments(rows: readonly InstrumentInput[] | unknown, normalize: boolean): Instrument[] {
  const issues: Issue[] = [];
  const out: Instrument[] = [];
  const seen = new Map<string, number>();
  forEachRecord(rows, "an instrument object with symbol, exchange, board ...", INSTRUMENT_FIELDS, issues, (record, row) => {
    let symbol: string;
    try {
      symbol = storedSymbol(record.symbol as string, normalize, row);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      issues.push(...error.issues);
      return;
    }
    const earlier = seen.get(symbol);
    if (earlier !== undefined) issues.push({ row, field: "symbol", message: `${symbol} is also row ${earlier}; one row per symbol` });
    seen.set(symbol, row);
    const aShare = /^\d{6}\.(SH|SZ|BJ)$/.test(symbol) ? symbol.slice(7) : undefined;
    // A code on an exchange that does not list it (600036.SZ) is refused even as given.
    if (aShare !== undefined && !normalize) {
      try {
        normalizeSymbol(symbol, { row });
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        issues.push(...error.issues);
      }
    }
    const exchange = optionalText(record, "exchange", row, issues, (text) => (EXCHANGE.test(text) ? undefined : `expected an exchange code (upper-case letters and digits, e.g. SH, SZ, BJ), got ${JSON.stringify(text)}`)) ?? aShare;
    if (exchange === undefined) issues.push({ row, field: "exchange", message: `required for ${symbol}, which is not an A-share code (600519.SH)` });
    else if (aShare !== undefined && exchange !== aShare) issues.push({ row, field: "exchange", message: `${symbol} is on ${aShare}, the row says ${exchange}` });
    let board: Board | null = null;
    if (record.board !== undefined && record.board !== null) {
      if ((BOARDS as readonly unknown[]).includes(record.board)) board = record.board as Board;
      else issues.push({ row, field: "board", message: `expected one of ${BOARDS.join(", ")}, got ${JSON.stringify(record.board)}` });
    } else if (record.board === undefined) board = boardOfSymbol(symbol);
    const calendar = optionalText(record, "calendar", row, issues, (text) => (CALENDAR_NAME.test(text) ? undefined : `expected a calendar name, got ${JSON.stringify(text)}`));
    const rule: Partial<BoardRule> = board ? BOARD_DEFAULTS[board] : {};
    const pick = (field: keyof BoardRule, integer: boolean) => {
      const given = optionalPositive(record, field, row, issues, integer);
      return given === undefined ? (rule[field] ?? null) : given;
    };
    const priceLimitPct = pick("priceLimitPct", false);
    if (priceLimitPct !== null && priceLimitPct > 100) issues.push({ row, field: "priceLimitPct", message: `expected a percent of at most 100, got ${priceLimitPct}` });
    const instrument: Instrument = {
      symbol,
      exchange: exchange ?? "",
      calendar: calendar === undefined ? (CALENDAR_OF_EXCHANGE[exchange ?? ""] ?? null) : calendar,
      name: optionalText(record, "name", row, issues) ?? null,
      board,
      lotSize: pick("lotSize", true),
      lotStep: pick("lotStep", true),
      tickSize: pick("tickSize", false),
      priceLimitPct,
      listedDate: optionalDate(record, "listedDate", row, issues),
      delistedDate: optionalDate(record, "delistedDate", row, issues),
    };
    if (instrument.listedDate && instrument.delistedDate && instrument.delistedDate < instrument.listedDate) {
      issues.push({ row, field: "delistedDate", message: `${instrument.delistedDate} is before the listing date ${instrument.listedDate}` });
    }
    out.push(instrument);
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return out;
}

/** Validates setStatus()'s rows: a real date and a known status each, one row per date. */
export function validateStatusRows(rows: readonly InstrumentStatusRow[] | unknown): InstrumentStatusRow[] {
  const issues: Issue[] = [];
  const out: InstrumentStatusRow[] = [];
  const seen = new Set<string>();
  forEachRecord(rows, "a status object with date and status", ["date", "status"], issues, (record, row) => {
    const date = readTradingDate(record.date, row, "date", issues);
    if (!(INSTRUMENT_STATUSES as readonly unknown[]).includes(record.status)) {
      issues.push({ row, field: "status", message: `expected one of ${INSTRUMENT_STATUSES.join(", ")}, got ${JSON.stringify(record.status)}` });
    }
    if (date && seen.has(date)) issues.push({ row, field: "date", message: `${date} appears twice; one status per date` });
    seen.add(date);
    out.push({ date, status: record.status as InstrumentStatus });
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return out;
}

/** The list() query checked, or a ValidationError naming the bad field. */
export function readInstrumentQuery(query: unknown): Required<Pick<InstrumentQuery, "asOf">> & InstrumentQuery {
  const issues: Issue[] = [];
  const given = (query ?? {}) as Record<string, unknown>;
  if (typeof given !== "object" || Array.isArray(given)) throw new ValidationError([{ message: "expected an object with exchange, board, status, asOf" }]);
  for (const key of Object.keys(given)) {
    if (!["exchange", "board", "status", "asOf"].includes(key)) issues.push({ field: key, message: "unknown filter; expected exchange, board, status, asOf" });
  }
  if (given.exchange !== undefined && !(typeof given.exchange === "string" && EXCHANGE.test(given.exchange))) issues.push({ field: "exchange", message: `expected an exchange code (SH, SZ, BJ ...), got ${JSON.stringify(given.exchange)}` });
  if (given.board !== undefined && !(BOARDS as readonly unknown[]).includes(given.board)) issues.push({ field: "board", message: `expected one of ${BOARDS.join(", ")}, got ${JSON.stringify(given.board)}` });
  if (given.status !== undefined && !(INSTRUMENT_STATUSES as readonly unknown[]).includes(given.status)) issues.push({ field: "status", message: `expected one of ${INSTRUMENT_STATUSES.join(", ")}, got ${JSON.stringify(given.status)}` });
  const asOf = given.asOf === undefined ? new Date().toISOString().slice(0, 10) : readTradingDate(given.asOf, 0, "asOf", issues);
  if (issues.length > 0) throw new ValidationError(issues.map(({ row: _row, ...issue }) => issue));
  return { ...(given as InstrumentQuery), asOf };
}

/** The status in force on `date` from a history sorted by date: the last row at or before it, else normal. */
export function statusOn(history: readonly InstrumentStatusRow[], date: string): InstrumentStatus {
  let status: InstrumentStatus = "normal";
  for (const row of history) {
    if (row.date > date) break;
    status = row.status;
  }
  return status;
}

/**
 * list()'s filter over the stored rows (instruments sorted by symbol, statuses by symbol and
 * date), the same on every backend.
 */
export function filterInstruments(instruments: readonly Instrument[], statuses: readonly ({ symbol: string } & InstrumentStatusRow)[], query: ReturnType<typeof readInstrumentQuery>): Instrument[] {
  const matches = instruments.filter((each) => (query.exchange === undefined || each.exchange === query.exchange) && (query.board === undefined || each.board === query.board));
  if (query.status === undefined) return matches;
  const history = new Map<string, InstrumentStatusRow[]>();
  for (const row of statuses) {
    const rows = history.get(row.symbol) ?? [];
    rows.push(row);
    history.set(row.symbol, rows);
  }
  return matches.filter((each) => statusOn(history.get(each.symbol) ?? [], query.asOf) === query.status);
}

/** What put()'s audit entry records: how many rows, and the first and last symbol. */
export function instrumentAuditDetails(rows: readonly Instrument[]) {
  return { rows: rows.length, first: rows[0]?.symbol ?? null, last: rows.at(-1)?.symbol ?? null };
}

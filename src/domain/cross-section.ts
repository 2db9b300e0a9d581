/**
 * The as-of cross-section: for each symbol, its latest stored bar at or before one instant (what
 * factor research and universe ranking start from; QuestDB's LATEST ON, Tushare's query by
 * trade_date). The query, read once here so every backend interprets it the same way, and the
 * answer's shape. Each backend answers it with one statement of index seeks (src/sqlite/
 * cross-section.ts, src/postgres/cross-section.ts).
 */
import type { Bar } from "./bar.ts";
import type { AdjustMode } from "./adjusted-bars.ts";
import { barAdjuster, readAdjustment, type ReadAdjustment } from "./adjusted-reads.ts";
import type { AdjustmentFactor } from "./adjustment.ts";
import { ValidationError, type Issue } from "./errors.ts";
import { checkOptions, type BarQuery } from "./query.ts";
import { symbolProblem } from "./symbol.ts";
import { localMidnight } from "./daily.ts";
import { TimestampError, toRangeBound, zoneOf, type TimeReading, type TimestampInput } from "./time.ts";

/**
 * The most symbols one cross-section names: the whole A-share market is ~5,400 stocks, and with
 * funds, bonds and indexes a universe stays under this; past it, omit `symbols` (every symbol).
 */
export const MAX_CROSS_SECTION_SYMBOLS = 20_000;

/** The series a cross-section reads: `1m` the bars as written (market_data), `1d` the stored daily series. */
export const CROSS_SECTION_INTERVALS = ["1m", "1d"] as const;
export type CrossSectionInterval = (typeof CROSS_SECTION_INTERVALS)[number];

export interface CrossSectionQuery {
  /**
   * The instant: epoch ms, a Date, ISO-8601, or a naive time in the store's zone. A date alone
   * (`2024-07-11`, `20240711`) is the end of that day in the store's zone, as a range's `end`
   * is: "the snapshot on 2024-07-11" holds that day's closing bars.
   */
  at: TimestampInput;
  /** Every symbol stored when omitted; otherwise 1 to 20,000 distinct symbols. */
  symbols?: readonly string[];
  /**
   * `1m` (default): the bars as written (market_data). `1d`: the stored daily series
   * (market_data_daily), counting only days that have ended by `at`, so an intraday `at` never
   * sees the day's own daily bar (its close was not known yet).
   */
  interval?: CrossSectionInterval;
  /**
   * Each row's bar raw (`none`, the default), forward- (`qfq`) or back-adjusted (`hfq`) by its
   * symbol's factors known at `asOf` (default now), as getBars adjusts. A symbol none of whose
   * factors is known at `asOf` is read raw: in a whole-market snapshot that is a stock whose
   * first ex-date was still ahead, where getBars, asked about one symbol, refuses the read.
   */
  adjust?: AdjustMode;
  asOf?: TimestampInput;
  /** With `adjust`: volume divided by the same ratio. */
  adjustVolume?: boolean;
  /** Cancels the read before it starts (in a worker's queue) or while it runs (PostgreSQL). */
  signal?: AbortSignal;
}

/** One symbol of a cross-section: its latest bar at or before the instant, with its own timestamp. */
export interface CrossSectionRow {
  symbol: string;
  bar: Bar;
}

export interface CrossSection {
  /** The instant read, epoch ms (a date alone resolved to its day's last millisecond). */
  at: number;
  interval: CrossSectionInterval;
  /** One row per symbol that has a bar at or before `at`, sorted by symbol (code point order). */
  rows: CrossSectionRow[];
  /**
   * The symbols asked for that have no bar at or before `at` (none stored yet, or none at all),
   * sorted: a ranking of a universe must know who is not in it. Always empty when `symbols` is
   * omitted (every symbol with a bar at or before `at` is a row).
   */
  missing: string[];
}

/** The keys a cross-section accepts; anything else is refused. */
export const CROSS_SECTION_KEYS: readonly string[] = ["at", "symbols", "interval", "adjust", "asOf", "adjustVolume", "signal"];

/** A checked cross-section query, as the backends take it. */
export interface CrossSectionRead {
  /** The instant, epoch ms. */
  at: number;
  interval: CrossSectionInterval;
  /** Undefined: every symbol stored. */
  symbols: string[] | undefined;
  /**
   * The newest stored timestamp a row may have: `at` for minutes; for days, the last ms before
   * the local midnight that starts the day of `at + 1` (the days that have ended by `at`).
   */
  through: number;
  /** Undefined: raw bars. */
  adjustment: ReadAdjustment | undefined;
}

/** Checks a cross-section query; throws a ValidationError naming every problem. */
export function readCrossSectionQuery(query: unknown, reading: TimeReading): CrossSectionRead {
  const issues: Issue[] = [];
  if (query === undefined) issues.push({ field: "at", message: "required: the instant to read the cross-section at" });
  const given = checkOptions<CrossSectionQuery>(query, CROSS_SECTION_KEYS, issues);
  let at = 0;
  if (query !== undefined && (given.at === undefined || given.at === null)) {
    issues.push({ field: "at", message: "required: the instant to read the cross-section at" });
  } else if (given.at !== undefined) {
    try {
      at = toRangeBound(given.at, "end", reading);
    } catch (error) {
      if (!(error instanceof TimestampError)) throw error;
      issues.push({ field: "at", message: error.reason });
    }
  }
  const interval = given.interval ?? "1m";
  if (!CROSS_SECTION_INTERVALS.includes(interval)) {
    issues.push({ field: "interval", message: `must be "1m" (the bars as written) or "1d" (the stored daily series), got ${JSON.stringify(interval)}` });
  }
  const symbols = given.symbols === undefined ? undefined : readSymbols(given.symbols, issues);
  let adjustment: ReadAdjustment | undefined;
  try {
    adjustment = readAdjustment({ adjust: given.adjust, asOf: given.asOf, adjustVolume: given.adjustVolume } as BarQuery, reading);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    issues.push(...error.issues);
  }
  if (issues.length > 0) throw new ValidationError(issues);
  if (adjustment === undefined && (given.asOf !== undefined || given.adjustVolume !== undefined)) {
    throw new ValidationError([{ field: given.asOf !== undefined ? "asOf" : "adjustVolume", message: 'goes with adjust "qfq" or "hfq"' }]);
  }
  const through = interval === "1d" ? lastEndedDayBound(at, zoneOf(reading)) : at;
  return { at, interval, symbols, through, adjustment };
}

/** The symbols of a query: a non-empty array of distinct symbols, at most MAX_CROSS_SECTION_SYMBOLS. */
function readSymbols(value: unknown, issues: Issue[]): string[] | undefined {
  if (!Array.isArray(value)) {
    issues.push({ field: "symbols", message: "expected an array of symbols (omit it for every symbol)" });
    return undefined;
  }
  if (value.length === 0) issues.push({ field: "symbols", message: "must name at least one symbol (omit it for every symbol)" });
  if (value.length > MAX_CROSS_SECTION_SYMBOLS) {
    issues.push({ field: "symbols", message: `at most ${MAX_CROSS_SECTION_SYMBOLS} symbols, got ${value.length}; omit symbols for every symbol` });
    return undefined;
  }
  const seen = new Set<string>();
  for (let i = 0; i < value.length; i++) {
    const symbol = value[i];
    const problem = symbolProblem(symbol);
    if (problem !== undefined) issues.push({ field: `symbols[${i}]`, message: problem });
    else if (seen.has(symbol)) issues.push({ field: `symbols[${i}]`, message: `${JSON.stringify(symbol)} is named twice` });
    else seen.add(symbol);
  }
  // A copy: the caller's array may change while a read awaits, the missing list must not.
  return [...(value as string[])];
}

/**
 * The newest daily stamp (a date's local midnight) whose day has ended by `at`: the day of
 * `at + 1` starts at or after every such stamp, so it is the last ms before that day's midnight.
 */
function lastEndedDayBound(at: number, timeZone: string): number {
  return localMidnight(at + 1, timeZone) - 1;
}

/**
 * Code point order (UTF-8 byte order): SQLite's BINARY collation and PostgreSQL's "C", which the
 * queries sort by. Not `<` on strings, which compares UTF-16 units and puts U+1F600 before U+FF21.
 */
export function compareSymbols(a: string, b: string): number {
  for (let i = 0; i < a.length && i < b.length; ) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
  }
  return a.length - b.length;
}

/**
 * Adjusts each row's bar in place by its symbol's factors (`factorsOf`: every stored row of a
 * symbol, ascending), as a read with `read.adjustment` asks; a symbol with no factor known at
 * asOf stays raw.
 */
export function adjustCrossSection(read: CrossSectionRead, rows: CrossSectionRow[], factorsOf: (symbol: string) => readonly AdjustmentFactor[], timeZone: string): void {
  const adjustment = read.adjustment;
  if (adjustment === undefined) return;
  for (const row of rows) {
    const known = factorsOf(row.symbol).filter((factor) => factor.knownAt <= adjustment.asOf);
    if (known.length > 0) barAdjuster(known, adjustment, timeZone)(row.bar);
  }
}

/** The answer of a read: its rows as the query returned them (sorted), and who of `symbols` is not there. */
export function crossSectionOf(read: CrossSectionRead, rows: CrossSectionRow[]): CrossSection {
  let missing: string[] = [];
  if (read.symbols !== undefined && rows.length < read.symbols.length) {
    const found = new Set(rows.map((row) => row.symbol));
    missing = read.symbols.filter((symbol) => !found.has(symbol)).sort(compareSymbols);
  }
  return { at: read.at, interval: read.interval, rows, missing };
}

/**
 * The query with its named symbols read by `key` (the store's normalizeSymbols rule), or the
 * query itself when there is nothing to read: a list that is not one is left to the reader's
 * own refusal.
 */
export function keyCrossSectionQuery(query: CrossSectionQuery, key: ((symbol: string) => string) | null): CrossSectionQuery {
  const symbols = (query as { symbols?: unknown } | undefined)?.symbols;
  if (key === null || !Array.isArray(symbols) || !symbols.every((symbol) => typeof symbol === "string")) return query;
  return { ...query, symbols: symbols.map(key) };
}

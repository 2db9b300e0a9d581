/**
 * TDX (通达信) binary bar files as the terminal keeps them under `vipdoc/{sh,sz,bj}/`: daily
 * `lday/*.day`, 1-minute `minline/*.lc1` and 5-minute `fzline/*.lc5`, one symbol per file named
 * `<exchange><code>.<ext>` (`sz000001.day`).
 *
 * The layouts, as pytdx documents and reads them (rainx/pytdx: pytdx/reader/daily_bar_reader.py
 * and lc_min_bar_reader.py, the readers mootdx calls) and as the real files in
 * test/fixtures/tdx/ decode: 32-byte little-endian records, no header.
 *   .day        u32 date YYYYMMDD; u32 open, high, low, close in price units (tdxPriceDivisor);
 *               f32 amount in yuan; u32 volume in shares; u32 reserved
 *   .lc1 .lc5   u16 date (year - 2004) * 2048 + month * 100 + day; u16 minutes since midnight,
 *               the bar's closing minute (09:31 is the first 1-minute bar, 15:00 the last);
 *               f32 open, high, low, close in yuan; f32 amount in yuan; u32 volume in shares;
 *               u32 reserved
 * Checked on the real files: sz000001.day's volume is Tushare's `vol` (手) times 100 and its
 * amount Tushare's (千元) times 1,000 to float32 precision; sh688001.lc1's volumes are whole
 * hundreds of shares, and each day's amount / volume lies within that day's low and high.
 *
 * A file is read twice, a chunk of records at a time, never whole: once to check every record,
 * then to write. Without skipBad the first bad record refuses the file with nothing written: a
 * binary file with one impossible record is damaged, and its other records are suspect too.
 */
import { validateBars, type BarColumns } from "../domain/bar.ts";
import { ValidationError } from "../domain/errors.ts";
import { MINUTE_MS, startOfLocalDay, TimestampError, wallTimeToUtc } from "../domain/time.ts";
import { BarFileError } from "./bar-file.ts";

export const TDX_RECORD_BYTES = 32;

export type TdxExchange = "sh" | "sz" | "bj";
export type TdxKind = "day" | "lc1" | "lc5";

/** What a TDX file's name says: `sz000001.day` is Shenzhen's 000001, daily. */
export interface TdxFileName {
  exchange: TdxExchange;
  code: string;
  kind: TdxKind;
}

const FILE_NAME = /^(sh|sz|bj)(\d{6})\.(day|lc1|lc5)$/i;

/** The exchange, code and kind of a TDX file name (no folder), or null when it is not one. */
export function tdxFileName(fileName: string): TdxFileName | null {
  const m = FILE_NAME.exec(fileName);
  if (!m) return null;
  return { exchange: m[1]!.toLowerCase() as TdxExchange, code: m[2]!, kind: m[3]!.toLowerCase() as TdxKind };
}

/**
 * The symbol a TDX file stores under: `000001.SZ` for `sz000001.day`, the form a CSV named
 * `000001.SZ.csv` gives, so one stock imported from either source is one symbol.
 */
export function tdxSymbol(name: TdxFileName): string {
  return `${name.code}.${name.exchange.toUpperCase()}`;
}

/** The bar interval a TDX file holds by its kind. */
export function tdxInterval(kind: TdxKind): "1d" | "1m" | "5m" {
  return kind === "day" ? "1d" : kind === "lc1" ? "1m" : "5m";
}

/**
 * What a `.day` file's integer prices are divided by, by exchange and the code's first two digits.
 * pytdx's table (SECURITY_COEFFICIENT in daily_bar_reader.py): hundredths of a yuan for stocks,
 * indices and Shenzhen B shares (HKD); thousandths for funds, bonds and Shanghai B shares (USD,
 * quoted to 0.001). Added here without a reader to cite: Shanghai 52-58 (the ETFs numbered since,
 * 560xxx, 588xxx, are funds like 510xxx) and Beijing stocks (43, 83, 87, 92) and indices (89) in
 * hundredths, the BSE's tick. The limit: the table goes by code range, so a security quoted
 * otherwise than its range would be read ten times off; checkPriceUnit catches that for shares
 * and funds from the file's own amounts, not for indices, bonds and B shares; a code outside the
 * table is refused, not guessed.
 */
const PRICE_DIVISORS: Record<TdxExchange, Record<string, 100 | 1000>> = {
  sh: { ...each(["60", "68", "00", "88", "99"], 100), ...each(["90", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59", "01", "10", "11", "12", "13", "14"], 1000) },
  sz: { ...each(["00", "30", "20", "39"], 100), ...each(["15", "16", "10", "11", "12", "13", "14"], 1000) },
  bj: each(["43", "83", "87", "92", "89"], 100),
};

function each<T>(prefixes: readonly string[], value: T): Record<string, T> {
  return Object.fromEntries(prefixes.map((prefix) => [prefix, value]));
}

/**
 * The code ranges whose volume is shares and amount yuan, the currency of the price: A shares
 * and funds (not B shares, indices or bonds, whose units differ). For them the file's own
 * amount checks the price unit: the price times the volume, summed, must come near the amount.
 */
const SHARES_IN_YUAN: Record<TdxExchange, readonly string[]> = {
  sh: ["60", "68", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59"],
  sz: ["00", "30", "15", "16"],
  bj: ["43", "83", "87", "92"],
};

/**
 * Refuses a `.day` file whose prices, read in the unit of its code range, disagree with its
 * amounts by more than a factor of two (a wrong unit is a factor of ten; sz000001.day's closes
 * times volumes come to 0.999 of its amounts). Files of other ranges, or without trades, pass.
 */
function checkPriceUnit(name: TdxFileName, divisor: number, tradedAtClose: number, amount: number): void {
  if (!SHARES_IN_YUAN[name.exchange].includes(name.code.slice(0, 2)) || tradedAtClose === 0 || amount === 0) return;
  const ratio = tradedAtClose / amount;
  if (ratio < 0.5 || ratio > 2) {
    throw new BarFileError(
      `${name.exchange}${name.code}: its prices read in ${divisor === 100 ? "hundredths" : "thousandths"} of a yuan (the unit of its code range) ` +
        `times its volumes come to ${ratio.toPrecision(3)} times its amounts: the file does not keep its prices in that unit; nothing was written`,
    );
  }
}

/** The divisor of a `.day` file's prices, or a BarFileError naming the code it does not know. */
export function tdxPriceDivisor(name: TdxFileName): 100 | 1000 {
  const divisor = PRICE_DIVISORS[name.exchange][name.code.slice(0, 2)];
  if (divisor === undefined) {
    throw new BarFileError(
      `${name.exchange}${name.code}: no known price unit for ${name.exchange} codes starting ${name.code.slice(0, 2)} ` +
        `(a .day file stores prices as whole hundredths or thousandths of a yuan by code range: ` +
        `${Object.entries(PRICE_DIVISORS).map(([exchange, table]) => `${exchange} ${Object.keys(table).join(" ")}`).join("; ")}); nothing was written`,
    );
  }
  return divisor;
}

/**
 * The decimal with the fewest places, up to three, that float32 stores as `value`: the price the
 * terminal wrote (36.71 is stored as 36.709999084472656; prices tick in 0.01 or 0.001 yuan). A
 * float32 with no such decimal is kept exactly as it is.
 */
export function float32Price(value: number): number {
  for (let scale = 1; scale <= 1000; scale *= 10) {
    const decimal = Math.round(value * scale) / scale;
    if (Math.fround(decimal) === value) return decimal;
  }
  return value;
}

/** A record the import could not take: its number (the first is 1) and why. */
export interface BadRecord {
  record: number;
  reason: string;
}

export interface TdxFileOptions {
  /**
   * IANA zone of the file's times: minute files' wall-clock times are read in it, and a `.day`
   * file's dates are stamped at its local midnight (the daily series' rule: pass the store's zone).
   */
  timeZone: string;
  /** Records per written batch. Default 10,000, as the CSV import. */
  batchRecords?: number;
  /** Report bad records and leave them out (true), or refuse the file at the first (the default). */
  skipBad?: boolean;
  /** Writes one batch in one transaction; resolves with the bars written. */
  write(bars: BarColumns, records: { first: number; last: number }): Promise<number>;
  /** Each bad record, as the check finds it. */
  onBadRecord?(bad: BadRecord): void;
  /** Bytes written so far, after each batch. */
  onProgress?(bytes: number): void;
}

export interface TdxFileSummary {
  records: number;
  written: number;
  batches: number;
  badRecords: number;
  /** The first and last bar's timestamp written, or null when none was. */
  first: number | null;
  last: number | null;
}

const VALUE_FIELDS = ["open", "high", "low", "close", "volume", "amount"] as const;

/** A chunk of records decoded into columns, with the reason each bad one is bad (by row). */
interface Chunk {
  /** The chunk's first record, counted from 0. */
  start: number;
  timestamp: Float64Array;
  values: Record<(typeof VALUE_FIELDS)[number], Float64Array>;
  bad: Map<number, string>;
}

/**
 * Reads a TDX binary file (`data`, what `name` says it is) and writes its bars in batches through
 * `options.write`. A size that is not a whole number of records is refused before anything is read.
 */
export async function importTdxFile(data: Blob, name: TdxFileName, options: TdxFileOptions): Promise<TdxFileSummary> {
  if (data.size % TDX_RECORD_BYTES !== 0) {
    throw new BarFileError(
      `${data.size} bytes is not a whole number of ${TDX_RECORD_BYTES}-byte records (${Math.floor(data.size / TDX_RECORD_BYTES)} and ` +
        `${data.size % TDX_RECORD_BYTES} bytes over): the file is cut short or not a TDX .${name.kind} file; nothing was written`,
    );
  }
  const records = data.size / TDX_RECORD_BYTES;
  const divisor = name.kind === "day" ? tdxPriceDivisor(name) : 1;
  const chunkRecords = options.batchRecords ?? 10_000;
  const summary: TdxFileSummary = { records, written: 0, batches: 0, badRecords: 0, first: null, last: null };

  // The check: every record, before any is written. Decoding is deterministic, so the write
  // below meets the same bad records and leaves them out without remembering them.
  const traded = { atClose: 0, amount: 0 };
  for await (const chunk of chunks(data, name.kind, divisor, options.timeZone, chunkRecords)) {
    // In record order: the bad rows were found by several checks, each in its own pass.
    for (const [row, reason] of [...chunk.bad].sort(([a], [b]) => a - b)) {
      const bad = { record: chunk.start + row + 1, reason };
      summary.badRecords++;
      options.onBadRecord?.(bad);
      if (!options.skipBad) {
        throw new BarFileError(`record ${bad.record} of ${records} (byte ${(bad.record - 1) * TDX_RECORD_BYTES}): ${reason}; nothing was written`);
      }
    }
    const { close, volume, amount } = chunk.values;
    for (let row = 0; row < close.length; row++) {
      if (chunk.bad.has(row)) continue;
      traded.atClose += close[row]! * volume[row]!;
      traded.amount += amount[row]!;
    }
  }
  if (name.kind === "day") checkPriceUnit(name, divisor, traded.atClose, traded.amount);

  for await (const chunk of chunks(data, name.kind, divisor, options.timeZone, chunkRecords)) {
    const bars = keptBars(chunk);
    const count = bars.timestamp.length;
    if (count > 0) {
      summary.written += await options.write(bars, { first: chunk.start + 1, last: chunk.start + chunk.timestamp.length });
      summary.batches++;
      summary.first ??= bars.timestamp[0]!;
      summary.last = bars.timestamp[count - 1]!;
    }
    options.onProgress?.((chunk.start + chunk.timestamp.length) * TDX_RECORD_BYTES);
  }
  return summary;
}

/** The chunk's good rows as BarColumns (the typed arrays themselves when all are good). */
function keptBars(chunk: Chunk): BarColumns & { timestamp: Float64Array } {
  if (chunk.bad.size === 0) return { timestamp: chunk.timestamp, ...chunk.values };
  const keep = (column: Float64Array) => column.filter((_, row) => !chunk.bad.has(row));
  const bars: BarColumns & { timestamp: Float64Array } = { timestamp: keep(chunk.timestamp) };
  for (const field of VALUE_FIELDS) bars[field] = keep(chunk.values[field]);
  return bars;
}

/** The file's records decoded and checked, `size` at a time, in file order. */
async function* chunks(data: Blob, kind: TdxKind, divisor: number, timeZone: string, size: number): AsyncGenerator<Chunk> {
  const records = data.size / TDX_RECORD_BYTES;
  // The last good record's time and label: records must ascend, across chunks too.
  const previous = { timestamp: -Infinity, label: "" };
  for (let start = 0; start < records; start += size) {
    const count = Math.min(size, records - start);
    const view = new DataView(await data.slice(start * TDX_RECORD_BYTES, (start + count) * TDX_RECORD_BYTES).arrayBuffer());
    const chunk = decodeChunk(view, start, count, kind, divisor, timeZone);
    checkChunk(chunk, view, kind, timeZone, previous);
    yield chunk;
  }
}

function decodeChunk(view: DataView, start: number, count: number, kind: TdxKind, divisor: number, timeZone: string): Chunk {
  const column = () => new Float64Array(count);
  const chunk: Chunk = {
    start,
    timestamp: column(),
    values: { open: column(), high: column(), low: column(), close: column(), volume: column(), amount: column() },
    bad: new Map(),
  };
  const { open, high, low, close, volume, amount } = chunk.values;
  for (let row = 0; row < count; row++) {
    const at = row * TDX_RECORD_BYTES;
    try {
      chunk.timestamp[row] = recordTime(view, at, kind, timeZone);
    } catch (error) {
      if (!(error instanceof TimestampError)) throw error;
      chunk.bad.set(row, `time: ${error.reason}`);
    }
    if (kind === "day") {
      open[row] = view.getUint32(at + 4, true) / divisor;
      high[row] = view.getUint32(at + 8, true) / divisor;
      low[row] = view.getUint32(at + 12, true) / divisor;
      close[row] = view.getUint32(at + 16, true) / divisor;
    } else {
      open[row] = float32Price(view.getFloat32(at + 4, true));
      high[row] = float32Price(view.getFloat32(at + 8, true));
      low[row] = float32Price(view.getFloat32(at + 12, true));
      close[row] = float32Price(view.getFloat32(at + 16, true));
    }
    amount[row] = view.getFloat32(at + 20, true);
    volume[row] = view.getUint32(at + 24, true);
    // NaN would be stored as a missing value (NULL) and Infinity is no price: both are damage.
    if (!chunk.bad.has(row)) {
      const broken = VALUE_FIELDS.find((field) => !Number.isFinite(chunk.values[field][row]!));
      if (broken !== undefined) chunk.bad.set(row, `${broken}: ${chunk.values[broken][row]} is not a number a bar can hold`);
    }
  }
  return chunk;
}

/** The bar rules (prices > 0, low <= open, close <= high ...) and ascending times, per record. */
function checkChunk(chunk: Chunk, view: DataView, kind: TdxKind, timeZone: string, previous: { timestamp: number; label: string }): void {
  try {
    validateBars({ timestamp: chunk.timestamp, ...chunk.values }, timeZone);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    for (const issue of error.issues) {
      if (issue.row !== undefined && !chunk.bad.has(issue.row)) chunk.bad.set(issue.row, `${issue.field ?? "bar"}: ${issue.message}`);
    }
  }
  for (let row = 0; row < chunk.timestamp.length; row++) {
    if (chunk.bad.has(row)) continue;
    const label = recordLabel(view, row * TDX_RECORD_BYTES, kind);
    // TDX appends records in time order: a repeat would overwrite a bar silently, and a step
    // back means a damaged or spliced file.
    if (!(chunk.timestamp[row]! > previous.timestamp)) {
      chunk.bad.set(row, `time: ${label} does not come after the record before it (${previous.label}); records ascend in time`);
      continue;
    }
    previous.timestamp = chunk.timestamp[row]!;
    previous.label = label;
  }
}

/** The date (and minute) a record holds, as numbers. */
function recordParts(view: DataView, at: number, kind: TdxKind): { year: number; month: number; day: number; minutes: number | null } {
  if (kind === "day") {
    const date = view.getUint32(at, true);
    return { year: Math.floor(date / 10_000), month: Math.floor(date / 100) % 100, day: date % 100, minutes: null };
  }
  const packed = view.getUint16(at, true);
  const rest = packed % 2048;
  return { year: Math.floor(packed / 2048) + 2004, month: Math.floor(rest / 100), day: rest % 100, minutes: view.getUint16(at + 2, true) };
}

/** A record's wall-clock time as written, for messages: `2021-04-23 09:31` or `2000-02-14`. */
function recordLabel(view: DataView, at: number, kind: TdxKind): string {
  const { year, month, day, minutes } = recordParts(view, at, kind);
  const date = `${year}-${pad(month)}-${pad(day)}`;
  return minutes === null ? date : `${date} ${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** The A-share exchanges opened in December 1990; a .day date before is damage, not history. */
const FIRST_YEAR = 1990;

/** A record's time in epoch ms, or a TimestampError naming what is impossible about it. */
function recordTime(view: DataView, at: number, kind: TdxKind, timeZone: string): number {
  const { year, month, day, minutes } = recordParts(view, at, kind);
  const written = kind === "day" ? `date ${view.getUint32(at, true)}` : `date ${view.getUint16(at, true)} (${year}-${month}-${day})`;
  const wall = Date.UTC(year, month - 1, day);
  const real = year >= FIRST_YEAR && month >= 1 && month <= 12 && day >= 1 && new Date(wall).getUTCMonth() === month - 1;
  if (!real) throw new TimestampError(`${written} is not a calendar date${kind === "day" ? ` from ${FIRST_YEAR} on (YYYYMMDD)` : ""}`);
  if (minutes === null) return startOfLocalDay(wall, timeZone);
  if (minutes >= 24 * 60) throw new TimestampError(`minute ${minutes} of ${year}-${pad(month)}-${pad(day)} is past the end of the day (at most 1439)`);
  return wallTimeToUtc(wall + minutes * MINUTE_MS, timeZone, recordLabel(view, at, kind));
}

/**
 * Bar files as users bring them: CSV and text exported by data vendors, terminals and A-share
 * tools, streamed (papaparse over pieces of the byte stream, never the whole text) into batches
 * of columns that the caller writes, each batch in one transaction; a file with a code column
 * (Tushare's ts_code, baostock's code ...) in batches per symbol. This is the one reader of bar
 * text: `tradelite import`, the API's CSV uploads and the page's import form all use it.
 *
 * The header decides the profile (profiles.ts) and the columns (header.ts). Around the CSV:
 * UTF-8, or GBK when the first two lines are not UTF-8 but are GBK (or when told); a BOM; a TDX
 * export's title line ("601003 柳钢股份 日线 前复权") before its header, a header padded with
 * tabs over comma-separated rows, and its footer line ("数据来源:通达信"). A record is one line
 * (a quoted field may hold a comma, not a line break); LF and CRLF may mix. A time seen twice
 * for a symbol is a bad row (within two batches of each other; farther apart, in an unsorted
 * file, the later row wins as an upsert). Anything else is a bad row too, reported with its
 * line number and the reason: nothing is guessed, rounded or coerced. Forward- or back-adjusted
 * prices (a TDX title saying 前复权 / 后复权, baostock's adjustflag 1 or 2) are refused unless
 * `adjusted` says to store them: tradelite keeps raw prices.
 */
import Papa from "papaparse";
import { validateBars, type BarColumns } from "../domain/bar.ts";
import { pauses } from "../domain/pause.ts";
import { ValidationError } from "../domain/errors.ts";
import { TimestampError } from "../domain/time.ts";
import { dailyStampIssues, type StoredInterval } from "../domain/daily.ts";
import type { Issue } from "../domain/errors.ts";
import { symbolProblem } from "../domain/symbol.ts";
import { BarFileError, mapHeader, readTime, readValues, type HeaderMap } from "./header.ts";
import type { AmountUnit, ProfileName, VolumeUnit } from "./profiles.ts";

export { BarFileError, mapHeader, type HeaderMap };

/** A row the import could not take: its line in the file (the header's line is `headerLine`) and why. */
export interface BadRow {
  line: number;
  reason: string;
}

export type Encoding = "utf-8" | "gbk";
export const ENCODINGS: readonly Encoding[] = ["utf-8", "gbk"];

export interface BarFileOptions {
  /** IANA zone that naive times are read in. */
  timeZone: string;
  /**
   * `1d`: the file holds daily bars for the stored daily series, so every row's time must be a
   * local midnight in `timeZone` (a date alone is); another time is a bad row. Omitted: any time.
   */
  interval?: StoredInterval;
  /** Rows per written batch. Default 10,000 (larger batches cost memory and gain no speed: measured 215k rows/s either way). */
  batchRows?: number;
  /** Report bad rows and go on (true), or stop at the first (false, the default). */
  skipBad?: boolean;
  /** The profile (profiles.ts); omitted, the one the header matches. */
  profile?: ProfileName;
  /** The text's encoding; omitted, UTF-8, or GBK when the first two lines are GBK and not UTF-8. */
  encoding?: Encoding;
  /** The volume column's unit, over the profile's (`lots`: 手, 100 shares). */
  volumeUnit?: VolumeUnit;
  /** The amount column's unit, over the profile's (`thousands`: 千元). */
  amountUnit?: AmountUnit;
  /** Store forward- or back-adjusted prices as the bars (refused otherwise). */
  adjusted?: boolean;
  /** Called once the header is read (with its line), before any write: a caller may refuse the file here. */
  onHeader?(header: HeaderMap, line: number): void;
  /**
   * Writes one batch of one symbol in one transaction; resolves with the rows written. `symbol`
   * is the row's code-column value, or null for a file without one.
   */
  write(bars: BarColumns, lines: { first: number; last: number }, symbol: string | null): Promise<number>;
  /** Each bad row, as it is found (skipped or the one that stopped the import). */
  onBadRow?(bad: BadRow): void;
  /** Bytes read so far, after each piece. */
  onProgress?(bytes: number): void;
}

export interface BarFileSummary {
  /** Data rows read (blank lines, a title and a footer not counted). */
  rows: number;
  /** Rows written, as the writes reported them. */
  written: number;
  /** Rows written per symbol of a file with a code column (empty for one without). */
  symbols: Record<string, number>;
  batches: number;
  /** Bad rows seen (with skipBad, all of them; without, the one that stopped the import). */
  badRows: number;
  /** The row that stopped the import (without skipBad), or null. */
  stoppedAt: BadRow | null;
  header: HeaderMap | null;
  /** The file line of the header (after a title line, 2). */
  headerLine: number;
  /** How the text was decoded, and whether that was detected. */
  encoding: { name: Encoding; detected: boolean };
  /** What a TDX title line said of the prices (前复权 ...), or baostock's adjustflag, when adjusted. */
  adjusted: string | null;
  bytes: number;
}

/**
 * Text handed to papaparse at a time, with a pause between pieces: an upload is read on the
 * server's thread, and 256 KiB at once (~25 ms of parsing) showed as a 20 ms p99 of other
 * requests during a 1M-row upload (bench case 12); 16 KiB, as the upload reader it replaced used, is ~2 ms.
 */
const PIECE_CHARS = 16 * 1024;
/** Bytes looked at to tell UTF-8 from GBK (the first two lines within them: a title and a header). */
const DETECT_BYTES = 64 * 1024;

/** A TDX export's title: code, name, period and adjustment ("601003 柳钢股份 日线 前复权"). */
const TDX_TITLE = /^\s*\d{6}\s+\S+\s+\S*(?:线|分钟)\S*(?:\s+(前复权|后复权|不复权))?\s*$/;
/** A TDX export's last line. */
const TDX_FOOTER = /^\s*数据来源\s*[:：]/;
/** baostock's adjustflag: 3 is raw. */
const BAOSTOCK_ADJUSTED: Record<string, string> = { "1": "adjustflag 1 (后复权, back-adjusted)", "2": "adjustflag 2 (前复权, forward-adjusted)" };

/**
 * Reads a bar file from `stream` and writes it in batches through `options.write`. Without
 * skipBad, the first bad row stops the import: every row before it is written (in batches, each
 * atomic), nothing from it on. With skipBad, bad rows are reported and left out.
 */
export async function importBarFile(stream: ReadableStream<Uint8Array>, options: BarFileOptions): Promise<BarFileSummary> {
  const batchRows = options.batchRows ?? 10_000;
  const summary: BarFileSummary = {
    rows: 0, written: 0, symbols: {}, batches: 0, badRows: 0, stoppedAt: null, header: null, headerLine: 0,
    encoding: { name: options.encoding ?? "utf-8", detected: options.encoding === undefined }, adjusted: null, bytes: 0,
  };
  let header: HeaderMap | null = null;
  let line = 1; // the line the next record starts on
  let batches = new Map<string | null, BatchBuilder>();
  let pending = 0;
  let stop = false;
  // The line of each time in this batch and the one before, per symbol: a time seen twice in a
  // file is a bad row, not a silent overwrite (a wrong column read, or an hour repeated when
  // clocks go back). Two batches' worth are kept, which catches every repeat in a sorted file.
  let seen = new Map<string | null, Map<number, number>>();
  let seenBefore = new Map<string | null, Map<number, number>>();
  const pause = pauses();

  const bad = (row: BadRow): void => {
    summary.badRows++;
    options.onBadRow?.(row);
    if (!options.skipBad) {
      summary.stoppedAt = row;
      stop = true;
    }
  };

  const flush = async (): Promise<void> => {
    seenBefore = seen;
    seen = new Map();
    if (pending === 0) return;
    const built = [...batches];
    batches = new Map();
    pending = 0;
    // The bar rules (high >= low, no negative volume ...) over each symbol's rows at once, and
    // for a daily file the midnight rule, so a bad row of either kind is reported by its line.
    const badAt = new Map<number, string>();
    for (const [, batch] of built) {
      const { columns, lines } = batch.result();
      const issues: Issue[] = [];
      try {
        validateBars(columns, options.timeZone);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        issues.push(...error.issues);
      }
      if (options.interval === "1d") issues.push(...dailyStampIssues(columns.timestamp as ArrayLike<number>, options.timeZone));
      for (const issue of issues) {
        if (issue.row === undefined || badAt.has(lines[issue.row]!)) continue;
        badAt.set(lines[issue.row]!, `${issue.field ?? "bar"}: ${issue.message}`);
      }
    }
    // Without skipBad nothing from the first bad line on is written, whichever symbol it is.
    const badLines = [...badAt.keys()].sort((a, b) => a - b);
    const firstBad = badLines[0] ?? Infinity;
    for (const badLine of options.skipBad ? badLines : badLines.slice(0, 1)) bad({ line: badLine, reason: badAt.get(badLine)! });
    for (const [symbol, batch] of built) {
      const { columns, lines } = batch.result((at) => (options.skipBad ? !badAt.has(at) : at < firstBad));
      if (lines.length === 0) continue;
      const written = await options.write(columns, { first: lines[0]!, last: lines[lines.length - 1]! }, symbol);
      summary.written += written;
      if (symbol !== null) summary.symbols[symbol] = (summary.symbols[symbol] ?? 0) + written;
      summary.batches++;
    }
  };

  // A row refused while reading. Without skipBad it stops the import, but the rows before it in
  // the batch are checked against the bar rules first: one of them may be the first bad row.
  const reject = async (row: BadRow): Promise<void> => {
    if (!options.skipBad) {
      await flush();
      if (stop) return;
    }
    bad(row);
  };

  /** The header row (or a line before it that a TDX export writes): read, or skipped. */
  const readHeaderRecord = (fields: string[], at: number): void => {
    const only = fields.length === 1 ? fields[0]!.trim() : null;
    if (only !== null && at === summary.headerLine + 1 && summary.headerLine === 0) {
      const title = TDX_TITLE.exec(only);
      if (title) {
        // The title line: its adjustment is the file's.
        if (title[1] === "前复权" || title[1] === "后复权") summary.adjusted = title[1];
        summary.headerLine = at; // provisional: the header is the next line
        return;
      }
    }
    // A TDX export pads its header with tabs and spaces while its rows are comma-separated.
    const names = only !== null && only.includes("\t") ? fields[0]!.split("\t") : fields;
    header = mapHeader(names, options);
    summary.header = header;
    summary.headerLine = at;
    if (summary.adjusted !== null && !options.adjusted) {
      throw new BarFileError(
        `the file holds ${summary.adjusted} (adjusted) prices, as its title says; tradelite stores raw prices and adjusts on read. Export the raw prices (不复权), or store these as they are with --adjusted`,
        at - 1,
      );
    }
    if (header.profile === "cache" && header.code !== null) throw new BarFileError("a cache file names no symbols", at);
    options.onHeader?.(header, at);
  };

  const values = new Array<number | null>(6);
  const readRecords = async (records: string[][]): Promise<void> => {
    for (let r = 0; r < records.length && !stop; r++) {
      const fields = records[r]!;
      const at = line++;
      if (fields.length === 1 && fields[0]!.trim() === "") continue; // a blank line
      if (header === null) {
        readHeaderRecord(fields, at);
        continue;
      }
      if (fields.length === 1 && TDX_FOOTER.test(fields[0]!)) continue;
      summary.rows++;
      const map: HeaderMap = header;
      if (fields.length !== map.fields) {
        await reject({ line: at, reason: `${fields.length} fields; the header has ${map.fields}` });
        continue;
      }
      let symbol: string | null = null;
      if (map.code !== null) {
        symbol = fields[map.code]!.trim();
        const problem = symbolProblem(symbol);
        if (problem !== undefined) {
          await reject({ line: at, reason: `code: ${problem}` });
          continue;
        }
      }
      if (map.adjustflag !== null) {
        const flag = fields[map.adjustflag]!.trim();
        const adjusted = BAOSTOCK_ADJUSTED[flag];
        if (adjusted !== undefined && !options.adjusted) {
          await flush();
          throw new BarFileError(`line ${at} holds ${adjusted} prices; tradelite stores raw prices (adjustflag 3) and adjusts on read. Fetch the raw bars, or store these as they are with --adjusted`, at);
        }
        if (adjusted !== undefined) summary.adjusted ??= adjusted;
        else if (flag !== "3") {
          await reject({ line: at, reason: `adjustflag: ${JSON.stringify(flag.slice(0, 10))} is not 1, 2 or 3` });
          continue;
        }
      }
      let timestamp: number;
      try {
        timestamp = readTime(fields, map, options.timeZone);
      } catch (error) {
        if (!(error instanceof TimestampError)) throw error;
        await reject({ line: at, reason: `time: ${error.reason}` });
        continue;
      }
      const reason = readValues(fields, map, values);
      if (reason !== null) {
        await reject({ line: at, reason });
        continue;
      }
      let times = seen.get(symbol);
      if (!times) seen.set(symbol, (times = new Map()));
      const earlier = times.get(timestamp) ?? seenBefore.get(symbol)?.get(timestamp);
      if (earlier !== undefined) {
        await reject({ line: at, reason: `time: ${new Date(timestamp).toISOString()} again (line ${earlier} has it); a time may appear once${symbol === null ? "" : ` for ${symbol}`}` });
        continue;
      }
      times.set(timestamp, at);
      let batch = batches.get(symbol);
      if (!batch) batches.set(symbol, (batch = new BatchBuilder()));
      batch.push(timestamp, values, at);
      if (++pending >= batchRows) await flush();
    }
  };

  /**
   * Complete lines of text (each ending "\n"), parsed with papaparse. A record is one line: a
   * quote may hold a comma but not a line break, so a broken quote spoils its own line only.
   * When papaparse reports one, the lines are parsed one by one to find it.
   */
  const parseLines = async (text: string): Promise<void> => {
    if (text === "" || stop) return;
    // A piece longer than any line may be holds an overlong line: read line by line to find it.
    if (text.length <= MAX_LINE_CHARS) {
      const parsed = Papa.parse<string[]>(text, { header: false, delimiter: ",", newline: "\n", skipEmptyLines: false, quoteChar: '"' });
      const records = parsed.data;
      if (records.length > 0 && text.endsWith("\n")) records.pop(); // the empty record after the last "\n"
      if (parsed.errors.length === 0 && records.length === countLines(text)) {
        await readRecords(records.map(withoutCarriageReturn));
        return;
      }
    }
    for (const lineText of text.slice(0, -1).split("\n")) {
      if (stop) return;
      if (lineText.length > MAX_LINE_CHARS) {
        if (header === null) throw new BarFileError(`the first line runs past ${MAX_LINE_CHARS} characters: not a CSV header`, 1);
        summary.rows++;
        await reject({ line, reason: `the line runs past ${MAX_LINE_CHARS} characters` });
        line++;
        continue;
      }
      const one = Papa.parse<string[]>(lineText, { header: false, delimiter: ",", newline: "\n", skipEmptyLines: false, quoteChar: '"' });
      if (one.errors.length === 0 && one.data.length === 1) {
        await readRecords([withoutCarriageReturn(one.data[0]!)]);
        continue;
      }
      if (header === null) throw new BarFileError(`the header cannot be read: ${one.errors[0]?.message ?? "not one CSV record"}`, 1);
      summary.rows++;
      await reject({ line, reason: `CSV: ${one.errors[0]?.message ?? "not one CSV record"}` });
      line++;
    }
  };

  let carry = "";
  /** Set while the rest of an overlong line is being skipped. */
  let skippingLongLine = false;
  /** Takes decoded text; parses the complete lines in it, keeps the unfinished last one. */
  const take = async (text: string): Promise<void> => {
    let from = 0;
    if (skippingLongLine) {
      const end = text.indexOf("\n");
      if (end < 0) return;
      skippingLongLine = false;
      line++;
      from = end + 1;
    }
    const lastNewline = text.lastIndexOf("\n");
    if (lastNewline < from) {
      carry += text.slice(from);
    } else {
      const complete = carry + text.slice(from, lastNewline + 1);
      carry = text.slice(lastNewline + 1);
      for (let at = 0; at < complete.length && !stop; ) {
        const cut = complete.lastIndexOf("\n", at + PIECE_CHARS);
        const end = cut >= at ? cut + 1 : complete.indexOf("\n", at) + 1;
        await parseLines(complete.slice(at, end));
        // An upload read on the server's thread: let other requests run between pieces.
        await pause();
        at = end;
      }
    }
    if (carry.length > MAX_LINE_CHARS && !stop) {
      // One line longer than any bar file's: a bad row, skipped to its end, never buffered whole.
      if (header === null) throw new BarFileError(`the first line runs past ${MAX_LINE_CHARS} characters: not a CSV header`, 1);
      summary.rows++;
      await reject({ line, reason: `the line runs past ${MAX_LINE_CHARS} characters` });
      carry = "";
      skippingLongLine = true;
    }
  };

  /** Stops on something wrong with the file itself; the rows read before it are written first. */
  const fileError = async (message: string): Promise<never> => {
    if (!stop) await flush();
    throw new BarFileError(message, line);
  };

  let decoder = options.encoding ? new TextDecoder(options.encoding, { fatal: true }) : null;
  let first = true;
  /** Decodes and reads one piece of bytes. */
  const takeBytes = async (bytes: Uint8Array): Promise<void> => {
    let text: string;
    try {
      text = decoder!.decode(bytes, { stream: true });
    } catch {
      // Read the lines before the first byte that cannot be decoded, then stop there.
      if (summary.encoding.name === "utf-8") {
        try {
          const prefix = decoder!.decode(bytes.subarray(0, validUtf8Prefix(bytes)), { stream: true });
          await take(first && prefix.charCodeAt(0) === 0xfeff ? prefix.slice(1) : prefix);
        } catch {
          // A character cut between two chunks: report from the lines read so far.
        }
      }
      return fileError(
        summary.encoding.name === "utf-8"
          ? `the file is not UTF-8 text (line ${line}); a GBK file (Chinese Windows exports) is read with --encoding gbk`
          : `the file is not ${summary.encoding.name.toUpperCase()} text (line ${line})`,
      );
    }
    summary.bytes += bytes.byteLength;
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    await take(text);
    options.onProgress?.(summary.bytes);
  };

  const reader = stream.getReader();
  try {
    let head: Uint8Array | null = decoder ? null : new Uint8Array(0);
    while (!stop) {
      const chunk = await reader.read();
      if (chunk.done) break;
      if (head !== null) {
        // The encoding is chosen from the first two lines (a title and a header).
        head = concat(head, chunk.value);
        if (head.length < DETECT_BYTES && countNewlines(head, 2) < 2) continue;
        decoder = detectEncoding(head, summary);
        const bytes = head;
        head = null;
        await takeBytes(bytes);
        continue;
      }
      await takeBytes(chunk.value);
    }
    if (head !== null && !stop) {
      decoder = detectEncoding(head, summary);
      await takeBytes(head);
    }
    if (!stop) {
      let rest = "";
      try {
        rest = decoder?.decode() ?? "";
      } catch {
        await fileError(`the file ends inside a ${summary.encoding.name.toUpperCase()} character`);
      }
      await take(rest);
      if (!skippingLongLine && carry !== "" && !stop) await parseLines(`${carry}\n`); // a last line without "\n"
      carry = "";
    }
    if (!stop) await flush();
  } finally {
    await reader.cancel().catch(() => {});
  }
  if (header === null) throw new BarFileError(summary.headerLine > 0 ? "the file has a title line and no header row" : "the file is empty: no header row");
  return summary;
}

/** UTF-8, unless the first two lines are not UTF-8 and are GBK. */
function detectEncoding(head: Uint8Array, summary: BarFileSummary): TextDecoder {
  let end = 0;
  for (let newlines = 0; end < head.length && newlines < 2; end++) if (head[end] === 0x0a) newlines++;
  const lines = head.subarray(0, end);
  // A character cut at the end of what was looked at is not a reason to leave UTF-8.
  const valid = validUtf8Prefix(lines);
  if (valid === lines.length || (end === head.length && lines.length - valid < 4 && !lines.subarray(valid).includes(0x0a))) {
    return new TextDecoder("utf-8", { fatal: true });
  }
  try {
    new TextDecoder("gbk", { fatal: true }).decode(lines.subarray(0, end === head.length ? lastNewline(lines) + 1 : end));
    summary.encoding = { name: "gbk", detected: true };
    return new TextDecoder("gbk", { fatal: true });
  } catch {
    return new TextDecoder("utf-8", { fatal: true });
  }
}

function lastNewline(bytes: Uint8Array): number {
  return bytes.lastIndexOf(0x0a);
}

function countNewlines(bytes: Uint8Array, upTo: number): number {
  let n = 0;
  for (let i = bytes.indexOf(0x0a); i >= 0 && n < upTo; i = bytes.indexOf(0x0a, i + 1)) n++;
  return n;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  return both;
}

/** The length of the longest prefix of `bytes` that is well-formed UTF-8. */
export function validUtf8Prefix(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const byte = bytes[i]!;
    const length = byte < 0x80 ? 1 : byte >= 0xc2 && byte <= 0xdf ? 2 : byte >= 0xe0 && byte <= 0xef ? 3 : byte >= 0xf0 && byte <= 0xf4 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    for (let k = 1; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    i += length;
  }
  return i;
}

/** The longest line read (a bar's line is under 200 characters). */
export const MAX_LINE_CHARS = 1024 * 1024;

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** A record of a CRLF line, without the CR papaparse left on its last field. */
function withoutCarriageReturn(fields: string[]): string[] {
  const last = fields.length - 1;
  if (fields[last]!.endsWith("\r")) fields[last] = fields[last]!.slice(0, -1);
  return fields;
}

const VALUE_FIELDS = ["open", "high", "low", "close", "volume", "amount"] as const;

/** Rows of one batch of one symbol as columns, with the file line of each row. */
class BatchBuilder {
  length = 0;
  readonly timestamps: number[] = [];
  readonly values: (number | null)[][] = VALUE_FIELDS.map(() => []);
  readonly lines: number[] = [];

  push(timestamp: number, values: readonly (number | null)[], line: number): void {
    this.timestamps.push(timestamp);
    for (let i = 0; i < VALUE_FIELDS.length; i++) this.values[i]!.push(values[i]!);
    this.lines.push(line);
    this.length++;
  }

  /** The batch as BarColumns (only the rows whose line `keep` accepts, when given). */
  result(keep?: (line: number) => boolean): { columns: BarColumns; lines: number[] } {
    const kept = keep ? this.lines.map(keep) : null;
    const pick = <T>(items: T[]): T[] => (kept ? items.filter((_, i) => kept[i]) : items);
    const columns: BarColumns = { timestamp: Float64Array.from(pick(this.timestamps)) };
    VALUE_FIELDS.forEach((field, i) => {
      columns[field] = pick(this.values[i]!);
    });
    return { columns, lines: pick(this.lines) };
  }
}

/**
 * Parquet bar files into a store: the columns timestamp, open, high, low, close, volume, amount
 * (what `tradelite export --format parquet` writes, and what pandas' `to_parquet` of a bar frame
 * holds), and optionally a symbol column, read a row group at a time with hyparquet and written
 * through `write` in batches that each commit whole.
 *
 * Before the first write, the footer and every page header are checked against the file
 * (parquet-checks.ts): a file cut short, or one declaring offsets outside itself or more rows or
 * bytes than a bar file holds, is refused with nothing written; pages are decompressed with their
 * declared size as a hard limit, so a hostile file cannot make the import allocate what it declares.
 * hyparquet (pure JS, 0.5 MB) decodes 1M bars in ~0.4-0.7 s here (2.4M rows/s alone); parquet-wasm
 * 0.8 decoded them in 0.25-0.75 s but into Arrow, from which they must be copied out again, and
 * is 15 MB of wasm.
 */
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { parquetRead, snappyUncompress, type Compressors, type FileMetaData, type SchemaElement } from "hyparquet";
import type { BarColumns } from "../domain/bar.ts";
import { wallTimeToUtc } from "../domain/time.ts";
import { BarFileError } from "./header.ts";
import { checkedGroupBytes, MAX_PAGE_BYTES, readFooter } from "./parquet-checks.ts";

const DAY_MS = 86_400_000;

const VALUE_FIELDS = ["open", "high", "low", "close", "volume", "amount"] as const;
/** Names of a symbol column, as the CSV profiles spell a code column. */
const SYMBOL_COLUMNS = ["symbol", "code", "ts_code", "order_book_id"];

export interface ParquetFileOptions {
  /** IANA zone of naive times: a timestamp not adjusted to UTC, or a DATE column (local midnight). */
  timeZone: string;
  /** Writes one batch of one symbol in one transaction; resolves with the bars written. `symbol` is the symbol column's value, or null. */
  write(bars: BarColumns, rows: { first: number; last: number }, symbol: string | null): Promise<number>;
  /** Rows read so far, of the file's rows, after each row group. */
  onProgress?(rows: number, of: number): void;
}

export interface ParquetFileSummary {
  rows: number;
  written: number;
  batches: number;
  /** Rows written per symbol of a file with a symbol column (empty for one without). */
  symbols: Record<string, number>;
  /** The file's columns that were not read. */
  ignored: string[];
  /** The symbol column read, or null. */
  symbolColumn: string | null;
  first: number | null;
  last: number | null;
}

/**
 * Reads a Parquet file (`data`) and writes its bars a row group at a time through `options.write`.
 * A file that is cut short or whose footer does not fit the file is refused before anything is written.
 */
export async function importParquetFile(data: Blob, options: ParquetFileOptions): Promise<ParquetFileSummary> {
  const metadata = await readFooter(data, RAW_TIMES);
  const columns = barColumns(metadata);
  const timestampOf = timestampReader(columns.timestamp, options.timeZone);
  const summary: ParquetFileSummary = { rows: 0, written: 0, batches: 0, symbols: {}, ignored: columns.ignored, symbolColumn: columns.symbol, first: null, last: null };
  const readChunks = (group: FileMetaData["row_groups"][number]) => group.columns.filter((chunk) => columns.read.includes(chunk.meta_data!.path_in_schema[0]!));
  // Every page header of the file is checked before the first write (the file is read twice,
  // ~20 ms for 1M bars), so a hostile page anywhere refuses the file with nothing written.
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    if (group.num_rows > 0n) await checkedGroupBytes(data, readChunks(group), group.num_rows, groupStart);
    groupStart += Number(group.num_rows);
  }
  groupStart = 0;
  for (const group of metadata.row_groups) {
    const rows = Number(group.num_rows);
    const read: Record<string, ArrayLike<unknown>> = {};
    if (rows > 0) {
      const file = await checkedGroupBytes(data, readChunks(group), group.num_rows, groupStart);
      await parquetRead({
        file, metadata, rowStart: groupStart, rowEnd: groupStart + rows, columns: columns.read, compressors: DECOMPRESSORS, parsers: RAW_TIMES,
        onChunk: ({ columnName, columnData, rowStart }) => {
          // A column comes page by page; one whole page is the column of the group most often.
          const into = (read[columnName] ??= rowStart === groupStart && columnData.length === rows ? columnData : new Array(rows)) as unknown[];
          if (into !== columnData) for (let i = 0; i < columnData.length; i++) into[rowStart - groupStart + i] = columnData[i];
        },
      }).catch((error: unknown) => {
        throw new BarFileError(`row group at row ${groupStart + 1}: ${error instanceof Error ? error.message : String(error)}; the rows before it are stored`);
      });
    }
    const timestamp = timestampOf(read[columns.timestamp.name] ?? [], groupStart);
    const bars: BarColumns & { timestamp: Float64Array } = { timestamp };
    for (const field of VALUE_FIELDS) {
      const column = read[columns.values[field] ?? ""];
      if (column !== undefined) bars[field] = numbers(column);
    }
    const symbols = columns.symbol === null ? null : (read[columns.symbol] as ArrayLike<unknown>);
    for (const [symbol, part] of splitBySymbol(bars, symbols, groupStart)) {
      if (part.timestamp.length === 0) continue;
      const written = await options.write(part, { first: groupStart + 1, last: groupStart + rows }, symbol);
      summary.written += written;
      summary.batches++;
      if (symbol !== null) summary.symbols[symbol] = (summary.symbols[symbol] ?? 0) + written;
    }
    if (rows > 0) {
      summary.first ??= timestamp[0]!;
      summary.last = timestamp[rows - 1]!;
    }
    groupStart += rows;
    summary.rows = groupStart;
    options.onProgress?.(groupStart, Number(metadata.num_rows));
  }
  return summary;
}

/** The columns a bar file's schema gives, and the ones it leaves out. */
function barColumns(metadata: FileMetaData): {
  timestamp: SchemaElement;
  /** The file's name of each value column it has. */
  values: Partial<Record<(typeof VALUE_FIELDS)[number], string>>;
  symbol: string | null;
  read: string[];
  ignored: string[];
} {
  const [root, ...elements] = metadata.schema;
  const leaves = elements.filter((element) => element.num_children === undefined);
  if (root === undefined || leaves.length !== elements.length) {
    throw new BarFileError("the file has nested columns; a bar file's columns are flat (timestamp, open, high, low, close, volume, amount); nothing was written");
  }
  const byName = new Map(leaves.map((element) => [element.name.toLowerCase(), element]));
  const timestamp = byName.get("timestamp");
  if (timestamp === undefined) {
    throw new BarFileError(`no timestamp column (columns: ${leaves.map((element) => element.name).join(", ")}); nothing was written`);
  }
  const read = [timestamp.name];
  const values: Partial<Record<(typeof VALUE_FIELDS)[number], string>> = {};
  for (const field of VALUE_FIELDS) {
    const element = byName.get(field);
    if (element === undefined) continue;
    if (element.type !== "DOUBLE" && element.type !== "FLOAT" && element.type !== "INT32" && element.type !== "INT64") {
      throw new BarFileError(`column ${element.name} is ${element.type}; a bar value is a number (DOUBLE, FLOAT, INT32 or INT64); nothing was written`);
    }
    read.push(element.name);
    values[field] = element.name;
  }
  const symbolElement = SYMBOL_COLUMNS.map((name) => byName.get(name)).find((element) => element !== undefined);
  if (symbolElement !== undefined) read.push(symbolElement.name);
  const ignored = leaves.map((element) => element.name).filter((name) => !read.includes(name));
  return { timestamp, values, symbol: symbolElement?.name ?? null, read, ignored };
}

/**
 * The timestamp column as epoch ms: UTC timestamps as they are; naive ones (not adjusted to UTC)
 * and DATE columns read as wall-clock times in `timeZone`; plain integers as epoch ms.
 */
function timestampReader(element: SchemaElement, timeZone: string): (column: ArrayLike<unknown>, groupStart: number) => Float64Array {
  const logical = element.logical_type;
  // Nanoseconds (and INT96) come as milliseconds already, from RAW_TIMES.
  const unitDivisor = (logical?.type === "TIMESTAMP" && logical.unit === "MICROS") || element.converted_type === "TIMESTAMP_MICROS" ? 1_000 : 1;
  const naive = (logical?.type === "TIMESTAMP" && !logical.isAdjustedToUTC) || element.type === "INT96";
  const date = element.converted_type === "DATE" || logical?.type === "DATE";
  if (element.type !== "INT64" && element.type !== "INT32" && element.type !== "INT96" && element.type !== "DOUBLE") {
    throw new BarFileError(`the timestamp column is ${element.type}; expected a TIMESTAMP, a DATE or epoch milliseconds; nothing was written`);
  }
  return (column, groupStart) => {
    const out = new Float64Array(column.length);
    for (let i = 0; i < column.length; i++) {
      const raw = column[i];
      if (raw === null || raw === undefined) throw new BarFileError(`row ${groupStart + i + 1}: the timestamp is null; the rows before it are stored`);
      const value = date ? Number(raw) * DAY_MS : Number(raw) / unitDivisor;
      out[i] = naive || date ? wallTimeToUtc(value, timeZone) : value;
    }
    return out;
  };
}

/** A value column as numbers: INT64 columns come as bigints. */
function numbers(column: ArrayLike<unknown>): ArrayLike<number | null> {
  if (column instanceof Float64Array || column instanceof Float32Array || column instanceof Int32Array) return column;
  // Without a null, a Float64Array: the store's insert takes it faster than an array (measured
  // 1.7 s to 1.1 s a million rows). Filled by index: Float64Array.from(array) walks an iterator.
  const values = new Float64Array(column.length);
  for (let i = 0; i < column.length; i++) {
    const value = column[i];
    if (typeof value === "number") values[i] = value;
    else if (typeof value === "bigint") values[i] = Number(value);
    else return Array.from(column, (item) => (item === null || item === undefined ? null : Number(item)));
  }
  return values;
}

/** The group's bars split by the symbol column's values (one part, symbol null, without one). */
function splitBySymbol(bars: BarColumns & { timestamp: Float64Array }, symbols: ArrayLike<unknown> | null, groupStart: number): [string | null, BarColumns & { timestamp: Float64Array }][] {
  if (symbols === null) return [[null, bars]];
  const rowsOf = new Map<string, number[]>();
  for (let i = 0; i < symbols.length; i++) {
    const symbol = symbols[i];
    if (typeof symbol !== "string" || symbol === "") throw new BarFileError(`row ${groupStart + i + 1}: no symbol in the symbol column; the rows before it are stored`);
    let rows = rowsOf.get(symbol);
    if (rows === undefined) rowsOf.set(symbol, (rows = []));
    rows.push(i);
  }
  if (rowsOf.size === 1) return [[rowsOf.keys().next().value!, bars]];
  return [...rowsOf].map(([symbol, rows]) => {
    const part: BarColumns & { timestamp: Float64Array } = { timestamp: Float64Array.from(rows, (row) => bars.timestamp[row]!) };
    for (const field of VALUE_FIELDS) {
      const column = bars[field];
      if (column !== undefined) part[field] = rows.map((row) => column[row] ?? null);
    }
    return [symbol, part];
  });
}

/** Times as raw numbers (ms, us, ns, days), converted by timestampReader, which knows the column. */
const RAW_TIMES = {
  timestampFromMilliseconds: (value: bigint) => Number(value),
  timestampFromMicroseconds: (value: bigint) => Number(value),
  // Nanoseconds since 1970 pass 2^53: divided as bigints, so whole milliseconds stay exact.
  timestampFromNanoseconds: (value: bigint) => (value % 1_000_000n === 0n ? Number(value / 1_000_000n) : Number(value) / 1_000_000),
  dateFromDays: (days: number) => days,
} as never;

/** Decompression with the page's declared size as a hard limit (and that size bounded). */
function bounded(decompress: (input: Uint8Array, outputLength: number) => Uint8Array): (input: Uint8Array, outputLength: number) => Uint8Array {
  return (input, outputLength) => {
    if (outputLength > MAX_PAGE_BYTES) throw new Error(`a page declares ${outputLength} bytes uncompressed (at most ${MAX_PAGE_BYTES})`);
    return decompress(input, outputLength);
  };
}

const DECOMPRESSORS: Compressors = {
  SNAPPY: bounded((input, outputLength) => {
    const output = new Uint8Array(outputLength);
    snappyUncompress(input, output);
    return output;
  }),
  GZIP: bounded((input, outputLength) => gunzipSync(input, { maxOutputLength: Math.max(outputLength, 1) })),
  ZSTD: bounded((input, outputLength) => zstdDecompressSync(input, { maxOutputLength: Math.max(outputLength, 1) })),
};

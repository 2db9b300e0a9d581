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
import { numbers, pickColumns, VALUE_FIELDS, writeGroup, type ColumnarFileOptions, type ColumnarFileSummary, type ValueField } from "./columnar-groups.ts";

export type ParquetFileOptions = ColumnarFileOptions;
export type ParquetFileSummary = ColumnarFileSummary;


const DAY_MS = 86_400_000;

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
    const bars: BarColumns & { timestamp: Float64Array } = { timestamp: timestampOf(read[columns.timestamp.name] ?? [], groupStart) };
    for (const field of VALUE_FIELDS) {
      const column = read[columns.values[field] ?? ""];
      if (column !== undefined) bars[field] = numbers(column);
    }
    await writeGroup(bars, columns.symbol === null ? null : (read[columns.symbol] ?? []), groupStart, options, summary);
    groupStart += rows;
    options.onProgress?.(groupStart, Number(metadata.num_rows));
  }
  return summary;
}

/** The columns a bar file's schema gives, and the ones it leaves out. */
function barColumns(metadata: FileMetaData): {
  timestamp: SchemaElement;
  /** The file's name of each value column it has. */
  values: Partial<Record<ValueField, string>>;
  symbol: string | null;
  read: string[];
  ignored: string[];
} {
  const [root, ...elements] = metadata.schema;
  const leaves = elements.filter((element) => element.num_children === undefined);
  if (root === undefined || leaves.length !== elements.length) {
    throw new BarFileError("the file has nested columns; a bar file's columns are flat (timestamp, open, high, low, close, volume, amount); nothing was written");
  }
  const picked = pickColumns(leaves.map((element) => element.name));
  const elementNamed = (name: string) => leaves.find((element) => element.name === name)!;
  for (const name of Object.values(picked.values)) {
    const { type } = elementNamed(name);
    if (type !== "DOUBLE" && type !== "FLOAT" && type !== "INT32" && type !== "INT64") {
      throw new BarFileError(`column ${name} is ${type}; a bar value is a number (DOUBLE, FLOAT, INT32 or INT64); nothing was written`);
    }
  }
  const read = [picked.timestamp, ...Object.values(picked.values), ...(picked.symbol === null ? [] : [picked.symbol])];
  return { ...picked, timestamp: elementNamed(picked.timestamp), read };
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

/**
 * Arrow IPC bar files into a store: the file format (Feather v2, `*.arrow`, `*.feather`, what
 * `tradelite export --format arrow` and pandas' `to_feather` write) and the stream format
 * (`*.arrows`, what `GET /v1/bars?format=arrow` answers), with the columns parquet.ts reads, a
 * record batch per write, each committed whole.
 *
 * The file is read whole (Arrow is its columns, uncompressed, and apache-arrow reads them as views
 * of these bytes: no copy), and every record batch is read once before the first write: a file
 * cut short, or one whose batches declare buffers past its end, is refused with nothing written,
 * and memory is the file's size whatever the file declares. A Feather v1 file is refused by name.
 */
import { DataType, RecordBatchReader, TimeUnit, type Field, type RecordBatch, type Vector } from "apache-arrow";
import type { BarColumns } from "../domain/bar.ts";
import { wallTimeToUtc } from "../domain/time.ts";
import { numbers, pickColumns, VALUE_FIELDS, writeGroup, type ColumnarFileOptions, type ColumnarFileSummary } from "./columnar-groups.ts";
import { BarFileError } from "./header.ts";

const DAY_MS = 86_400_000;
/** Arrow's TimeUnits in ms: seconds multiplied, micro- and nanoseconds divided (as bigints, so whole ms stay exact past 2^53). */
const UNIT_MS: Record<TimeUnit, { times: number; per: bigint }> = {
  [TimeUnit.SECOND]: { times: 1_000, per: 1n },
  [TimeUnit.MILLISECOND]: { times: 1, per: 1n },
  [TimeUnit.MICROSECOND]: { times: 1, per: 1_000n },
  [TimeUnit.NANOSECOND]: { times: 1, per: 1_000_000n },
};

/** Reads an Arrow IPC file or stream (`data`) and writes its bars a record batch at a time through `options.write`. */
export async function importArrowFile(data: Blob, options: ColumnarFileOptions): Promise<ColumnarFileSummary> {
  const bytes = new Uint8Array(await data.arrayBuffer());
  const magic = new TextDecoder().decode(bytes.subarray(0, 6));
  if (magic.startsWith("FEA1")) throw new BarFileError("a Feather v1 file: write it again as Feather v2 (pandas' to_feather, pyarrow.feather.write_feather); nothing was written");
  const stream = bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) === 0xffff_ffff;
  if (magic !== "ARROW1" && !stream) throw new BarFileError("not an Arrow IPC file or stream (no ARROW1 magic, no stream message): the file is cut short or not Arrow; nothing was written");
  // Every batch read before the first write; apache-arrow reads them as views of `bytes`.
  let batches: RecordBatch[];
  try {
    const reader = RecordBatchReader.from(bytes);
    batches = [...reader];
  } catch (error) {
    throw new BarFileError(`it cannot be read as Arrow IPC (${error instanceof Error ? error.message : String(error)}): the file is cut short or damaged; nothing was written`);
  }
  const fields = batches[0]?.schema.fields ?? [];
  const columns = pickColumns(fields.map((field) => field.name));
  const timestampField = fields.find((field) => field.name === columns.timestamp)!;
  const timestampOf = timestampReader(timestampField, options.timeZone);
  for (const name of Object.values(columns.values)) {
    const field = fields.find((candidate) => candidate.name === name)!;
    if (!DataType.isFloat(field.type) && !DataType.isInt(field.type)) {
      throw new BarFileError(`column ${name} is ${field.type}; a bar value is a number (a float or an integer); nothing was written`);
    }
  }
  const total = batches.reduce((sum, batch) => sum + batch.numRows, 0);
  const summary: ColumnarFileSummary = { rows: 0, written: 0, batches: 0, symbols: {}, ignored: columns.ignored, symbolColumn: columns.symbol, first: null, last: null };
  let batchStart = 0;
  for (const batch of batches) {
    const bars: BarColumns & { timestamp: Float64Array } = { timestamp: timestampOf(batch.getChild(columns.timestamp)!, batchStart) };
    for (const field of VALUE_FIELDS) {
      const name = columns.values[field];
      if (name !== undefined) bars[field] = numbers(valuesOf(batch.getChild(name)!));
    }
    const symbols = columns.symbol === null ? null : valuesOf(batch.getChild(columns.symbol)!);
    await writeGroup(bars, symbols, batchStart, options, summary);
    batchStart += batch.numRows;
    options.onProgress?.(batchStart, total);
  }
  return summary;
}

/** A column's values with its nulls as null (a plain typed array when it has none). */
function valuesOf(vector: Vector): ArrayLike<unknown> {
  if (vector.nullCount === 0 && !DataType.isUtf8(vector.type)) return vector.toArray() as ArrayLike<unknown>;
  return Array.from({ length: vector.length }, (_, i) => vector.get(i));
}

/**
 * The timestamp column as epoch ms: Timestamp with a zone as it is, without one (naive, as pandas
 * writes a naive datetime64) and Date columns read as wall-clock times in `timeZone`; integers
 * and floats as epoch ms.
 */
function timestampReader(field: Field, timeZone: string): (vector: Vector, batchStart: number) => Float64Array {
  const type = field.type;
  const isTimestamp = DataType.isTimestamp(type);
  const isDate = DataType.isDate(type);
  if (!isTimestamp && !isDate && !DataType.isInt(type) && !DataType.isFloat(type)) {
    throw new BarFileError(`the timestamp column is ${type}; expected a Timestamp, a Date or epoch milliseconds; nothing was written`);
  }
  const naive = (isTimestamp && !type.timezone) || isDate;
  // DateDay counts days, DateMillisecond ms; Timestamp its unit; numbers are epoch ms.
  const unit = isTimestamp ? UNIT_MS[type.unit as TimeUnit] : { times: isDate && type.unit === 0 ? DAY_MS : 1, per: 1n };
  return (vector, batchStart) => {
    const raw = vector.toArray() as ArrayLike<number | bigint>;
    const out = new Float64Array(vector.length);
    for (let i = 0; i < vector.length; i++) {
      if (!vector.isValid(i)) throw new BarFileError(`row ${batchStart + i + 1}: the timestamp is null; the rows before it are stored`);
      const value = raw[i]!;
      const ms = typeof value !== "bigint" || unit.per === 1n ? Number(value) * unit.times : value % unit.per === 0n ? Number(value / unit.per) : Number(value) / Number(unit.per);
      out[i] = naive ? wallTimeToUtc(ms, timeZone) : ms;
    }
    return out;
  };
}

/**
 * Bars as columnar files, written as they come, for tools that read columns (DuckDB, pandas,
 * polars): Parquet, and Arrow IPC (the file format, which is Feather v2, or the stream format).
 *
 * The schema is the bar's own: `timestamp` a UTC timestamp in milliseconds (Parquet INT64
 * TIMESTAMP(MILLIS, UTC), Arrow Timestamp(ms, "UTC"), never null), and open, high, low, close,
 * volume and amount as nullable float64. Volume is float64 and not int64 because vendors' volumes
 * are not always whole shares (TDX files carry fractional and even denormal volumes such as
 * 5.877e-39), and float64 keeps every stored value exact.
 *
 * Parquet is written one row group per ROW_GROUP_ROWS bars, each handed out as soon as it is full,
 * with the footer at the end: memory stays at one row group however long the export.
 * Libraries, measured on 1,000,000 synthetic minute bars (Bun 1.4.5, this 2-core VM, 2026-12-05):
 *   hyparquet-writer 0.17, ZSTD via Bun.zstdCompressSync:      1.07M rows/s,  8.6 MB (1.6M without
 *                                                                 value statistics, as written here)
 *   hyparquet-writer, its built-in (pure JS) SNAPPY:          0.41M rows/s, 10.4 MB
 *   parquet-wasm 0.8 from an apache-arrow table, SNAPPY:      1.34M rows/s, 12.4 MB (ZSTD 0.73M, 8.1 MB)
 * (encoding alone; `tradelite export` end to end, SQLite reads included: CSV 0.40-0.70M rows/s
 * and 55-64 MB, Parquet 1.1-1.3x that at a quarter of the bytes: `bun run bench`, case 16)
 * parquet-wasm is as fast but writes a whole table at once (no row group handed out as it is
 * done), installs 15 MB of wasm and needs apache-arrow to build its input; hyparquet-writer is
 * 1 MB of plain JS with a writer that streams row groups, and ZSTD from Bun's own zstd makes it
 * both the fastest of the streaming choices and the smallest file. Every mainstream reader
 * (DuckDB, pyarrow, polars, fastparquet) reads ZSTD.
 * Arrow IPC is written with apache-arrow (the project's own JS implementation; 8.5 MB): 1M rows
 * encode in ~40 ms, the file is the raw columns (56 MB), so it is a transfer format, not a store.
 */
import {
  AsyncByteQueue, Float64, makeData, RecordBatch, RecordBatchFileWriter, RecordBatchStreamWriter, Schema, Field, Struct, TimestampMillisecond,
  type Data,
} from "apache-arrow";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import type { Bar } from "./bar.ts";

export const COLUMNAR_FORMATS = ["parquet", "arrow", "arrow-stream"] as const;
/** parquet; arrow: the IPC file format (Feather v2); arrow-stream: the IPC stream format. */
export type ColumnarFormat = (typeof COLUMNAR_FORMATS)[number];

/** Bars per Parquet row group and Arrow record batch: ~0.5 MB of compressed Parquet, ~3.5 MB in memory. */
export const ROW_GROUP_ROWS = 65_536;

const VALUE_FIELDS = ["open", "high", "low", "close", "volume", "amount"] as const;

/** Encodes bars as they are added; hands out the bytes of each finished row group, then the rest. */
export interface ColumnarBarWriter {
  /** Adds a bar; returns the bytes of a finished row group (or record batch) when one is full, else null. */
  add(bar: Bar): Uint8Array | null;
  /** The last group and the footer (for Parquet, the whole file when no group was handed out yet). */
  finish(): Uint8Array;
}

/** A writer of `format`. */
export function columnarBarWriter(format: ColumnarFormat): ColumnarBarWriter {
  const encode = format === "parquet" ? parquetEncoder() : arrowEncoder(format === "arrow");
  let rows = 0;
  let timestamp = new Float64Array(ROW_GROUP_ROWS);
  let values = VALUE_FIELDS.map(() => new Float64Array(ROW_GROUP_ROWS));
  // Which rows of each value column are null (NaN stands for it in the arrays).
  let nulls = 0;
  const group = (): BarGroup => ({ rows, timestamp: timestamp.subarray(0, rows), values: values.map((column) => column.subarray(0, rows)), nulls });
  return {
    add(bar) {
      timestamp[rows] = bar.timestamp;
      for (let k = 0; k < VALUE_FIELDS.length; k++) {
        const value = bar[VALUE_FIELDS[k]!];
        if (value === null) nulls++;
        values[k]![rows] = value ?? NaN;
      }
      if (++rows < ROW_GROUP_ROWS) return null;
      const bytes = encode.group(group());
      rows = 0;
      nulls = 0;
      // Fresh arrays: the encoders may keep views of the last ones until they are flushed.
      timestamp = new Float64Array(ROW_GROUP_ROWS);
      values = VALUE_FIELDS.map(() => new Float64Array(ROW_GROUP_ROWS));
      return bytes;
    },
    finish() {
      const last = rows > 0 ? encode.group(group()) : new Uint8Array(0);
      return Buffer.concat([last, encode.finish()]);
    },
  };
}

/** One group of bars as columns; NaN in a value column is a null when `nulls` > 0. */
interface BarGroup {
  rows: number;
  timestamp: Float64Array;
  values: Float64Array[];
  nulls: number;
}

interface GroupEncoder {
  group(bars: BarGroup): Uint8Array;
  finish(): Uint8Array;
}

const PARQUET_SCHEMA = [
  { name: "schema", num_children: 1 + VALUE_FIELDS.length },
  {
    name: "timestamp", type: "INT64", repetition_type: "REQUIRED", converted_type: "TIMESTAMP_MILLIS",
    logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
  },
  ...VALUE_FIELDS.map((name) => ({ name, type: "DOUBLE", repetition_type: "OPTIONAL" })),
] as const;

/** Bun's native zstd at level 1: the measurement above (level 3 was 10% slower for 3% fewer bytes). */
const zstd = (bytes: Uint8Array): Uint8Array => Bun.zstdCompressSync(bytes, { level: 1 });

function parquetEncoder(): GroupEncoder {
  const out = new ByteWriter();
  const parquet = new ParquetWriter({
    writer: out, schema: PARQUET_SCHEMA as never, codec: "ZSTD", compressors: { ZSTD: zstd }, createdBy: "tradelite",
  });
  // Everything written since the last take: the bytes out.index counts (out.offset goes on
  // counting the whole file, which the footer's offsets need).
  const take = (): Uint8Array => {
    const bytes = new Uint8Array(out.buffer.slice(0, out.index));
    out.index = 0;
    return bytes;
  };
  return {
    group({ rows, timestamp, values, nulls }) {
      const stamps = new Array<bigint>(rows);
      for (let i = 0; i < rows; i++) stamps[i] = BigInt(timestamp[i]!);
      const columnData = [
        { name: "timestamp", data: stamps },
        // Min/max statistics on the timestamp only, where readers prune by range with them: on
        // the six value columns they cost a third of the encoding time (measured: 0.83 s to 0.63 s).
        ...VALUE_FIELDS.map((name, k) => ({ name, data: nulls > 0 ? withNulls(values[k]!) : Array.from(values[k]!), statistics: false })),
      ];
      void parquet.write({ columnData, rowGroupSize: rows });
      return take();
    },
    finish() {
      parquet.finish();
      return take();
    },
  };
}

/** A column with its NaNs as nulls (a stored value is never NaN: NaN is how a null travels here). */
function withNulls(column: Float64Array): (number | null)[] {
  return Array.from(column, (value) => (value !== value ? null : value));
}

const ARROW_FIELDS = [
  new Field("timestamp", new TimestampMillisecond("UTC"), false),
  ...VALUE_FIELDS.map((name) => new Field(name, new Float64(), true)),
];
const ARROW_SCHEMA = new Schema(ARROW_FIELDS);

/** The writer's sink, drained after each batch so that bytes go out as they are made. */
class DrainedQueue extends AsyncByteQueue {
  drain(): Uint8Array {
    const chunks = this._values.splice(0) as Uint8Array[];
    return Buffer.concat(chunks);
  }
}

function arrowEncoder(file: boolean): GroupEncoder {
  const sink = new DrainedQueue();
  const writer = file ? new RecordBatchFileWriter({ autoDestroy: false }) : new RecordBatchStreamWriter({ autoDestroy: false });
  writer.reset(sink, ARROW_SCHEMA);
  let wrote = false;
  const group = ({ rows, timestamp, values }: BarGroup): Uint8Array => {
    const stamps = new BigInt64Array(rows);
    for (let i = 0; i < rows; i++) stamps[i] = BigInt(timestamp[i]!);
    const children: Data[] = [
      makeData({ type: ARROW_FIELDS[0]!.type as TimestampMillisecond, length: rows, nullCount: 0, data: stamps }),
      ...values.map((column) => float64Data(column.slice())),
    ];
    writer.write(new RecordBatch(ARROW_SCHEMA, makeData({ type: new Struct(ARROW_FIELDS), length: rows, nullCount: 0, children })));
    wrote = true;
    return sink.drain();
  };
  return {
    group,
    finish() {
      // A file without a bar still carries the schema and one empty batch, so a reader sees the columns.
      const head = wrote ? new Uint8Array(0) : group({ rows: 0, timestamp: new Float64Array(0), values: VALUE_FIELDS.map(() => new Float64Array(0)), nulls: 0 });
      writer.finish();
      return Buffer.concat([head, sink.drain()]);
    },
  };
}

/** A float64 column with a validity bitmap for its NaNs (nulls). */
function float64Data(column: Float64Array): Data<Float64> {
  let nullCount = 0;
  const valid = new Uint8Array(Math.ceil(column.length / 8));
  for (let i = 0; i < column.length; i++) {
    if (column[i] !== column[i]) {
      nullCount++;
      column[i] = 0;
    } else valid[i >> 3]! |= 1 << (i & 7);
  }
  return makeData({ type: new Float64(), length: column.length, nullCount, nullBitmap: nullCount > 0 ? valid : null, data: column });
}

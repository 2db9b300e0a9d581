/**
 * Time-series batches: rows keyed by timestamp with numeric fields, given as an array of objects
 * or as equal-length columns, validated into Float64Array columns. Bars and quotes are both
 * this shape; each supplies its field list and its own rules.
 */
import { ValidationError, type Issue } from "./errors.ts";
import { allowsSecondsLike, assertTimeZone, isSecondsLike, MAX_TIMESTAMP, MIN_TIMESTAMP, TimestampError, toEpochMs, zoneOf, type TimeReading } from "./time.ts";

/**
 * A validated batch. Missing values are NaN here (NaN is never accepted as input, so it can
 * stand for NULL); `order` lists the rows to write in ascending timestamp order, keeping only
 * the last row for each timestamp, or is null when the rows are already strictly ascending.
 */
export type Batch<F extends string> = {
  readonly length: number;
  readonly timestamp: Float64Array;
  readonly order: Uint32Array | null;
} & { readonly [K in F]: Float64Array };

export interface BatchSpec<F extends string> {
  /** What one row is called in messages ("bar", "quote"). */
  readonly noun: string;
  readonly fields: readonly F[];
  /** Adds an issue for every row that breaks a rule of this record type. */
  readonly check: (batch: Batch<F>, issues: Issue[]) => void;
}

/** How many rows a batch will write: one per distinct timestamp. */
export function batchSize(batch: { length: number; order: Uint32Array | null }): number {
  return batch.order ? batch.order.length : batch.length;
}

/** The row index to write at position `position` of a batch. */
export function rowAt(batch: { order: Uint32Array | null }, position: number): number {
  return batch.order ? batch.order[position]! : position;
}

/**
 * Validates rows or columns against `spec`. Every problem of every row is collected before
 * throwing, so one ValidationError tells the caller all that is wrong; nothing is coerced,
 * clamped or dropped, and nothing has been written.
 */
export function validateBatch<F extends string>(
  spec: BatchSpec<F>,
  input: unknown,
  reading: TimeReading,
): Batch<F> {
  assertTimeZone(zoneOf(reading));
  const timeZone: Reading = { reading, secondsLike: allowsSecondsLike(reading) };
  const issues: Issue[] = [];
  const columns = Array.isArray(input)
    ? fromRows(spec, input, timeZone, issues)
    : fromColumns(spec, input, timeZone, issues);
  if (columns === undefined) throw new ValidationError(issues);
  // Rules run even after type errors (a bad value is NaN, which every rule skips), so one
  // error lists every problem of every row.
  spec.check(columns, issues);
  if (issues.length > 0) throw new ValidationError(issues);
  return { ...columns, order: writeOrder(columns.timestamp) };
}

function allocate<F extends string>(fields: readonly F[], length: number): Batch<F> {
  const batch: Record<string, unknown> = { length, timestamp: new Float64Array(length), order: null };
  for (const field of fields) batch[field] = new Float64Array(length);
  return batch as Batch<F>;
}

function fromRows<F extends string>(
  spec: BatchSpec<F>,
  rows: readonly unknown[],
  timeZone: Reading,
  issues: Issue[],
): Batch<F> {
  const { fields } = spec;
  const out = allocate(fields, rows.length);
  const columns = fields.map((field) => out[field] as Float64Array);
  const allowed = new Set<string>(["timestamp", ...fields]);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      issues.push({ row: i, message: `expected a ${spec.noun} object with timestamp, ${fields.join(", ")}` });
      // Mark every cell missing so the record rules add nothing about values this row never had.
      out.timestamp[i] = NaN;
      for (const column of columns) column[i] = NaN;
      continue;
    }
    const record = row as Record<string, unknown>;
    // Unknown keys are refused so that a typo ("vol" for "volume") is an error, not a NULL.
    for (const key in record) {
      if (!allowed.has(key)) issues.push({ row: i, field: key, message: "unknown field" });
    }
    out.timestamp[i] = readTimestamp(record.timestamp, timeZone, i, issues);
    for (let f = 0; f < fields.length; f++) {
      const field = fields[f]!;
      columns[f]![i] = readNumber(record[field], i, field, issues);
    }
  }
  return out;
}

function fromColumns<F extends string>(
  spec: BatchSpec<F>,
  input: unknown,
  timeZone: Reading,
  issues: Issue[],
): Batch<F> | undefined {
  if (typeof input !== "object" || input === null) {
    issues.push({ message: `expected an array of ${spec.noun}s or an object of columns` });
    return undefined;
  }
  const columns = input as Record<string, unknown>;
  const allowed = new Set<string>(["timestamp", ...spec.fields]);
  for (const key of Object.keys(columns)) {
    if (!allowed.has(key)) issues.push({ field: key, message: "unknown column" });
  }
  const timestamps = columns.timestamp;
  if (!isArrayLike(timestamps)) {
    issues.push({ field: "timestamp", message: "the timestamp column is required: an array or typed array" });
    return undefined;
  }
  const length = timestamps.length;
  for (const field of spec.fields) {
    const column = columns[field];
    if (column === undefined) continue;
    if (!isArrayLike(column) || column instanceof BigInt64Array || column instanceof BigUint64Array) {
      issues.push({ field, message: "expected an array or a (non-bigint) typed array" });
    } else if (column.length !== length) {
      issues.push({ field, message: `column has ${column.length} values, timestamp has ${length}` });
    }
  }
  if (issues.length > 0) return undefined;
  const out = allocate(spec.fields, length);
  for (let i = 0; i < length; i++) {
    let value: unknown = timestamps[i];
    if (typeof value === "bigint") {
      const ms = Number(value);
      if (BigInt(ms) !== value) {
        issues.push({ row: i, field: "timestamp", message: `out of range: ${value}` });
        continue;
      }
      value = ms;
    }
    out.timestamp[i] = readTimestamp(value, timeZone, i, issues);
  }
  for (const field of spec.fields) {
    const column = columns[field] as ArrayLike<unknown> | undefined;
    const target = out[field] as Float64Array;
    if (column === undefined) target.fill(NaN);
    else for (let i = 0; i < length; i++) target[i] = readNumber(column[i], i, field, issues);
  }
  return out;
}

function isArrayLike(value: unknown): value is ArrayLike<unknown> {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

/** A batch's time reading, with the seconds-like opt-in read once rather than per row. */
interface Reading {
  reading: TimeReading;
  secondsLike: boolean;
}

function readTimestamp(value: unknown, { reading, secondsLike }: Reading, row: number, issues: Issue[]): number {
  // Fast path for the common case: whole epoch milliseconds in range.
  if (typeof value === "number" && Number.isInteger(value) && value >= MIN_TIMESTAMP && value <= MAX_TIMESTAMP && (secondsLike || !isSecondsLike(value))) {
    return value;
  }
  if (value === undefined || value === null) {
    issues.push({ row, field: "timestamp", message: "required" });
    return NaN;
  }
  try {
    return toEpochMs(value, reading);
  } catch (error) {
    if (!(error instanceof TimestampError)) throw error;
    issues.push({ row, field: "timestamp", message: error.reason });
    return NaN;
  }
}

/** Null and undefined mean "no value" (stored as NULL); anything else must be a finite number. */
function readNumber(value: unknown, row: number, field: string, issues: Issue[]): number {
  if (typeof value === "number") {
    if (Number.isFinite(value)) return value;
    issues.push({ row, field, message: `must be a finite number, got ${value}` });
    return NaN;
  }
  if (value === null || value === undefined) return NaN;
  issues.push({ row, field, message: `must be a number or null, got ${typeof value}` });
  return NaN;
}

/** Adds an issue when a present value is not above (`> 0`) or not at least (`>= 0`) zero. */
export function checkPositive(values: Float64Array, field: string, issues: Issue[]): void {
  for (let i = 0; i < values.length; i++) {
    if (values[i]! <= 0) issues.push({ row: i, field, message: `must be > 0, got ${values[i]}` });
  }
}

export function checkNonNegative(values: Float64Array, field: string, issues: Issue[]): void {
  for (let i = 0; i < values.length; i++) {
    if (values[i]! < 0) issues.push({ row: i, field, message: `must be >= 0, got ${values[i]}` });
  }
}

/**
 * Rows to write so that each timestamp is written once, the later row winning, in ascending
 * order (B-tree friendly). Null when the input is already strictly ascending: the common case
 * costs one pass and no allocation.
 */
export function writeOrder(timestamps: Float64Array): Uint32Array | null {
  let ascending = true;
  for (let i = 1; i < timestamps.length; i++) {
    if (!(timestamps[i]! > timestamps[i - 1]!)) {
      ascending = false;
      break;
    }
  }
  if (ascending) return null;
  const lastIndex = new Map<number, number>();
  for (let i = 0; i < timestamps.length; i++) lastIndex.set(timestamps[i]!, i);
  const order = Uint32Array.from(lastIndex.values());
  return order.sort((a, b) => timestamps[a]! - timestamps[b]!);
}

/** The first and last timestamp of a batch, for the audit log: ranges, not data. */
export function timeSpan(timestamps: Float64Array): { start: number; end: number } {
  let start = Infinity;
  let end = -Infinity;
  for (const timestamp of timestamps) {
    if (timestamp < start) start = timestamp;
    if (timestamp > end) end = timestamp;
  }
  return { start, end };
}

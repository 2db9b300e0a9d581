/**
 * What crosses between the caller's thread and a store worker: requests, answers, errors, and
 * bars or quotes packed as one Float64Array (transferred, not cloned row by row).
 */
import type { Bar } from "../domain/bar.ts";
import { ConflictError, NotFoundError, StorageError, TradeliteError, ValidationError, type Issue, type StorageErrorCode } from "../domain/errors.ts";
import type { Quote } from "../domain/quote.ts";
import type { WorkerThread } from "./priority.ts";

export type Role = "writer" | "reader";

export interface InitMessage {
  type: "init";
  role: Role;
  options: Record<string, unknown>;
  /** One flag per dispatch slot (src/worker/pool.ts), SLOT_POSTED, SLOT_STOP or SLOT_STARTED. */
  flags: Int32Array;
  /** How far to raise the worker thread's nice value (src/worker/priority.ts). */
  niceness: number;
}

/**
 * A dispatch slot's flag (InitMessage.flags): POSTED when a request is posted with it; the worker
 * moves it to STARTED (compareExchange) before it runs the request, or finds STOP and skips it;
 * this side sets STOP to cancel or shed it: at once when it was still POSTED, at the worker's
 * next step when it had STARTED.
 */
export const SLOT_POSTED = 0;
export const SLOT_STOP = 1;
export const SLOT_STARTED = 2;

export interface Request {
  id: number;
  op: string;
  args: unknown[];
  /** Its flag in InitMessage.flags. */
  slot?: number;
}

export interface SerializedError {
  name: string;
  code?: string;
  message: string;
  issues?: Issue[];
}

export type Answer =
  | { id: number; ok: true; value: unknown; packed?: "bars" | "quotes" }
  | { id: number; ok: false; error: SerializedError };

/** `thread`: the worker's thread id and nice value once it lowered itself; null where threads have none. */
export type HostEvent = { type: "ready"; thread: WorkerThread | null } | { type: "fatal"; error: SerializedError };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof TradeliteError) {
    return {
      name: error.name,
      code: error.code,
      message: error.message,
      ...(error instanceof ValidationError ? { issues: error.issues } : {}),
    };
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: "Error", message: String(error) };
}

/** The error as the caller would have seen it from the in-thread store (same class and code). */
export function deserializeError(error: SerializedError): Error {
  switch (error.name) {
    case "ValidationError":
    case "TimestampError":
      return new ValidationError(error.issues ?? [], error.message);
    case "NotFoundError":
      return new NotFoundError(error.message);
    case "ConflictError":
      return new ConflictError(error.message);
    case "StorageError":
      // The code of the StorageError the worker threw, carried across as a string.
      return new StorageError((error.code as StorageErrorCode | undefined) ?? "STORAGE", error.message);
    case "TypeError":
      return new TypeError(error.message);
    case "RangeError":
      return new RangeError(error.message);
    default: {
      const revived = new Error(error.message);
      revived.name = error.name;
      return revived;
    }
  }
}

const BAR_FIELDS = ["timestamp", "open", "high", "low", "close", "volume", "amount"] as const;
const QUOTE_FIELDS = ["timestamp", "bid", "bid_size", "ask", "ask_size", "last", "volume"] as const;

/** Rows packed field-major into one Float64Array; NULL is NaN (the store never holds NaN). */
function pack<T extends Record<string, number | null>>(rows: readonly T[], fields: readonly string[]): Float64Array {
  const n = rows.length;
  const packed = new Float64Array(n * fields.length);
  for (let f = 0; f < fields.length; f++) {
    const field = fields[f]!;
    const base = f * n;
    for (let i = 0; i < n; i++) {
      const value = rows[i]![field];
      packed[base + i] = value === null || value === undefined ? Number.NaN : value;
    }
  }
  return packed;
}

function unpack<T>(packed: Float64Array, fields: readonly string[]): T[] {
  const n = packed.length / fields.length;
  const rows = new Array<T>(n);
  const [timestamp, a, b, c, d, e, g] = fields.map((_, f) => packed.subarray(f * n, (f + 1) * n)) as Float64Array[];
  const nullable = (value: number) => (value === value ? value : null);
  for (let i = 0; i < n; i++) {
    rows[i] = {
      [fields[0]!]: timestamp![i]!,
      [fields[1]!]: nullable(a![i]!),
      [fields[2]!]: nullable(b![i]!),
      [fields[3]!]: nullable(c![i]!),
      [fields[4]!]: nullable(d![i]!),
      [fields[5]!]: nullable(e![i]!),
      [fields[6]!]: nullable(g![i]!),
    } as T;
  }
  return rows;
}

export const packBars = (bars: readonly Bar[]) => pack(bars as unknown as Record<string, number | null>[], BAR_FIELDS);
export const packQuotes = (quotes: readonly Quote[]) => pack(quotes as unknown as Record<string, number | null>[], QUOTE_FIELDS);

/** Bars in the store's shape, with keys in schema order (so they equal the in-thread store's). */
export function unpackBars(packed: Float64Array): Bar[] {
  const n = packed.length / 7;
  const bars = new Array<Bar>(n);
  const nullable = (value: number) => (value === value ? value : null);
  for (let i = 0; i < n; i++) {
    bars[i] = {
      timestamp: packed[i]!,
      open: nullable(packed[n + i]!),
      high: nullable(packed[2 * n + i]!),
      low: nullable(packed[3 * n + i]!),
      close: nullable(packed[4 * n + i]!),
      volume: nullable(packed[5 * n + i]!),
      amount: nullable(packed[6 * n + i]!),
    };
  }
  return bars;
}

export const unpackQuotes = (packed: Float64Array) => unpack<Quote>(packed, QUOTE_FIELDS);

/**
 * The worker side of the sqlite-worker backend: one Database (one connection) per worker, opened
 * from the init message, answering requests one at a time in arrival order. bun:sqlite is
 * synchronous, so each request runs to completion here, off the caller's event loop.
 */
import type { Bar } from "../domain/bar.ts";
import { barTextChunk, type BarTextFormat } from "../domain/bar-text.ts";
import { StorageError, ValidationError } from "../domain/errors.ts";
import { Database } from "../sqlite/database.ts";
import { packBars, packQuotes, serializeError, SLOT_POSTED, SLOT_STARTED, SLOT_STOP, type Answer, type HostEvent, type InitMessage, type Request } from "./protocol.ts";
import { lowerThisThread } from "./priority.ts";

declare const self: Worker;

/** Iterations one worker keeps open at most (each holds only its position, not rows). */
const MAX_OPEN_ITERATIONS = 1_024;

/** Rows per page of an iteration, as the in-thread store pages. */
export const ITERATE_PAGE_ROWS = 8_192;

let db: Database | null = null;
let cancelFlags: Int32Array<SharedArrayBuffer> | null = null;
/** The flag of the request running now; -1 between requests. */
let currentSlot = -1;

/**
 * The running request's cancellation, as reads take it (an AbortSignal's `aborted`): a read here
 * runs synchronously, so it cannot hear an abort event; it reads its request's shared flag at
 * every page and resampling step instead. An iteration keeps this one object across its
 * pages, and each page reads the flag of the request that asked for it.
 */
const currentSignal = {
  get aborted() {
    return currentSlot >= 0 && cancelFlags !== null && Number(Atomics.load(cancelFlags, currentSlot)) === SLOT_STOP;
  },
} as unknown as AbortSignal;

/** A bar query with the running request's cancellation (a query cannot be posted with its signal). */
const cancellable = <Q extends object>(query: Q | undefined): Q => ({ ...query, signal: currentSignal }) as Q;
const iterators = new Map<number, Iterator<Bar>>();
const encoder = new TextEncoder();
/** Uploads sent in parts (a large insert is posted in slices so the caller's loop keeps turning). */
const staged = new Map<number, unknown[]>();

type Handler = (db: Database, args: any[]) => unknown;

/** Joins the parts of a staged upload back into the one input the caller gave. */
function assemble(parts: unknown[]): unknown {
  if (parts.length === 1) return parts[0];
  if (Array.isArray(parts[0])) {
    const rows: unknown[] = [];
    for (const part of parts as unknown[][]) for (let i = 0; i < part.length; i++) rows.push(part[i]);
    return rows;
  }
  const joined: Record<string, unknown> = {};
  for (const key of Object.keys(parts[0] as object)) {
    const pieces = parts.map((part) => (part as Record<string, ArrayLike<unknown>>)[key]!);
    if (ArrayBuffer.isView(pieces[0])) {
      const Typed = (pieces[0] as unknown as { constructor: new (length: number) => { set(a: ArrayLike<unknown>, o: number): void } }).constructor;
      const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
      const out = new Typed(total);
      let offset = 0;
      for (let p = 0; p < pieces.length; p++) {
        out.set(pieces[p]!, offset);
        offset += pieces[p]!.length;
        // Let the part go as soon as it is copied: the peak is one column, not every part twice.
        (parts[p] as Record<string, unknown>)[key] = undefined;
      }
      joined[key] = out;
    } else {
      joined[key] = pieces.flatMap((piece) => Array.from(piece));
    }
  }
  return joined;
}

function take(upload: unknown): unknown {
  if (typeof upload !== "object" || upload === null) return upload;
  if ("packedColumns" in upload) return unpackColumns(upload.packedColumns as Record<string, Float64Array>);
  if (!("staged" in upload)) return upload;
  const { staged: id, parts: expected } = upload as { staged: number; parts: number };
  const parts = staged.get(id) ?? [];
  staged.delete(id);
  if (parts.length !== expected) {
    // A worker that replaced one mid-upload holds only the later slices: never write a part.
    throw new StorageError("UPLOAD_INCOMPLETE", `this worker holds ${parts.length} of the upload's ${expected} slices; nothing was written`);
  }
  const joined = assemble(parts.map((part) => (typeof part === "object" && part !== null && "packedColumns" in part ? part.packedColumns : part)));
  return parts.length > 0 && typeof parts[0] === "object" && parts[0] !== null && "packedColumns" in parts[0]
    ? unpackColumns(joined as Record<string, Float64Array>)
    : joined;
}

/**
 * Columns the caller packed from plain numeric objects, NaN standing for NULL (it checked that
 * no value was NaN): a column with NULLs becomes an array with null, the form the store takes.
 */
function unpackColumns(columns: Record<string, Float64Array>): Record<string, ArrayLike<number | null>> {
  const out: Record<string, ArrayLike<number | null>> = {};
  for (const [key, column] of Object.entries(columns)) {
    let hasNull = false;
    for (let i = 0; i < column.length; i++) {
      if (column[i] !== column[i]) {
        hasNull = true;
        break;
      }
    }
    out[key] = hasNull ? Array.from(column, (value) => (value === value ? value : null)) : column;
  }
  return out;
}

const BAR_FIELDS = ["timestamp", "open", "high", "low", "close", "volume", "amount"];
const QUOTE_FIELDS = ["timestamp", "bid", "bid_size", "ask", "ask_size", "last", "volume"];

function isPacked(upload: unknown): boolean {
  if (typeof upload !== "object" || upload === null) return false;
  if ("packedColumns" in upload) return true;
  if (!("staged" in upload)) return false;
  const parts = staged.get((upload as { staged: number }).staged);
  return parts !== undefined && parts.length > 0 && typeof parts[0] === "object" && parts[0] !== null && "packedColumns" in (parts[0] as object);
}

/**
 * Inserts what the caller gave. Rows the caller packed into columns are validated as columns,
 * whose issues come in another order than a row array's: when they are refused, the same rows
 * are validated again as the objects they were, so the error is the in-thread store's.
 */
function asGiven(upload: unknown, fields: readonly string[], insert: (input: unknown) => number): number {
  const packed = isPacked(upload);
  const input = take(upload);
  try {
    return insert(input);
  } catch (error) {
    if (!packed || !(error instanceof ValidationError)) throw error;
    const columns = input as Record<string, ArrayLike<number | null>>;
    const length = columns.timestamp!.length;
    const rows = new Array<Record<string, number | null>>(length);
    for (let i = 0; i < length; i++) {
      const row: Record<string, number | null> = {};
      for (const field of fields) {
        const value = columns[field]?.[i];
        if (value !== null && value !== undefined) row[field] = value;
      }
      rows[i] = row;
    }
    return insert(rows);
  }
}

const HANDLERS: Record<string, Handler> = {
  stage: (_db, [id, part]) => {
    const parts = staged.get(id) ?? [];
    parts.push(part);
    staged.set(id, parts);
    return null;
  },
  unstage: (_db, [id]) => staged.delete(id),
  insertBars: (db, [symbol, bars, options]) => asGiven(bars, BAR_FIELDS, (input) => db.insertBars(symbol, input as never, options)),
  getBars: (db, [symbol, query]) => db.getBars(symbol, cancellable(query)),
  latestBar: (db, [symbol]) => db.latestBar(symbol),
  "changes.state": (db) => db.changeLog.state(),
  "changes.rows": (db, [after, limit]) => db.changeLog.rows(after, limit),
  "changes.bars": (db, [rangesJson, limit]) => db.changeLog.bars(rangesJson, limit),
  deleteBars: (db, [symbol, range, options]) => db.deleteBars(symbol, range, options),
  getCrossSection: (db, [query]) => db.getCrossSection(cancellable(query)),
  overview: (db, [options]) => db.overview(options),
  buildDerivedDays: (db) => db.buildDerivedDays(),
  completeness: (db, [symbol, query]) => db.completeness(symbol, query),
  "calendars.list": (db) => db.calendars.list(),
  "calendars.get": (db, [name]) => db.calendars.get(name),
  "calendars.put": (db, [data]) => db.calendars.put(data),
  "calendars.replaceYear": (db, [name, year, days]) => db.calendars.replaceYear(name, year, days),
  "calendars.of": (db, [symbol]) => db.calendars.of(symbol),
  "calendars.assign": (db, [symbol, name]) => db.calendars.assign(symbol, name),
  "adjustments.insert": (db, [symbol, rows]) => db.adjustments.insert(symbol, rows),
  "adjustments.list": (db, [symbol, options]) => db.adjustments.list(symbol, options),
  "adjustments.insertActions": (db, [symbol, actions, options]) => db.adjustments.insertActions(symbol, actions, options),
  "adjustments.listActions": (db, [symbol]) => db.adjustments.listActions(symbol),
  "instruments.put": (db, [rows]) => db.instruments.put(rows),
  "instruments.get": (db, [symbol]) => db.instruments.get(symbol),
  "instruments.has": (db, [symbol]) => db.instruments.has(symbol),
  "instruments.list": (db, [query]) => db.instruments.list(query),
  "instruments.setStatus": (db, [symbol, rows]) => db.instruments.setStatus(symbol, rows),
  "instruments.statusHistory": (db, [symbol]) => db.instruments.statusHistory(symbol),
  insertQuotes: (db, [symbol, quotes]) => asGiven(quotes, QUOTE_FIELDS, (input) => db.insertQuotes(symbol, input as never)),
  getQuotes: (db, [symbol, query]) => db.getQuotes(symbol, query),
  iterOpen: (db, [id, symbol, query]) => {
    iterators.set(id, db.iterateBars(symbol, cancellable(query)));
    // An iteration the caller dropped without finishing is never closed by it: past the cap, the
    // oldest open one is ended (its next page answers ITERATION_EXPIRED).
    if (iterators.size > MAX_OPEN_ITERATIONS) {
      const [oldest, iterator] = iterators.entries().next().value as [number, Iterator<Bar>];
      iterator.return?.(undefined);
      iterators.delete(oldest);
    }
    return null;
  },
  iterNext: (_db, [id]) => {
    const iterator = iterators.get(id);
    if (!iterator) throw new StorageError("ITERATION_EXPIRED", "this iteration was ended by the worker (too many were left open) or never opened");
    const page: Bar[] = [];
    for (;;) {
      const next = iterator.next();
      if (next.done) {
        iterators.delete(id);
        return { page, done: true };
      }
      page.push(next.value);
      if (page.length === ITERATE_PAGE_ROWS) return { page, done: false };
    }
  },
  // An answer's bytes, made here so that the server's thread only writes them (src/domain/bar-text.ts).
  getBarsText: (db, [symbol, query, wholeRows]) => {
    const bars = db.getBars(symbol, cancellable(query));
    return bars.length > wholeRows ? null : encoder.encode(JSON.stringify(bars));
  },
  iterNextText: (db, [id, format]) => {
    const { page, done } = HANDLERS.iterNext!(db, [id]) as { page: Bar[]; done: boolean };
    return { bytes: encoder.encode(barTextChunk(page, format as BarTextFormat)), done };
  },
  iterClose: (_db, [id]) => {
    iterators.get(id)?.return?.(undefined);
    return iterators.delete(id);
  },
  "settings.get": (db) => db.storedSettings,
  "settings.update": (db, [change, options]) => db.updateSettings(change, options),
  "settings.reload": (db) => db.reloadSettings(),
  "metrics.record": (db, [name, value, labels]) => db.metrics.record(name, value, labels),
  "metrics.query": (db, [name, query]) => db.metrics.query(name, query),
  "metrics.summary": (db, [name]) => db.metrics.summary(name),
  "prefs.get": (db, [key]) => db.prefs.get(key),
  "prefs.set": (db, [key, value]) => db.prefs.set(key, value),
  "prefs.delete": (db, [key]) => db.prefs.delete(key),
  "prefs.all": (db) => db.prefs.all(),
  "audit.append": (db, [input]) => db.audit.append(input),
  "audit.query": (db, [query]) => db.audit.query(query),
  "audit.head": (db) => db.audit.head(),
  "audit.verify": (db, [options]) => db.audit.verify(options),
  "audit.rollUp": (db, [options]) => db.audit.rollUp(options as never),
  "audit.verifyRollups": (db) => db.audit.verifyRollups(),
  "artifacts.register": (db, [input, options]) => db.artifacts.register(input, options),
  "artifacts.get": (db, [name, version]) => db.artifacts.get(name, version),
  "artifacts.list": (db, [query]) => db.artifacts.list(query),
  "artifacts.remove": (db, [name, version]) => db.artifacts.remove(name, version),
  "maintenance.checkpoint": (db, [mode]) => db.maintenance.checkpoint(mode),
  "maintenance.optimize": (db) => db.maintenance.optimize(),
  "maintenance.vacuum": (db, [options]) => db.maintenance.vacuum(options),
  "maintenance.integrityCheck": (db, [options]) => db.maintenance.integrityCheck(options),
  "maintenance.backup": (db, [path]) => db.maintenance.backup(path),
  "maintenance.info": (db) => db.maintenance.info(),
  "maintenance.stats": (db) => db.maintenance.stats(),
  close: (db) => {
    for (const iterator of iterators.values()) iterator.return?.(undefined);
    iterators.clear();
    db.close();
    return null;
  },
};

/** Runs a mutation with the audit log naming `actor` (the view's), or as the store's own. */
function run(db: Database, request: Request & { actor?: string }): unknown {
  const handler = HANDLERS[request.op];
  if (!handler) throw new TypeError(`unknown operation ${request.op}`);
  if (request.actor === undefined) return handler(db, request.args);
  // register is asynchronous (it hashes the file): its actor goes in its options instead.
  if (request.op === "artifacts.register") return handler(db, [request.args[0], { ...(request.args[1] as object), actor: request.actor }]);
  return db.asActor(request.actor, () => handler(db, request.args));
}

self.onmessage = async (event: MessageEvent<InitMessage | (Request & { actor?: string })>) => {
  const message = event.data;
  if ("type" in message && message.type === "init") {
    cancelFlags = message.flags as Int32Array<SharedArrayBuffer>;
    try {
      const thread = lowerThisThread(message.niceness);
      db = new Database({ ...message.options, readonly: message.role === "reader" });
      postMessage({ type: "ready", thread } satisfies HostEvent);
    } catch (error) {
      postMessage({ type: "fatal", error: serializeError(error) });
    }
    return;
  }
  const request = message as Request & { actor?: string };
  let answer: Answer;
  currentSlot = request.slot ?? -1;
  try {
    if (!db) throw new StorageError("WORKER_UNAVAILABLE", "this worker could not open the database; it is being restarted");
    // Claimed before it starts: one the caller cancelled or shed while it waited in this worker's
    // message queue (already refused there) is not started at all.
    if (currentSlot >= 0 && cancelFlags !== null && Atomics.compareExchange(cancelFlags, currentSlot, SLOT_POSTED, SLOT_STARTED) !== SLOT_POSTED) throw new StorageError("CANCELLED", "the read was cancelled (its caller went away) before it started");
    let value = run(db, request);
    // artifacts.register hashes asynchronously; everything else is synchronous.
    if (value instanceof Promise) value = await value;
    // Filled bars (fill: "previous") carry a flag the packed columns have no room for: those
    // answers are posted as objects, which costs a structured clone only on such reads.
    if (request.op === "getBars" && !hasFilled(value as Bar[])) {
      const packed = packBars(value as Bar[]);
      postMessage({ id: request.id, ok: true, value: packed, packed: "bars" } satisfies Answer, [packed.buffer as ArrayBuffer]);
      return;
    }
    if (request.op === "getQuotes") {
      const packed = packQuotes(value as never);
      postMessage({ id: request.id, ok: true, value: packed, packed: "quotes" } satisfies Answer, [packed.buffer as ArrayBuffer]);
      return;
    }
    if (request.op === "iterNext" && !hasFilled((value as { page: Bar[] }).page)) {
      const { page, done } = value as { page: Bar[]; done: boolean };
      const packed = packBars(page);
      postMessage({ id: request.id, ok: true, value: { packed, done }, packed: "bars" } satisfies Answer, [packed.buffer as ArrayBuffer]);
      return;
    }
    const bytes = value instanceof Uint8Array ? value : request.op === "iterNextText" ? (value as { bytes: Uint8Array }).bytes : null;
    if (bytes !== null) {
      // Handed over, not copied: the buffer is the answer's alone.
      postMessage({ id: request.id, ok: true, value } satisfies Answer, [bytes.buffer as ArrayBuffer]);
      return;
    }
    answer = { id: request.id, ok: true, value };
  } catch (error) {
    answer = { id: request.id, ok: false, error: serializeError(error) };
  } finally {
    currentSlot = -1;
  }
  postMessage(answer);
};

function hasFilled(bars: readonly Bar[]): boolean {
  return bars.some((bar) => "filled" in bar);
}

/**
 * store.watch(): bars as they are stored, by any writer, from a cursor on. One engine for every
 * backend, written against the public Store (getBars, latestBar, calendars, adjustments) and a
 * backend's ChangeFeed (its change log and how it learns that the log grew).
 *
 * Why a change log (bar_changes) rather than watching the bars themselves:
 * - Other programs write the same file or database (a Python recorder, psql). SQLite tells a
 *   connection only that the file changed (PRAGMA data_version), never what; PostgreSQL's NOTIFY
 *   is lost while no one listens. A table written in the writer's own transaction says what
 *   moved and is still there after a restart, so a cursor can replay it.
 * - A cursor is (database, change seq, last bar timestamp emitted within that change): seqs grow
 *   in commit order (SQLite has one writer at a time and AUTOINCREMENT never reuses a seq;
 *   PostgreSQL's trigger takes a transaction-level advisory lock before it draws one), so
 *   "everything after seq N" is exact, and the timestamp resumes mid-change with no gap and no
 *   duplicate. Replay and live are the same loop (read rows after the cursor; when none, wait),
 *   so there is no seam to get wrong.
 * - tradelite's own insertBars logs one row per batch (the hot path pays one insert, measured in
 *   the bench); other writers are logged per row by the summary's triggers. A row's range is
 *   re-read when it is delivered, so a replay shows the bars as they are now, and bars deleted
 *   since are not shown. Deletes are logged (kind "delete") but not emitted.
 * - Rows written by one writer in a row for one symbol are delivered as one range when they
 *   ascend (a recorder's per-row rows) or share a transaction (PostgreSQL's statement rows).
 *
 * With an interval, each touched bucket is re-resampled (src/domain/watch-buckets.ts, with the
 * resampler every adjusted read uses) from the stored bars of its whole day, week or month, and
 * emitted with `final: false`, then once more with `final: true` when the bucket closes: when its
 * last minute is stored (intraday buckets), or when a later bar of the symbol is. What a backend
 * supplies is src/domain/change-feed.ts; what the watches of one store read together (a change
 * page's bars in one statement), src/domain/watch-reads.ts.
 */
import type { Bar } from "./bar.ts";
import type { Calendar } from "./calendar.ts";
import type { ChangeFeed, ChangeLogState, ChangeRow } from "./change-feed.ts";
import { ValidationError, type Issue } from "./errors.ts";
import { normalizeSymbol } from "./instrument-symbol.ts";
import { checkOptions, readResampling, type Align, type BarQuery, type BarTimestamp, type Interval } from "./query.ts";
import { readAdjustment } from "./adjusted-reads.ts";
import type { Store } from "./store.ts";
import { assertSymbol } from "./symbol.ts";
import type { TimestampInput } from "./time.ts";
import type { AdjustMode } from "./adjusted-bars.ts";
import { calendarFor, resampledEvents, type Delivery } from "./watch-buckets.ts";
import { readsOf, type PageBars, type WatchReads } from "./watch-reads.ts";

/** What store.watch() is asked for. */
export interface WatchOptions {
  /** Only these symbols (read by the store's symbol rule); every symbol when omitted. */
  symbols?: readonly string[];
  /** Resample to this interval (as getBars does); the bars as stored when omitted. */
  interval?: Interval;
  /** Bucket alignment with an interval, as getBars: `clock` (default) or `session`. */
  align?: Align;
  /** Overrides the store's bar stamping for the buckets, as getBars. */
  barTimestamp?: BarTimestamp;
  /** Adjusted prices, as getBars (`none`, `qfq`, `hfq`). */
  adjust?: AdjustMode;
  asOf?: TimestampInput;
  adjustVolume?: boolean;
  /** A cursor from an earlier event: what was stored after it is replayed first, then live. */
  since?: string;
  /** Ends the watch (the iterator then finishes) and releases what it holds. */
  signal?: AbortSignal;
}

/** One bar as watch() delivers it. */
export interface BarEvent {
  /** Resume after this event: pass it as `since`. */
  cursor: string;
  symbol: string;
  /** The interval asked for; null for the bars as stored. */
  interval: Interval | null;
  bar: Bar;
  /** False while a resampled bucket may still gain bars; always true for stored bars. */
  final: boolean;
  /** On the first event only, when `since` was older than the change log keeps: bars may be missing before it. */
  gap?: true;
}

/** What watch() returns: the events, and `ready` (the starting cursor once options and `since` are checked). */
export interface BarWatch extends AsyncIterableIterator<BarEvent> {
  readonly ready: Promise<string>;
  /** `ready`'s cursor, and whether `since` was older than the log keeps (the first event then says `gap`). */
  readonly start: Promise<{ cursor: string; gap: boolean }>;
  return(): Promise<IteratorResult<BarEvent>>;
}

/** Rows read per step; a page of bars per step when a range is long. */
const CHANGE_PAGE = 1_000;
const BAR_PAGE = 5_000;

// ---------------------------------------------------------------------------------------------
// Cursors

interface Cursor {
  id: string;
  seq: number;
  /** The last bar timestamp delivered within change `seq`; null when the whole change was. */
  after: number | null;
}

const CURSOR = /^([0-9a-f]{8,64})\.(\d{1,16})(?:\.(-?\d{1,16}))?$/;

export function encodeCursor(cursor: Cursor): string {
  return `${cursor.id}.${cursor.seq}${cursor.after === null ? "" : `.${cursor.after}`}`;
}

function sinceError(message: string): ValidationError {
  return new ValidationError([{ field: "since", message }]);
}

/** A cursor string read and checked against this database's change log. */
export function decodeCursor(text: unknown, state: ChangeLogState): Cursor {
  const match = typeof text === "string" ? CURSOR.exec(text) : null;
  if (!match) throw sinceError(`not a watch cursor: ${JSON.stringify(text)} (pass the cursor of an event as it was given)`);
  const cursor: Cursor = { id: match[1]!, seq: Number(match[2]), after: match[3] === undefined ? null : Number(match[3]) };
  if (cursor.id !== state.id) throw sinceError(`the cursor is from another database (${cursor.id}; this one is ${state.id})`);
  if (!Number.isSafeInteger(cursor.seq) || cursor.seq > state.head) {
    throw sinceError(`the cursor is ahead of this database's change log (seq ${cursor.seq}, newest ${state.head})`);
  }
  return cursor;
}

// ---------------------------------------------------------------------------------------------
// Options

const WATCH_KEYS: readonly string[] = ["symbols", "interval", "align", "barTimestamp", "adjust", "asOf", "adjustVolume", "since", "signal"];

interface Watching {
  symbols: Set<string> | null;
  interval: Interval | undefined;
  align: Align;
  barTimestamp: BarTimestamp;
  /** The adjustment options, passed to getBars as they were given (checked here). */
  adjusting: Pick<BarQuery, "adjust" | "asOf" | "adjustVolume">;
  since: unknown;
  signal: AbortSignal | undefined;
}

/** Checks every option now, so a bad one fails where watch() is called. */
export function readWatchOptions(options: WatchOptions | undefined, store: Store): Watching {
  const issues: Issue[] = [];
  const given = checkOptions<WatchOptions>(options, WATCH_KEYS, issues);
  if (issues.length > 0) throw new ValidationError(issues);
  const { interval, align, barTimestamp } = readResampling(
    { interval: given.interval, align: given.align, barTimestamp: given.barTimestamp } as BarQuery,
    store.barTimestamp,
  );
  const adjusting = { adjust: given.adjust, asOf: given.asOf, adjustVolume: given.adjustVolume };
  readAdjustment(adjusting, store.timezone);
  const signal = given.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new ValidationError([{ field: "signal", message: "expected an AbortSignal" }]);
  let symbols: Set<string> | null = null;
  if (given.symbols !== undefined) {
    if (!Array.isArray(given.symbols) || given.symbols.length === 0) {
      throw new ValidationError([{ field: "symbols", message: "expected a non-empty array of symbols (omit it to watch every symbol)" }]);
    }
    symbols = new Set(given.symbols.map((symbol) => (store.normalizeSymbols ? normalizeSymbol(assertSymbol(symbol)) : assertSymbol(symbol))));
  }
  if (given.since !== undefined && typeof given.since !== "string") throw sinceError("expected a cursor string");
  return { symbols, interval, align, barTimestamp, adjusting, since: given.since, signal };
}

// ---------------------------------------------------------------------------------------------
// The engine

/**
 * The watch over `store` fed by `feed`. Options are checked now (thrown); `since` and the
 * symbols' calendars when the watch starts (`ready` rejects, and so does the first next()).
 */
export function watchBars(store: Store, feed: ChangeFeed, options?: WatchOptions): BarWatch {
  const watching = readWatchOptions(options, store);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  watching.signal?.addEventListener("abort", onAbort, { once: true });
  if (watching.signal?.aborted) stop.abort();
  const started = start(store, feed, watching);
  started.catch(() => {});
  const events = run(store, feed, watching, started, stop.signal);
  const release = () => {
    stop.abort();
    watching.signal?.removeEventListener("abort", onAbort);
  };
  const begun = started.then((begin) => ({ cursor: encodeCursor(begin.cursor), gap: begin.gap }));
  const ready = begun.then((begin) => begin.cursor);
  // Nobody has to await these: a failure also comes out of the first next().
  begun.catch(() => {});
  ready.catch(() => {});
  const watch: BarWatch = {
    ready,
    start: begun,
    async next() {
      try {
        const result = await events.next();
        if (result.done) release();
        return result;
      } catch (error) {
        release();
        throw error;
      }
    },
    async return() {
      // Wakes a next() that is waiting for changes, so return() does not wait for one.
      release();
      return events.return(undefined);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return watch;
}

interface Start {
  cursor: Cursor;
  gap: boolean;
}

async function start(store: Store, feed: ChangeFeed, watching: Watching): Promise<Start> {
  const state = await feed.state();
  if (watching.align === "session" && watching.interval !== undefined && watching.symbols) {
    for (const symbol of watching.symbols) await calendarFor(store, symbol, new Map());
  }
  if (watching.since === undefined) return { cursor: { id: state.id, seq: state.head, after: null }, gap: false };
  const cursor = decodeCursor(watching.since, state);
  // Rows after the cursor (or the rest of its own change) were trimmed: replay from the oldest
  // kept, and say so.
  if (cursor.seq < state.trimmed || (cursor.seq === state.trimmed && cursor.after !== null)) return { cursor: { id: state.id, seq: state.trimmed, after: null }, gap: true };
  return { cursor, gap: false };
}

/** A run of rows delivered as one range (see the header). */
interface ChangeGroup {
  seq: number;
  lastSeq: number;
  symbol: string;
  first: number;
  last: number;
  wanted: boolean;
}

function groupRows(rows: readonly ChangeRow[], watching: Watching): ChangeGroup[] {
  if (watching.symbols !== null) return groupWanted(rows, wantedRows(rows, watching.symbols));
  const groups: ChangeGroup[] = [];
  let tail: { group: ChangeGroup; row: ChangeRow } | undefined;
  for (const row of rows) {
    const wanted = isWanted(row);
    const previous = tail?.row;
    const joins = tail !== undefined && tail.group.wanted && wanted && joinsGroup(tail.group, previous!, row);
    if (joins) {
      extendGroup(tail!.group, row);
      tail = { group: tail!.group, row };
      continue;
    }
    const group = { seq: row.seq, lastSeq: row.seq, symbol: row.symbol, first: row.first, last: row.last, wanted };
    groups.push(group);
    tail = { group, row };
  }
  return groups;
}

const isWanted = (row: ChangeRow) => row.series === "minutes" && row.kind === "upsert";

/** Whether `row` continues `group`, whose last row is `previous`, the row just before it. */
function joinsGroup(group: ChangeGroup, previous: ChangeRow, row: ChangeRow): boolean {
  return previous.symbol === row.symbol && ((row.txn !== null && row.txn === previous.txn) || row.first > group.last);
}

function extendGroup(group: ChangeGroup, row: ChangeRow): void {
  group.lastSeq = row.seq;
  group.first = Math.min(group.first, row.first);
  group.last = Math.max(group.last, row.last);
}

/**
 * Where each symbol's minute upserts are in a page, built once per page for every watch that
 * reads it (the page's array is shared, src/domain/watch-reads.ts): a watch of 5 symbols then looks at its
 * own rows, not the 5,000 of a live minute, and a thousand watches do not walk the page a
 * thousand times.
 */
const pageIndexes = new WeakMap<readonly ChangeRow[], Map<string, number[]>>();

function wantedRows(rows: readonly ChangeRow[], symbols: ReadonlySet<string>): number[] {
  let index = pageIndexes.get(rows);
  if (!index) {
    index = new Map();
    rows.forEach((row, i) => {
      if (!isWanted(row)) return;
      const at = index!.get(row.symbol);
      if (at) at.push(i);
      else index!.set(row.symbol, [i]);
    });
    pageIndexes.set(rows, index);
  }
  const wanted: number[] = [];
  for (const symbol of symbols) wanted.push(...(index.get(symbol) ?? []));
  return wanted.sort((a, b) => a - b);
}

/**
 * groupRows for a watch of some symbols: only its rows' groups (rows it does not want end a
 * group, as in groupRows, because only adjacent rows join). The run advances past the page's
 * other rows at the page's end.
 */
function groupWanted(rows: readonly ChangeRow[], wanted: readonly number[]): ChangeGroup[] {
  const groups: ChangeGroup[] = [];
  let tail: ChangeGroup | undefined;
  let previous = -2;
  for (const i of wanted) {
    const row = rows[i]!;
    if (tail !== undefined && previous === i - 1 && joinsGroup(tail, rows[i - 1]!, row)) extendGroup(tail, row);
    else {
      tail = { seq: row.seq, lastSeq: row.seq, symbol: row.symbol, first: row.first, last: row.last, wanted: true };
      groups.push(tail);
    }
    previous = i;
  }
  return groups;
}

async function* run(store: Store, feed: ChangeFeed, watching: Watching, started: Promise<Start>, signal: AbortSignal): AsyncGenerator<BarEvent, void> {
  const { cursor, gap } = await started;
  let position = cursor;
  let gapPending = gap;
  const calendars = new Map<string, Calendar | null>();
  const reads = readsOf(store, feed);
  // Stored, unadjusted bars are what a page read gives: such a watch reads nothing of its own.
  const fromPages = watching.interval === undefined && (watching.adjusting.adjust ?? "none") === "none";
  while (!signal.aborted) {
    const rows = await reads.rows(position.after === null ? position.seq : position.seq - 1, CHANGE_PAGE);
    if (rows.length === 0) {
      await feed.wait(position.seq, signal);
      continue;
    }
    let page: PageBars | null | undefined;
    for (const group of groupRows(rows, watching)) {
      if (group.wanted) {
        const skip = group.seq === position.seq && position.after !== null ? position.after : -Infinity;
        const { interval } = watching;
        if (fromPages && page === undefined) page = await reads.page(rows);
        const bars = page
          ? pageEvents(page, group, skip)
          : interval === undefined
            ? storedEvents(reads, group, skip, watching)
            : resampledEvents(store, reads, group, skip, { ...watching, interval }, calendars);
        for await (const { bar, final } of bars) {
          if (signal.aborted) return;
          const event: BarEvent = {
            cursor: encodeCursor({ id: cursor.id, seq: group.seq, after: bar.timestamp }),
            symbol: group.symbol,
            interval: watching.interval ?? null,
            bar: { ...bar },
            final,
          };
          if (gapPending) {
            event.gap = true;
            gapPending = false;
          }
          yield event;
        }
      }
      position = { id: cursor.id, seq: group.lastSeq, after: null };
    }
    // Past the page's rows this watch does not want (groupRows leaves them out for a few symbols).
    position = { id: cursor.id, seq: rows[rows.length - 1]!.seq, after: null };
    // The log had no more rows when the page was read: wait for its head to pass the page (the
    // shared poll) rather than each watch reading an empty page.
    if (rows.length < CHANGE_PAGE) await feed.wait(position.seq, signal);
  }
}

/** The bars of a change's range after `skip`, from its page's read. */
function* pageEvents(page: PageBars, group: ChangeGroup, skip: number): Generator<Delivery> {
  const bars = page.get(group.symbol) ?? [];
  const from = Math.max(group.first, skip + 1);
  // Binary search for the first bar at or after `from`: a backfilled symbol has thousands.
  let low = 0;
  let high = bars.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (bars[middle]!.timestamp < from) low = middle + 1;
    else high = middle;
  }
  for (let i = low; i < bars.length && bars[i]!.timestamp <= group.last; i++) yield { bar: bars[i]!, final: true };
}

/** The stored bars of a change's range after `skip`, a page at a time. */
async function* storedEvents(reads: WatchReads, group: ChangeGroup, skip: number, watching: Watching): AsyncGenerator<Delivery> {
  let from = Math.max(group.first, skip + 1);
  while (from <= group.last) {
    const page = await reads.bars(group.symbol, { start: from, end: group.last, limit: BAR_PAGE, ...watching.adjusting });
    for (const bar of page) yield { bar, final: true };
    if (page.length < BAR_PAGE) return;
    from = page[page.length - 1]!.timestamp + 1;
  }
}

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
 * With an interval, each touched bucket is re-resampled (src/domain/session.ts, the resampler
 * every adjusted read uses) from the stored bars of its whole day, week or month, and emitted
 * with `final: false`, then once more with `final: true` when the bucket closes: when its last
 * minute is stored (intraday buckets), or when a later bar of the symbol is.
 */
import type { Bar } from "./bar.ts";
import { Calendar, dateWallMs, isoDate, localDate } from "./calendar.ts";
import { ValidationError, type Issue } from "./errors.ts";
import { normalizeSymbol } from "./instrument-symbol.ts";
import { checkOptions, readResampling, type Align, type BarQuery, type BarTimestamp, type Interval } from "./query.ts";
import { readAdjustment } from "./adjusted-reads.ts";
import { INTRADAY_MS, noCalendarError, sessionResampler } from "./session.ts";
import type { Store } from "./store.ts";
import { assertSymbol } from "./symbol.ts";
import { DAY_MS, MINUTE_MS, startOfLocalDay, type TimestampInput } from "./time.ts";
import type { AdjustMode } from "./adjusted-bars.ts";

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
  readonly ready: Promise<{ cursor: string; gap: boolean }>;
  return(): Promise<IteratorResult<BarEvent>>;
}

// ---------------------------------------------------------------------------------------------
// What a backend supplies

/** One row of bar_changes. */
export interface ChangeRow {
  seq: number;
  symbol: string;
  series: string;
  first: number;
  last: number;
  kind: string;
  /** The writing transaction where the backend knows it (PostgreSQL), else null. */
  txn: number | null;
}

export interface ChangeLogState {
  /** The database's identity, carried by every cursor. */
  id: string;
  /** The newest seq (0 when none was ever written). */
  head: number;
  /** Rows up to this seq were trimmed (0 when none). */
  trimmed: number;
}

/** A backend's change log. */
export interface ChangeFeed {
  state(): Promise<ChangeLogState>;
  /** Rows with seq > after, ascending, at most `limit`. */
  read(after: number, limit: number): Promise<ChangeRow[]>;
  /** Resolves once rows after `after` may be there (or `signal` aborts). */
  wait(after: number, signal: AbortSignal): Promise<void>;
}

/** Rows read per step; a page of bars per step when a range is long. */
const CHANGE_PAGE = 1_000;
const BAR_PAGE = 5_000;

/**
 * How many change rows the log keeps: the newest CHANGE_LOG_KEEP. At one row per symbol per
 * minute batch that is about a trading day of 4,000 symbols (~40 MB on SQLite).
 */
export const CHANGE_LOG_KEEP = 1_000_000;

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
  const watch: BarWatch = {
    ready: started.then((begin) => ({ cursor: encodeCursor(begin.cursor), gap: begin.gap })),
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
  const groups: ChangeGroup[] = [];
  let tail: { group: ChangeGroup; row: ChangeRow } | undefined;
  for (const row of rows) {
    const wanted = row.series === "minutes" && row.kind === "upsert" && (watching.symbols === null || watching.symbols.has(row.symbol));
    const previous = tail?.row;
    const joins =
      tail !== undefined &&
      tail.group.wanted &&
      wanted &&
      previous!.symbol === row.symbol &&
      ((row.txn !== null && row.txn === previous!.txn) || row.first > tail.group.last);
    if (joins) {
      const group = tail!.group;
      group.lastSeq = row.seq;
      group.first = Math.min(group.first, row.first);
      group.last = Math.max(group.last, row.last);
      tail = { group, row };
      continue;
    }
    const group = { seq: row.seq, lastSeq: row.seq, symbol: row.symbol, first: row.first, last: row.last, wanted };
    groups.push(group);
    tail = { group, row };
  }
  return groups;
}

async function* run(store: Store, feed: ChangeFeed, watching: Watching, started: Promise<Start>, signal: AbortSignal): AsyncGenerator<BarEvent, void> {
  const { cursor, gap } = await started;
  let position = cursor;
  let gapPending = gap;
  const calendars = new Map<string, Calendar | null>();
  while (!signal.aborted) {
    const rows = await feed.read(position.after === null ? position.seq : position.seq - 1, CHANGE_PAGE);
    if (rows.length === 0) {
      await feed.wait(position.seq, signal);
      continue;
    }
    for (const group of groupRows(rows, watching)) {
      if (group.wanted) {
        const skip = group.seq === position.seq && position.after !== null ? position.after : -Infinity;
        const bars = watching.interval === undefined ? storedEvents(store, group, skip, watching) : resampledEvents(store, group, skip, watching, calendars);
        for await (const { bar, final } of bars) {
          if (signal.aborted) return;
          const event: BarEvent = {
            cursor: encodeCursor({ id: cursor.id, seq: group.seq, after: bar.timestamp }),
            symbol: group.symbol,
            interval: watching.interval ?? null,
            bar,
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
  }
}

interface Delivery {
  bar: Bar;
  final: boolean;
}

/** The stored bars of a change's range after `skip`, a page at a time. */
async function* storedEvents(store: Store, group: ChangeGroup, skip: number, watching: Watching): AsyncGenerator<Delivery> {
  let from = Math.max(group.first, skip + 1);
  while (from <= group.last) {
    const page = await store.getBars(group.symbol, { start: from, end: group.last, limit: BAR_PAGE, ...watching.adjusting });
    for (const bar of page) yield { bar, final: true };
    if (page.length < BAR_PAGE) return;
    from = page[page.length - 1]!.timestamp + 1;
  }
}

async function calendarFor(store: Store, symbol: string, cache: Map<string, Calendar | null>): Promise<Calendar> {
  const name = await store.calendars.of(symbol);
  let calendar = name === null ? null : cache.get(name);
  if (name !== null && calendar === undefined) {
    const data = await store.calendars.get(name);
    calendar = data ? new Calendar(data) : null;
    cache.set(name, calendar);
  }
  if (!calendar) throw noCalendarError(symbol);
  return calendar;
}

/**
 * The stored-bar range of the day, week or month holding `timestamp` (intraday buckets never
 * cross a local day, on the clock or a calendar): every bar of every bucket it holds.
 */
function windowOf(timestamp: number, interval: Interval, endMode: number, zone: string): { start: number; end: number } {
  let first = dateWallMs(localDate(timestamp - endMode, zone));
  let next: number;
  if (interval === "1w") {
    // 1970-01-05 (day 4 after the epoch) was a Monday.
    first -= ((((Math.floor(first / DAY_MS) - 4) % 7) + 7) % 7) * DAY_MS;
    next = first + 7 * DAY_MS;
  } else if (interval === "1M") {
    first = dateWallMs(`${isoDate(first).slice(0, 8)}01`);
    const month = new Date(first);
    month.setUTCMonth(month.getUTCMonth() + 1);
    next = month.getTime();
  } else {
    next = first + DAY_MS;
  }
  return { start: startOfLocalDay(first, zone) + endMode, end: startOfLocalDay(next, zone) - 1 + endMode };
}

/** One resampled bucket and the stored bars it holds. */
interface Bucket {
  bar: Bar;
  first: number;
  last: number;
  touched: boolean;
}

/**
 * The buckets a change touched, re-resampled from their whole window, after `skip`; and, when
 * the change opened a bucket, the one before it, which that closed.
 */
async function* resampledEvents(
  store: Store,
  group: ChangeGroup,
  skip: number,
  watching: Watching,
  calendars: Map<string, Calendar | null>,
): AsyncGenerator<Delivery> {
  const interval = watching.interval!;
  const calendar = watching.align === "session" ? await calendarFor(store, group.symbol, calendars) : null;
  const zone = calendar?.timezone ?? store.timezone;
  const endMode = watching.barTimestamp === "end" ? 1 : 0;
  const size = INTRADAY_MS[interval];
  const closedByLastMinute = (bucket: Bucket) =>
    size !== undefined && bucket.last === (endMode ? bucket.bar.timestamp : bucket.bar.timestamp + size - MINUTE_MS);
  const latest = (await store.latestBar(group.symbol))?.timestamp ?? -Infinity;
  let from: number | undefined = group.first;
  let opening = true;
  while (from !== undefined && from <= group.last) {
    const window = windowOf(from, interval, endMode, zone);
    const stored = await store.getBars(group.symbol, { start: window.start, end: window.end, ...watching.adjusting });
    const buckets = resampleWindow(stored, calendar, interval, watching.barTimestamp, zone, group);
    const firstTouched = buckets.findIndex((bucket) => bucket.touched);
    for (let i = 0; i < buckets.length; i++) {
      const bucket = buckets[i]!;
      const final = i < buckets.length - 1 || latest > window.end || closedByLastMinute(bucket);
      const opened = opening && i === firstTouched - 1 && buckets[i + 1]!.first >= group.first && !closedByLastMinute(bucket);
      if ((bucket.touched || opened) && bucket.bar.timestamp > skip) yield { bar: bucket.bar, final };
    }
    opening = false;
    if (window.end >= group.last) return;
    // The next stored bar of the range, past any window without one.
    const next = await store.getBars(group.symbol, { start: window.end + 1, end: group.last, limit: 1 });
    from = next[0]?.timestamp;
  }
}

function resampleWindow(stored: readonly Bar[], calendar: Calendar | null, interval: Interval, placement: BarTimestamp, zone: string, group: ChangeGroup): Bucket[] {
  const resampler = sessionResampler(calendar, interval, placement, zone);
  const buckets: Bucket[] = [];
  let current: Omit<Bucket, "bar"> | undefined;
  for (const bar of stored) {
    const touched = bar.timestamp >= group.first && bar.timestamp <= group.last;
    const done = resampler.push(bar);
    if (done) {
      buckets.push({ bar: done, ...current! });
      current = undefined;
    }
    if (current) {
      current.last = bar.timestamp;
      current.touched ||= touched;
    } else {
      current = { first: bar.timestamp, last: bar.timestamp, touched };
    }
  }
  const last = resampler.finish();
  if (last) buckets.push({ bar: last, ...current! });
  return buckets;
}

/**
 * ChangeFeed.wait() over a head that is polled: every waiter of one store shares one timer
 * (a thousand watchers cost one head read per tick), which runs only while someone waits.
 * `poke()` reads at once (PostgreSQL calls it on NOTIFY and after a reconnect).
 */
export function headPoller(readHead: () => number | Promise<number>, everyMs: number) {
  const waiters = new Set<{ after: number; resolve: () => void }>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reading = false;
  let again = false;

  async function tick(): Promise<void> {
    timer = undefined;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      const head = await readHead();
      for (const waiter of waiters) {
        if (head > waiter.after) {
          waiters.delete(waiter);
          waiter.resolve();
        }
      }
    } catch {
      // A closed store or a lost connection: the waiters read the log themselves and meet the error.
      for (const waiter of waiters) waiter.resolve();
      waiters.clear();
    } finally {
      reading = false;
    }
    if (again) {
      again = false;
      void tick();
    } else schedule();
  }

  function schedule(): void {
    if (timer === undefined && waiters.size > 0) timer = setTimeout(tick, everyMs);
  }

  return {
    wait(after: number, signal: AbortSignal): Promise<void> {
      return new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const waiter = {
          after,
          resolve: () => {
            signal.removeEventListener("abort", onAbort);
            resolve();
          },
        };
        const onAbort = () => {
          waiters.delete(waiter);
          waiter.resolve();
        };
        signal.addEventListener("abort", onAbort, { once: true });
        waiters.add(waiter);
        schedule();
      });
    },
    poke(): void {
      if (waiters.size === 0) return;
      if (timer !== undefined) clearTimeout(timer);
      void tick();
    },
    /** Wakes every waiter (they read again and wait again): a closed store's watches end there. */
    wakeAll(): void {
      for (const waiter of waiters) waiter.resolve();
      waiters.clear();
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * What a backend gives store.watch() (src/domain/watch.ts): its change log (bar_changes, in
 * src/sqlite/changes.ts and src/postgres/changes.ts) read after a seq, and a way to wait until
 * the log grows. headPoller is that wait for a log whose head is polled.
 */

import type { Bar } from "./bar.ts";

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

/** A symbol's minute bars from `first` to `last` (inclusive). */
export interface BarRange {
  symbol: string;
  first: number;
  last: number;
}

/** A stored minute bar and its symbol. */
export interface ChangedBar extends Bar {
  symbol: string;
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
  /**
   * The stored minute bars (market_data) of these ranges, in one statement (one round trip on a
   * worker): what a page of the log touched, read once for every watch of the store. Ordered by
   * range then timestamp; at most `limit` bars (a caller that gets `limit` reads per symbol).
   */
  bars(ranges: readonly BarRange[], limit: number): Promise<ChangedBar[]>;
  /** Resolves once rows after `after` may be there (or `signal` aborts). */
  wait(after: number, signal: AbortSignal): Promise<void>;
}

/**
 * How many change rows the log keeps: the newest CHANGE_LOG_KEEP. At one row per symbol per
 * minute batch that is about a trading day of 4,000 symbols (~40 MB on SQLite).
 */
export const CHANGE_LOG_KEEP = 1_000_000;

/**
 * ChangeFeed.wait() over a head that is polled: every waiter of one store shares one timer
 * (a thousand watchers cost one head read per tick), which runs only while someone waits.
 * `poke()` reads at once (PostgreSQL calls it after a reconnect), `poke(head)` wakes without a
 * read (on a NOTIFY that carries the head).
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
    /** Reads the head now; or, given one (a NOTIFY's payload), wakes the waiters behind it without a read. */
    poke(head?: number): void {
      if (waiters.size === 0) return;
      if (head !== undefined && Number.isSafeInteger(head)) {
        for (const waiter of waiters) {
          if (head > waiter.after) {
            waiters.delete(waiter);
            waiter.resolve();
          }
        }
        return;
      }
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

/**
 * Calls of `read` with equal arguments while one is in flight share it: a thousand watches
 * woken by one commit ask the log (and the bars) once, not a thousand times, so they neither
 * fill a worker's queue nor hold an in-thread store's loop that many times over. Keys are the
 * JSON of the arguments (plain values).
 */
export function sharedInFlight<A extends unknown[], T>(read: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
  const pending = new Map<string, Promise<T>>();
  return (...args: A) => {
    const key = JSON.stringify(args);
    const running = pending.get(key);
    if (running) return running;
    const started = read(...args).finally(() => pending.delete(key));
    pending.set(key, started);
    return started;
  };
}

/**
 * sharedInFlight that also keeps the last `keep` results `worth` keeping: a watch that reaches the
 * same read a little after the others (it was writing its events to a slow socket) takes theirs.
 * `key` names a read (its arguments' JSON by default).
 */
export function sharedRecent<A extends unknown[], T>(
  read: (...args: A) => Promise<T>,
  keep: number,
  worth: (value: T) => boolean,
  key: (...args: A) => string = (...args) => JSON.stringify(args),
): (...args: A) => Promise<T> {
  const recent = new Map<string, Promise<T>>();
  return (...args: A) => {
    const name = key(...args);
    const known = recent.get(name);
    if (known) return known;
    const started = read(...args);
    recent.set(name, started);
    started.then(
      (value) => {
        if (!worth(value)) recent.delete(name);
      },
      () => recent.delete(name),
    );
    if (recent.size > keep) recent.delete(recent.keys().next().value!);
    return started;
  };
}

/**
 * What the watches of one store read together (src/domain/watch.ts is the engine): the change
 * log's pages, the bars a page touched, and a symbol's bars and latest bar, each shared so that
 * N watches woken by one commit cost O(1) reads, not N.
 */
import type { Bar } from "./bar.ts";
import { sharedInFlight, sharedRecent, type BarRange, type ChangeFeed, type ChangeRow } from "./change-feed.ts";
import type { BarQuery } from "./query.ts";
import type { Store } from "./store.ts";

/**
 * The most bars a page of the log is read with at once for every stored-bar watch (a live minute
 * of 5,000 symbols is 5,000); a page that touched more (a backfill) is read per symbol instead.
 */
const PAGE_BARS = 50_000;
/** Pages whose bars are kept after their read, for the watches that reach them a little later. */
const PAGES_KEPT = 4;

/**
 * The reads every watch of one change feed shares: the log's rows (the last pages kept,
 * sharedRecent), and the bars and latest bar of a symbol (while in flight, sharedInFlight). The
 * bars are shared objects: an event carries its own copy.
 *
 * `page` is what makes N stored-bar watches cost O(1) reads per commit rather than one getBars
 * per symbol per watch: the bars a page of the log touched, read in one statement (feed.bars) and
 * kept for the last PAGES_KEPT pages, so every watch that reaches the page takes its symbols'
 * bars from there. null when the page touched more than PAGE_BARS bars (read per symbol then).
 */
export interface WatchReads {
  rows(after: number, limit: number): Promise<ChangeRow[]>;
  bars(symbol: string, query: BarQuery): Promise<Bar[]>;
  latest(symbol: string): Promise<Bar | null>;
  page(rows: readonly ChangeRow[]): Promise<PageBars | null>;
  /** Reads made, for tests and the bench: pages read (one statement each) and per-symbol bar reads. */
  readonly counts: { pages: number; symbols: number };
}

/** A page's stored bars by symbol, each ascending by timestamp. */
export type PageBars = ReadonlyMap<string, readonly Bar[]>;

const sharedReads = new WeakMap<ChangeFeed, WatchReads>();
const feedsOf = new WeakMap<Store, ChangeFeed>();

/** How many reads the watches of `store` made so far (see WatchReads.counts); zeros before its first watch. */
export function watchReadCounts(store: Store): { pages: number; symbols: number } {
  const feed = feedsOf.get(store);
  const counts = feed ? sharedReads.get(feed)?.counts : undefined;
  return { pages: counts?.pages ?? 0, symbols: counts?.symbols ?? 0 };
}

export function readsOf(store: Store, feed: ChangeFeed): WatchReads {
  let reads = sharedReads.get(feed);
  if (!reads) {
    const counts = { pages: 0, symbols: 0 };
    reads = {
      counts,
      // A page of rows stays what it was (later rows get higher seqs), so a kept one is still
      // right; an empty one is not kept (the log may have grown since).
      rows: sharedRecent((after: number, limit: number) => feed.read(after, limit), PAGES_KEPT, (rows) => rows.length > 0),
      bars: sharedInFlight((symbol: string, query: BarQuery) => {
        counts.symbols++;
        return store.getBars(symbol, query);
      }),
      latest: sharedInFlight((symbol: string) => store.latestBar(symbol)),
      page: sharedRecent(
        (rows: readonly ChangeRow[]) => {
          counts.pages++;
          return readPage(feed, rows);
        },
        PAGES_KEPT,
        () => true,
        (rows) => `${rows[0]!.seq}-${rows[rows.length - 1]!.seq}`,
      ),
    };
    sharedReads.set(feed, reads);
  }
  feedsOf.set(store, feed);
  return reads;
}

/** The stored bars of every minute upsert in `rows`: one range per symbol, from its lowest first to its highest last. */
async function readPage(feed: ChangeFeed, rows: readonly ChangeRow[]): Promise<PageBars | null> {
  const ranges = new Map<string, BarRange>();
  for (const row of rows) {
    if (row.series !== "minutes" || row.kind !== "upsert") continue;
    const range = ranges.get(row.symbol);
    if (!range) ranges.set(row.symbol, { symbol: row.symbol, first: row.first, last: row.last });
    else {
      range.first = Math.min(range.first, row.first);
      range.last = Math.max(range.last, row.last);
    }
  }
  const read = ranges.size === 0 ? [] : await feed.bars([...ranges.values()], PAGE_BARS);
  if (read.length >= PAGE_BARS) return null;
  const bySymbol = new Map<string, Bar[]>();
  for (const { symbol, ...bar } of read) {
    const bars = bySymbol.get(symbol);
    if (bars) bars.push(bar);
    else bySymbol.set(symbol, [bar]);
  }
  return bySymbol;
}

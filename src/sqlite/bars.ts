/**
 * market_data: bar upserts, range reads, resampling in SQL, deletes and the overview.
 */
import { BAR_VALUE_FIELDS, validateBars, type Bar, type BarColumns, type BarInput } from "../domain/bar.ts";
import type { SymbolOverview } from "../domain/store.ts";
import {
  INTERVAL_SPECS,
  readQuery,
  readRange,
  readResampling,
  type BarQuery,
  type BarTimestamp,
  type Interval,
  type ReadQuery,
  type TimeRange,
} from "../domain/query.ts";
import { assertSymbol } from "../domain/symbol.ts";
import { offsetSpanAt, wallTimeToUtc } from "../domain/time.ts";
import { guard, type Connection } from "./connection.ts";
import { prepareSeries } from "./series.ts";
import { prepareUpsert } from "./upsert.ts";

export interface BarSettings {
  readonly timezone: string;
  readonly barTimestamp: BarTimestamp;
}

/** One resampled bucket as SQL returns it; `bucket` is the bucket's start on the local clock minus `phase`. */
interface BucketRow {
  bucket: number;
  open: number | null;
  high: number | null;
  low: number | null;
  close: number | null;
  volume: number | null;
  amount: number | null;
}

/**
 * Buckets are computed on the local clock: x = timestamp + shift, where shift is the zone's
 * offset (constant over the span queried), minus 1 ms in end mode so a bar stamped at a bucket's
 * end falls in that bucket, minus the phase that aligns weeks on Monday. The bucket is x floored
 * to a multiple of size (floored correctly for negative x too). Open and close come from the
 * first and last bar of each bucket through two primary-key lookups.
 */
const RESAMPLE_SQL = `
SELECT g.bucket AS bucket, f.open AS open, g.high AS high, g.low AS low, l.close AS close,
       g.volume AS volume, g.amount AS amount
FROM (
  SELECT x - ((x % $size) + $size) % $size AS bucket,
         min(timestamp) AS first, max(timestamp) AS last,
         max(high) AS high, min(low) AS low, sum(volume) AS volume, sum(amount) AS amount
  FROM (
    SELECT timestamp, high, low, volume, amount, timestamp + $shift AS x
    FROM market_data
    WHERE symbol = $symbol AND timestamp BETWEEN $start AND $end
  )
  GROUP BY bucket
) AS g
JOIN market_data AS f ON f.symbol = $symbol AND f.timestamp = g.first
JOIN market_data AS l ON l.symbol = $symbol AND l.timestamp = g.last
ORDER BY g.bucket`;

const OVERVIEW_SQL = `
SELECT symbol, count(*) AS count, min(timestamp) AS start, max(timestamp) AS "end"
FROM market_data GROUP BY symbol ORDER BY symbol`;

export function createBarRepository(conn: Connection, settings: BarSettings) {
  const writeBars = prepareUpsert(conn, "market_data", BAR_VALUE_FIELDS);
  const series = prepareSeries<Bar>(conn, "market_data", BAR_VALUE_FIELDS);
  const resampleStatement = conn.prepare<BucketRow>(RESAMPLE_SQL);
  const overviewStatement = conn.prepare<SymbolOverview>(OVERVIEW_SQL);
  const { timezone } = settings;

  function resample(symbol: string, query: ReadQuery, interval: Interval, placement: BarTimestamp): Bar[] {
    const spec = INTERVAL_SPECS[interval];
    // Offsets are constant within a span, so each span is one SQL aggregation, walked from the
    // first bar in range to the last.
    const first = series.read(symbol, { ...query, limit: 1, order: "asc" })[0];
    const last = series.read(symbol, { ...query, limit: 1, order: "desc" })[0];
    if (!first || !last) return [];
    const endMode = placement === "end" ? 1 : 0;
    const bars: Bar[] = [];
    let previousKey: number | undefined;
    let cursor = first.timestamp;
    for (;;) {
      const span = offsetSpanAt(timezone, cursor);
      const spanLast = Math.min(span.end - 1, last.timestamp);
      const rows = guard(() =>
        resampleStatement.all({
          symbol,
          start: cursor,
          end: spanLast,
          size: spec.ms,
          shift: span.offset - endMode - spec.phase,
        } as never),
      );
      for (const row of rows) {
        const localStart = row.bucket + spec.phase;
        // Calendar buckets carry the start of their local day or week (the trading date) in both
        // modes; intraday buckets carry their start, or their end in end mode.
        const timestamp = spec.calendar
          ? wallTimeToUtc(localStart, timezone)
          : localStart - span.offset + endMode * spec.ms;
        const { bucket: _bucket, ...values } = row;
        const bar: Bar = { timestamp, ...values };
        const previous = bars[bars.length - 1];
        // A bucket cut in two by an offset change (a DST day) or a span edge is merged back.
        if (previous && previousKey === timestamp) mergeInto(previous, bar);
        else bars.push(bar);
        previousKey = timestamp;
      }
      if (spanLast >= last.timestamp) break;
      // Jump to the next bar after this span: sparse data never walks empty years of zone rules.
      const next = series.read(symbol, { start: spanLast + 1, end: last.timestamp, limit: 1, order: "asc" })[0];
      if (!next) break;
      cursor = next.timestamp;
    }
    if (query.order === "desc") bars.reverse();
    return query.limit < 0 ? bars : bars.slice(0, query.limit);
  }

  return {
    insert(symbol: string, bars: readonly BarInput[] | BarColumns): number {
      assertSymbol(symbol);
      const batch = validateBars(bars, timezone);
      if (batch.length === 0) return 0;
      return conn.writeTransaction(() => writeBars(symbol, batch));
    },

    get(symbol: string, query?: BarQuery): Bar[] {
      assertSymbol(symbol);
      const read = readQuery(query, timezone);
      const { interval, barTimestamp } = readResampling(query, settings.barTimestamp);
      return interval ? resample(symbol, read, interval, barTimestamp) : series.read(symbol, read);
    },

    *iterate(symbol: string, query?: BarQuery): Generator<Bar> {
      assertSymbol(symbol);
      const read = readQuery(query, timezone);
      const { interval, barTimestamp } = readResampling(query, settings.barTimestamp);
      // Resampled results are one row per bucket, already far smaller than their source.
      if (interval) yield* resample(symbol, read, interval, barTimestamp);
      else yield* series.iterate(symbol, read);
    },

    latest(symbol: string): Bar | null {
      assertSymbol(symbol);
      return series.latest(symbol);
    },

    delete(symbol: string, range?: TimeRange): number {
      assertSymbol(symbol);
      const read = readRange(range, timezone);
      return conn.writeTransaction(() => series.delete(symbol, read));
    },

    /** Exact: computed from market_data itself on every call, never from a counter that can drift. */
    overview(): SymbolOverview[] {
      return guard(() => overviewStatement.all());
    },
  };
}

export type BarRepository = ReturnType<typeof createBarRepository>;

function mergeInto(target: Bar, next: Bar): void {
  target.high = pick(target.high, next.high, Math.max);
  target.low = pick(target.low, next.low, Math.min);
  target.close = next.close;
  target.volume = pick(target.volume, next.volume, (a, b) => a + b);
  target.amount = pick(target.amount, next.amount, (a, b) => a + b);
}

/** Combines two nullable aggregates the way SQL does: NULLs are ignored. */
function pick(a: number | null, b: number | null, combine: (a: number, b: number) => number): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return combine(a, b);
}

/**
 * market_data: bar upserts, range reads, resampling in SQL, deletes and the overview.
 */
import { BAR_VALUE_FIELDS, validateBars, type Bar, type BarColumns, type BarInput } from "../domain/bar.ts";
import type { SymbolOverview } from "../domain/store.ts";
import {
  BAR_QUERY_KEYS,
  readQuery,
  readRange,
  readResampling,
  type BarQuery,
  type BarTimestamp,
  type Interval,
  type ReadQuery,
  type ReadRange,
  type TimeRange,
} from "../domain/query.ts";
import { assertSymbol } from "../domain/symbol.ts";
import { resamplePlan, type BucketRow, type ResampleAnswer } from "../domain/resample.ts";
import { timeSpan } from "../domain/batch.ts";
import type { AuditRecorder } from "./audit.ts";
import { guard, type Connection } from "./connection.ts";
import { prepareSeries } from "./series.ts";
import { prepareUpsert } from "./upsert.ts";

/** Read at each call: a settings change takes effect on the next one. */
export interface BarSettings {
  readonly timezone: string;
  readonly barTimestamp: BarTimestamp;
  readonly allowSecondsLikeTimestamps?: boolean;
}

/**
 * Buckets are computed on the local clock: x = timestamp + shift, where shift is the zone's
 * offset (constant over the span queried), minus 1 ms in end mode so a bar stamped at a bucket's
 * end falls in that bucket, minus the phase that aligns weeks on Monday. The bucket is x floored
 * to a multiple of size (floored correctly for negative x too). Open and close come from the
 * first and last bar of each bucket through two primary-key lookups. Volume is summed as REAL:
 * an integer sum() overflows past 2^63 with an error, and a JavaScript number is a double anyway.
 */
const RESAMPLE_SQL = `
SELECT g.bucket AS bucket, f.open AS open, g.high AS high, g.low AS low, l.close AS close,
       g.volume AS volume, g.amount AS amount
FROM (
  SELECT x - ((x % $size) + $size) % $size AS bucket,
         min(timestamp) AS first, max(timestamp) AS last,
         max(high) AS high, min(low) AS low,
         sum(CAST(volume AS REAL)) AS volume, sum(amount) AS amount
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

export function createBarRepository(conn: Connection, settings: BarSettings, audit: AuditRecorder) {
  const writeBars = prepareUpsert(conn, "market_data", BAR_VALUE_FIELDS);
  const series = prepareSeries<Bar>(conn, "market_data", BAR_VALUE_FIELDS);
  const resampleStatement = conn.prepare<BucketRow>(RESAMPLE_SQL);
  const overviewStatement = conn.prepare<SymbolOverview>(OVERVIEW_SQL);
  // Any write to a symbol's bars tells its session cache file (if there is one) that
  // market_data has moved on without it; the cache rebuilds from market_data on next use.
  const bumpCacheVersion = conn.prepare("UPDATE session_cache SET market_version = market_version + 1 WHERE symbol = ?");

  /** The first bar at or after `from` within the range, or undefined. */
  function nextBar(symbol: string, from: number, end: number): Bar | undefined {
    return from > end ? undefined : series.read(symbol, { start: from, end, limit: 1, order: "asc" })[0];
  }

  /** Resampled bars in ascending order, streamed: the shared plan, answered here in SQL. */
  function* resample(symbol: string, range: ReadRange, interval: Interval, placement: BarTimestamp): Generator<Bar> {
    const plan = resamplePlan(range, interval, placement, settings.timezone);
    let answer: ResampleAnswer;
    for (;;) {
      const step = plan.next(answer);
      if (step.done) return;
      const request = step.value;
      if (request.kind === "bar") {
        answer = undefined;
        yield request.bar;
      } else if (request.kind === "seek") {
        answer = nextBar(symbol, request.from, request.end)?.timestamp;
      } else {
        conn.assertOpen();
        answer = guard(() =>
          resampleStatement.all({ symbol, start: request.start, end: request.end, size: request.size, shift: request.shift } as never),
        );
      }
    }
  }

  function* resampled(symbol: string, query: ReadQuery, interval: Interval, placement: BarTimestamp): Generator<Bar> {
    if (query.order === "desc") {
      // Buckets are built oldest first; newest-first order needs them all before the first.
      const all = [...resample(symbol, query, interval, placement)].reverse();
      yield* query.limit < 0 ? all : all.slice(0, query.limit);
      return;
    }
    let remaining = query.limit < 0 ? Infinity : query.limit;
    for (const bar of resample(symbol, query, interval, placement)) {
      if (remaining-- <= 0) return;
      yield bar;
    }
  }

  return {
    insert(symbol: string, bars: readonly BarInput[] | BarColumns): number {
      assertSymbol(symbol);
      const batch = validateBars(bars, settings);
      if (batch.length === 0) return 0;
      return conn.writeTransaction(() => {
        bumpCacheVersion.run(symbol as never);
        const written = writeBars(symbol, batch);
        audit("bars.insert", symbol, { rows: written, ...timeSpan(batch.timestamp) });
        return written;
      });
    },

    get(symbol: string, query?: BarQuery): Bar[] {
      assertSymbol(symbol);
      const read = readQuery(query, settings, BAR_QUERY_KEYS);
      const { interval, barTimestamp } = readResampling(query, settings.barTimestamp);
      return interval ? [...resampled(symbol, read, interval, barTimestamp)] : series.read(symbol, read);
    },

    iterate(symbol: string, query?: BarQuery): Generator<Bar> {
      // Arguments are checked now, not at the first next(): a bad query fails where it is made.
      assertSymbol(symbol);
      const read = readQuery(query, settings, BAR_QUERY_KEYS);
      const { interval, barTimestamp } = readResampling(query, settings.barTimestamp);
      return interval ? resampled(symbol, read, interval, barTimestamp) : series.iterate(symbol, read);
    },

    latest(symbol: string): Bar | null {
      assertSymbol(symbol);
      return series.latest(symbol);
    },

    delete(symbol: string, range?: TimeRange): number {
      assertSymbol(symbol);
      const read = readRange(range, settings);
      return conn.writeTransaction(() => {
        bumpCacheVersion.run(symbol as never);
        const deleted = series.delete(symbol, read);
        audit("bars.delete", symbol, { deleted, start: read.start, end: read.end });
        return deleted;
      });
    },

    /** Exact: computed from market_data itself on every call, never from a counter that can drift. */
    overview(): SymbolOverview[] {
      return guard(() => overviewStatement.all());
    },
  };
}

export type BarRepository = ReturnType<typeof createBarRepository>;

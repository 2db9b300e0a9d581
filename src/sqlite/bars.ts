/**
 * market_data and market_data_daily: bar upserts, range reads, resampling in SQL, deletes and
 * the overview. Daily bars from daily files are their own series (src/domain/daily.ts); a `1d`
 * read merges them with days resampled from the minutes unless `source` picks one side.
 */
import { BAR_VALUE_FIELDS, validateBars, type Bar, type BarColumns, type BarInput } from "../domain/bar.ts";
import type { CompletenessQuery, OverviewOptions, SeriesOverview, SymbolOverview } from "../domain/store.ts";
import {
  BAR_QUERY_KEYS,
  inQueryOrder,
  readQuery,
  readRange,
  readResampling,
  readSignal,
  throwIfCancelled,
  type BarQuery,
  type Align,
  type BarSource,
  type Cancellation,
  type BarTimestamp,
  type ClockInterval,
  type Interval,
  type ReadQuery,
  type ReadRange,
  type TimeRange,
} from "../domain/query.ts";
import { assertSymbol } from "../domain/symbol.ts";
import { RESAMPLE_WINDOW_SPAN_MS, resamplePlan, type BucketRow, type ResampleAnswer } from "../domain/resample.ts";
import {
  barFiller,
  fillingOf,
  fillMissing,
  resampleStored,
  resamplingOf,
  sessionResampler,
  sessionStamps,
  startCompleteness,
  type Completeness,
  type Filling,
  type Resampling,
} from "../domain/session.ts";
import { readOverviewOptions, withCompletenessCounts } from "../domain/overview.ts";
import { MIN_TIMESTAMP } from "../domain/time.ts";
import type { AdjustmentFactor } from "../domain/adjustment.ts";
import { adjusted, barAdjuster, readAdjustment, type BarAdjuster } from "../domain/adjusted-reads.ts";
import type { Calendar } from "../domain/calendar.ts";
import { timeSpan } from "../domain/batch.ts";
import { checkDailyStamps, mergeDaily, mergeOverviews, readSeriesOptions, type SeriesOptions } from "../domain/daily.ts";
import { readInsertOptions, type InsertBarsOptions } from "../domain/audit-rollup.ts";
import type { AuditRecorder } from "./audit.ts";
import { guard, type Connection } from "./connection.ts";
import { PAGE_ROWS, prepareRangeSelect, prepareSeries } from "./series.ts";
import { prepareUpsert } from "./upsert.ts";
import { prepareCountedInsert, SUMMARY_OVERVIEW_SQL } from "./summary.ts";
import { prepareChangeLog } from "./changes.ts";
import { prepareOwnWrite } from "./own-write.ts";
import { createDerivedDays } from "./derived-days.ts";
import { derivedBars, derivedReadable, planDerivedRead } from "../domain/derived-reads.ts";
import { batchSize } from "../domain/batch.ts";

/** Read at each call: a settings change takes effect on the next one. */
export interface BarSettings {
  readonly timezone: string;
  readonly barTimestamp: BarTimestamp;
  /** The exchange calendar a symbol's session-aligned reads follow; null when it has none. */
  readonly calendarOf?: (symbol: string) => Calendar | null;
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


/** Prices times ?1, and volume divided by it too or not: adjusted bars of a one-ratio range. */
const SCALED_PRICES = "timestamp, open * ?1 AS open, high * ?1 AS high, low * ?1 AS low, close * ?1 AS close";
function prepareScaledReads(conn: Connection, table: string) {
  return {
    prices: prepareRangeSelect<Bar>(conn, table, `${SCALED_PRICES}, volume, amount`, true),
    // CAST: a whole ratio (2) is bound as an INTEGER, and INTEGER / INTEGER truncates in SQL.
    volume: prepareRangeSelect<Bar>(conn, table, `${SCALED_PRICES}, volume / CAST(?1 AS REAL) AS volume, amount`, true),
  };
}

/** The parts of a checked bar query that shape its rows. */
interface Shape {
  interval: Interval | undefined;
  barTimestamp: BarTimestamp;
  align: Align;
  source?: BarSource;
  derived?: false;
}

/**
 * `factorsOf` reads a symbol's adjustment factors (every row, ascending), once per adjusted read.
 */
export function createBarRepository(
  conn: Connection,
  settings: BarSettings,
  audit: AuditRecorder,
  factorsOf: (symbol: string) => AdjustmentFactor[] = () => [],
) {
  const writeBars = prepareUpsert(conn, "market_data", BAR_VALUE_FIELDS);
  const series = prepareSeries<Bar>(conn, "market_data", BAR_VALUE_FIELDS);
  const resampleStatement = conn.prepare<BucketRow>(RESAMPLE_SQL);
  const overviewStatement = conn.prepare<{ symbol: string } & SeriesOverview>(SUMMARY_OVERVIEW_SQL);
  const countedInsert = prepareCountedInsert(conn, prepareOwnWrite(conn));
  const appendChange = prepareChangeLog(conn);
  const writeDaily = prepareUpsert(conn, "market_data_daily", BAR_VALUE_FIELDS);
  const daily = prepareSeries<Bar>(conn, "market_data_daily", BAR_VALUE_FIELDS);
  const scaledMinutes = prepareScaledReads(conn, "market_data");
  const scaledDays = prepareScaledReads(conn, "market_data_daily");
  const derivedDays = createDerivedDays(conn, series, () => ({ timezone: settings.timezone, barTimestamp: settings.barTimestamp }));
  const timestampPage = conn.prepare(
    "SELECT timestamp FROM market_data WHERE symbol = ? AND timestamp BETWEEN ? AND ? ORDER BY timestamp LIMIT ?",
  );
  // Any write to a symbol's bars tells its session cache file (if there is one) that
  // market_data has moved on without it; the cache rebuilds from market_data on next use.
  const bumpCacheVersion = conn.prepare("UPDATE session_cache SET market_version = market_version + 1 WHERE symbol = ?");

  /** The first bar at or after `from` within the range, or undefined. */
  function nextBar(symbol: string, from: number, end: number): Bar | undefined {
    return from > end ? undefined : series.read(symbol, { start: from, end, limit: 1, order: "asc" })[0];
  }

  /**
   * Resampled bars in ascending order, streamed: the shared plan answered in SQL, or by session.
   * A cancelled `signal` stops it between seeks and aggregations (or pages).
   */
  function* resample(symbol: string, range: ReadRange, how: Resampling, signal: Cancellation | undefined): Generator<Bar> {
    if (how.calendar !== undefined) {
      const stored = series.iterate(symbol, { ...range, limit: -1, order: "asc" }, signal);
      yield* resampleStored(stored, sessionResampler(how.calendar, how.interval, how.placement, settings.timezone));
      return;
    }
    const plan = resamplePlan(range, how.interval as ClockInterval, how.placement, settings.timezone, RESAMPLE_WINDOW_SPAN_MS);
    let answer: ResampleAnswer;
    for (;;) {
      const step = plan.next(answer);
      if (step.done) return;
      const request = step.value;
      if (request.kind === "bar") {
        answer = undefined;
        yield request.bar;
        continue;
      }
      throwIfCancelled(signal);
      if (request.kind === "seek") {
        answer = nextBar(symbol, request.from, request.end)?.timestamp;
      } else {
        conn.assertOpen();
        answer = guard(() =>
          resampleStatement.all({ symbol, start: request.start, end: request.end, size: request.size, shift: request.shift } as never),
        );
      }
    }
  }

  /**
   * A checked bar query's rows: as stored; resampled; for `1d` the stored days, the resampled
   * days, or both merged with the stored day winning; and filled on the calendar's grid when
   * asked (src/domain/session.ts), then in the query's order and limit. Checked and resolved
   * now, so a bad query fails where it is made, not at the first next().
   */
  function rows(symbol: string, query: BarQuery | undefined, whole: boolean): Iterable<Bar> {
    assertSymbol(symbol);
    const read = readQuery(query, settings, BAR_QUERY_KEYS);
    const { interval, barTimestamp, align, fill, source, derived } = readResampling(query, settings.barTimestamp);
    const signal = readSignal(query);
    const adjustment = readAdjustment(query, settings);
    // A read whose caller already left is not started (a whole read is one statement: this is
    // the only place it can stop).
    throwIfCancelled(signal);
    const filling = fillingOf(symbol, interval, align, fill, settings.calendarOf);
    if (adjustment) {
      const adjust = barAdjuster(factorsOf(symbol), adjustment, settings.timezone);
      return adjustedRows(symbol, read, { interval, barTimestamp, align, source, ...(derived === false ? { derived } : {}) }, filling, adjust, whole, signal);
    }
    if (!filling) {
      // One prepared statement answers a plain read, in its order and limit.
      if (interval === undefined) return whole ? series.read(symbol, read) : series.iterate(symbol, read, signal);
      if (source === "stored") return whole ? daily.read(symbol, read) : daily.iterate(symbol, read, signal);
    }
    return ascendingRows(symbol, read, { interval, barTimestamp, align, source, ...(derived === false ? { derived } : {}) }, filling, undefined, signal);
  }

  /**
   * An adjusted read: each stored bar adjusted in place as it is read, then resampled by the
   * shared TypeScript resampler (clock buckets through sessionResampler with no calendar), so a
   * resampled bar is the resampling of adjusted bars and every backend computes it alike.
   */
  function adjustedRows(
    symbol: string,
    read: ReadQuery,
    how: Shape,
    filling: Filling | undefined,
    adjust: BarAdjuster,
    whole: boolean,
    signal: Cancellation | undefined,
  ): Iterable<Bar> {
    if (!filling && (how.interval === undefined || how.source === "stored")) {
      const stored = how.interval === undefined ? series : daily;
      // A range with one ratio (a one-day read) is scaled in the statement, as SQLite multiplies
      // doubles exactly as JavaScript does: touching every row object in JavaScript instead
      // cost a third of a one-day read (the bench's case 19).
      const ratio = whole ? adjust.ratioOver(read.start, read.end) : undefined;
      if (ratio !== undefined) {
        const scaled = how.interval === undefined ? scaledMinutes : scaledDays;
        return (adjust.adjustVolume ? scaled.volume : scaled.prices)(symbol, read.start, read.end, read.limit, read.order, ratio);
      }
      if (whole) {
        const bars = stored.read(symbol, read);
        for (let i = 0; i < bars.length; i++) adjust(bars[i]!);
        return bars;
      }
      return adjusted(stored.iterate(symbol, read, signal), adjust);
    }
    return ascendingRows(symbol, read, how, filling, adjust, signal);
  }

  /**
   * `1d`, `1w` or `1M` from the derived days (src/sqlite/derived-days.ts), the buckets they
   * cannot answer exactly resampled by `onTheFly`; undefined when the symbol's days are not built.
   */
  function derivedRead(
    symbol: string,
    range: ReadRange,
    interval: Interval,
    barTimestamp: BarTimestamp,
    adjust: BarAdjuster | undefined,
    onTheFly: (range: ReadRange) => Iterable<Bar>,
  ): Iterable<Bar> | undefined {
    const basis = { timezone: settings.timezone, barTimestamp };
    conn.assertOpen();
    const found = guard(() => derivedDays.read(symbol, range, basis));
    if (!found) return undefined;
    return derivedBars(planDerivedRead({ interval, range, basis, ...(adjust ? { adjust } : {}) }, found.days, found.dirty), onTheFly);
  }

  /** The general read: ascending, resampled, merged, filled, then in the query's order and limit. */
  function ascendingRows(
    symbol: string,
    read: ReadQuery,
    shape: Shape,
    filling: Filling | undefined,
    adjust: BarAdjuster | undefined,
    signal: Cancellation | undefined,
  ): Iterable<Bar> {
    const { interval, barTimestamp, align, source } = shape;
    const ascending = { ...read, limit: -1, order: "asc" as const };
    const stored = (reader: typeof series) => (adjust ? adjusted(reader.iterate(symbol, ascending, signal), adjust) : reader.iterate(symbol, ascending, signal));
    let asc: Iterable<Bar>;
    if (interval === undefined) asc = stored(series);
    else if (source === "stored") asc = stored(daily);
    else {
      const how = resamplingOf(symbol, interval, barTimestamp, align, settings.calendarOf);
      const onTheFly = (range: ReadRange): Iterable<Bar> =>
        adjust
          ? resampleStored(
              adjusted(series.iterate(symbol, { ...range, limit: -1, order: "asc" }, signal), adjust),
              sessionResampler(how.calendar ?? null, interval, barTimestamp, settings.timezone),
            )
          : resample(symbol, range, how, signal);
      const resampled = (derivedReadable(shape, how, settings.timezone) && derivedRead(symbol, read, interval, barTimestamp, adjust, onTheFly)) || onTheFly(read);
      asc = interval === "1d" && source === undefined ? mergeDaily(stored(daily), resampled) : resampled;
    }
    if (filling) {
      let before = read.start === MIN_TIMESTAMP ? undefined : series.read(symbol, { start: MIN_TIMESTAMP, end: read.start - 1, limit: 1, order: "desc" })[0];
      if (before && adjust) before = adjust(before);
      const stampsFrom = (from: number) => sessionStamps(filling.calendar, filling.interval, barTimestamp, from, read.end);
      asc = fillMissing(asc, barFiller(stampsFrom, before?.close ?? null, read.start));
    }
    return inQueryOrder(asc, read);
  }

  return {
    insert(symbol: string, bars: readonly BarInput[] | BarColumns, options?: InsertBarsOptions): number {
      assertSymbol(symbol);
      const { target, grain } = readInsertOptions(options);
      const batch = validateBars(bars, settings);
      if (target === "daily") checkDailyStamps(batch, settings.timezone);
      if (batch.length === 0) return 0;
      if (target === "daily") {
        // The session cache holds market_data's bars only: a daily write leaves it in step.
        return conn.writeTransaction(() => {
          const written = writeDaily(symbol, batch);
          audit("bars.insert", symbol, { interval: "1d", rows: written, ...timeSpan(batch.timestamp) });
          return written;
        });
      }
      const span = timeSpan(batch.timestamp);
      return conn.writeTransaction(() => {
        bumpCacheVersion.run(symbol as never);
        // The hot path counts its batch for market_data_summary itself (src/sqlite/summary.ts says why).
        const written = countedInsert(symbol, span.start, span.end, () => writeBars(symbol, batch));
        // One change row for the batch, as the triggers it switched off would have written per row.
        appendChange(symbol, span.start, span.end);
        derivedDays.afterInsert(symbol, batch, batchSize(batch));
        audit.appended(symbol, written, span.start, span.end, grain);
        return written;
      });
    },

    get(symbol: string, query?: BarQuery): Bar[] {
      const found = rows(symbol, query, true);
      return Array.isArray(found) ? found : [...found];
    },

    iterate(symbol: string, query?: BarQuery): Generator<Bar> {
      return rows(symbol, query, false) as Generator<Bar>;
    },

    latest(symbol: string): Bar | null {
      assertSymbol(symbol);
      return series.latest(symbol);
    },

    delete(symbol: string, range?: TimeRange, options?: SeriesOptions): number {
      assertSymbol(symbol);
      const target = readSeriesOptions(options);
      const read = readRange(range, settings);
      if (target === "daily") {
        return conn.writeTransaction(() => {
          const deleted = daily.delete(symbol, read);
          audit("bars.delete", symbol, { interval: "1d", deleted, start: read.start, end: read.end });
          return deleted;
        });
      }
      return conn.writeTransaction(() => {
        bumpCacheVersion.run(symbol as never);
        const deleted = series.delete(symbol, read);
        derivedDays.afterDelete(symbol);
        audit("bars.delete", symbol, { deleted, start: read.start, end: read.end });
        return deleted;
      });
    },

    /** The symbol's stored timestamps against its calendar's sessions, read a page at a time. */
    completeness(symbol: string, query?: CompletenessQuery): Completeness {
      assertSymbol(symbol);
      const { range, counter } = startCompleteness(symbol, query, settings);
      let from = range.start;
      for (;;) {
        conn.assertOpen();
        const page = guard(() => timestampPage.values(symbol as never, from as never, range.end as never, PAGE_ROWS as never)) as [number][];
        for (const [timestamp] of page) counter.push(timestamp);
        if (page.length < PAGE_ROWS) break;
        from = page[page.length - 1]![0] + 1;
      }
      return counter.finish();
    },

    /**
     * One row per symbol from market_data_summary (src/sqlite/summary.ts: kept exact by triggers
     * in every writer's transaction), so it costs O(symbols), not O(bars). `completeness: true`
     * still reads every stored minute of every symbol with a calendar (what `gaps --all` costs).
     */
    overview(options?: OverviewOptions): SymbolOverview[] {
      const counts = readOverviewOptions(options);
      const rows = guard(() => mergeOverviews(overviewStatement.all("minutes" as never), overviewStatement.all("daily" as never)));
      if (!counts) return rows;
      return rows.map((row) => (settings.calendarOf?.(row.symbol) ? withCompletenessCounts(row, this.completeness(row.symbol)) : row));
    },

    /** Builds the derived days of every symbol not built yet, one per transaction (src/sqlite/derived-days.ts). */
    buildDerivedDays(): number {
      return derivedDays.buildAll();
    },
  };
}

export type BarRepository = ReturnType<typeof createBarRepository>;

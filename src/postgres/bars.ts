/**
 * market_data and market_data_daily (daily bars: src/domain/daily.ts) on PostgreSQL: set-based
 * upserts, range reads (stored or resampled in SQL, whole or paged), deletes, the overview. The
 * same inputs give the same results as src/sqlite/bars.ts (test/postgres/bars.test.ts and
 * differential.test.ts compare them, resampling across DST changes and daily reads included).
 *
 * Inserts send each column as one array parameter and unnest them (one statement text whatever
 * the batch: a `sql(rows)` helper would leave a new server-side prepared statement per batch
 * shape). Duplicate timestamps inside a batch are resolved before the statement, last one
 * winning, by the domain's write order, so ON CONFLICT never meets a row twice. int8 comes back
 * from Bun.SQL as a string; reads cast it to float8 (exact below 2^53, which every epoch ms the
 * store accepts is), so a Bar holds numbers as SQLite's does. Timestamp parameters are cast
 * to bigint, so the comparison is bigint with bigint whatever type Bun gives a number. ORDER BY names market_data.timestamp: the bare name would be
 * the float8 output column, which the index does not order (a sort of every row in range, and
 * latestBar reading the whole symbol).
 */
import type { SQL } from "bun";
import { batchSize, rowAt, timeSpan } from "../domain/batch.ts";
import { BAR_VALUE_FIELDS, validateBars, type Bar, type BarColumns, type BarInput } from "../domain/bar.ts";
import {
  BAR_QUERY_KEYS,
  inQueryOrderAsync,
  readQuery,
  readRange,
  readResampling,
  readSignal,
  throwIfCancelled,
  type BarQuery,
  type BarTimestamp,
  type Cancellation,
  type ClockInterval,
  type Interval,
  type ReadQuery,
  type ReadRange,
  type TimeRange,
} from "../domain/query.ts";
import { resamplePlan, type BucketRow, type ResampleAnswer } from "../domain/resample.ts";
import {
  barFiller,
  fillingOf,
  fillMissingAsync,
  resampleStoredAsync,
  resamplingOf,
  sessionResampler,
  sessionStamps,
  startCompleteness,
  type Completeness,
  type Resampling,
} from "../domain/session.ts";
import { readOverviewOptions, withCompletenessCounts } from "../domain/overview.ts";
import type { Calendar } from "../domain/calendar.ts";
import type { CompletenessQuery, OverviewOptions, SeriesOverview, SymbolOverview } from "../domain/store.ts";
import { checkDailyStamps, mergeDaily, mergeOverviews, readSeriesOptions, type SeriesOptions } from "../domain/daily.ts";
import { assertSymbol } from "../domain/symbol.ts";
import { MAX_TIMESTAMP, MIN_TIMESTAMP } from "../domain/time.ts";
import type { AdjustmentFactor } from "../domain/adjustment.ts";
import { adjustedAsync, barAdjuster, readAdjustment, type BarAdjuster } from "../domain/adjusted-reads.ts";
import { readInsertOptions, type AuditGrain, type InsertBarsOptions } from "../domain/audit-rollup.ts";
import { lockAuditChain, type AuditRecorder } from "./audit.ts";
import { READ_COMMITTED, type PostgresPool } from "./connection.ts";
import { createDerivedDays } from "./derived-days.ts";
import { derivedBarsAsync, derivedReadable, planDerivedRead } from "../domain/derived-reads.ts";

/** Read at each call: a settings change takes effect on the next one. */
export interface BarSettings {
  readonly timezone: string;
  readonly barTimestamp: BarTimestamp;
  /** The exchange calendar a symbol's session-aligned reads follow; null when it has none. */
  readonly calendarOf?: (symbol: string) => Calendar | null;
  readonly allowSecondsLikeTimestamps?: boolean;
}

/** Rows per INSERT statement: large enough to amortise the round trip, bounded in memory. */
const ROWS_PER_STATEMENT = 50_000;

/** Rows per page when iterating, as SQLite's (keyset pagination, no cursor held open). */
const PAGE_ROWS = 8_192;

/**
 * Awaits a query, cancelled on the server (Bun.SQL's query.cancel()) when `signal` aborts while
 * it runs; not started at all when it already has. Either way it rejects with CANCELLED.
 */
export async function cancellable<T>(query: PromiseLike<T> & { cancel(): unknown }, signal: Cancellation | undefined): Promise<T> {
  throwIfCancelled(signal);
  const events = signal as Partial<AbortSignal> | undefined;
  if (typeof events?.addEventListener !== "function") return await query;
  const onAbort = () => query.cancel();
  events.addEventListener("abort", onAbort, { once: true });
  try {
    return await query;
  } catch (error) {
    throwIfCancelled(signal);
    throw error;
  } finally {
    events.removeEventListener!("abort", onAbort);
  }
}

/**
 * `audit`, when given, records `bars.insert` and `bars.delete` in the mutation's transaction, with
 * the details SQLite's records (the Store passes it; the repository alone writes no audit).
 */
/**
 * `factorsOf` reads a symbol's adjustment factors (every row, ascending), once per adjusted read.
 */
export function createBarRepository(
  pool: PostgresPool,
  settings: BarSettings,
  audit?: AuditRecorder,
  factorsOf: (symbol: string) => Promise<AdjustmentFactor[]> = async () => [],
) {
  /**
   * The adjuster of a query that adjusts, its factors read now (once for the call); undefined
   * for a raw read. Kept from being an unhandled rejection until a read awaits it.
   */
  function adjusterOf(symbol: string, query: BarQuery | undefined): Promise<BarAdjuster> | undefined {
    const adjustment = readAdjustment(query, settings);
    if (!adjustment) return undefined;
    const adjusting = factorsOf(symbol).then((factors) => barAdjuster(factors, adjustment, settings.timezone));
    adjusting.catch(() => {});
    return adjusting;
  }

  const derivedDays = createDerivedDays(
    pool,
    () => ({ timezone: settings.timezone, barTimestamp: settings.barTimestamp }),
    (tx, symbol, start, end, limit) => page(symbol, start, end, limit, "asc", { on: tx }),
  );

  async function upsert(tx: SQL, symbol: string, timestamps: number[], values: (number | null)[][]): Promise<void> {
    const [open, high, low, close, volume, amount] = values;
    await tx`
      INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume, amount)
      SELECT ${symbol}, t.timestamp, t.open, t.high, t.low, t.close, t.volume, t.amount
      FROM unnest(${timestamps}::bigint[], ${open}::float8[], ${high}::float8[], ${low}::float8[],
                  ${close}::float8[], ${volume}::float8[], ${amount}::float8[])
           AS t(timestamp, open, high, low, close, volume, amount)
      ON CONFLICT (symbol, timestamp) DO UPDATE SET
        open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
        volume = excluded.volume, amount = excluded.amount`;
  }

  async function upsertDaily(tx: SQL, symbol: string, timestamps: number[], values: (number | null)[][]): Promise<void> {
    const [open, high, low, close, volume, amount] = values;
    await tx`
      INSERT INTO market_data_daily (symbol, timestamp, open, high, low, close, volume, amount)
      SELECT ${symbol}, t.timestamp, t.open, t.high, t.low, t.close, t.volume, t.amount
      FROM unnest(${timestamps}::bigint[], ${open}::float8[], ${high}::float8[], ${low}::float8[],
                  ${close}::float8[], ${volume}::float8[], ${amount}::float8[])
           AS t(timestamp, open, high, low, close, volume, amount)
      ON CONFLICT (symbol, timestamp) DO UPDATE SET
        open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
        volume = excluded.volume, amount = excluded.amount`;
  }

  /** Stored daily bars of one range, whole (a symbol has one row per trading day: thousands). */
  async function days(symbol: string, query: ReadQuery): Promise<Bar[]> {
    const { start, end, order } = query;
    const limit = query.limit < 0 ? null : query.limit;
    const rows = await pool.run(async (sql) =>
      order === "desc"
        ? ((await sql`SELECT timestamp::float8 AS timestamp, open, high, low, close, volume, amount FROM market_data_daily
              WHERE symbol = ${symbol} AND timestamp BETWEEN ${start}::bigint AND ${end}::bigint
              ORDER BY market_data_daily.timestamp DESC LIMIT ${limit}`) as Bar[])
        : ((await sql`SELECT timestamp::float8 AS timestamp, open, high, low, close, volume, amount FROM market_data_daily
              WHERE symbol = ${symbol} AND timestamp BETWEEN ${start}::bigint AND ${end}::bigint
              ORDER BY market_data_daily.timestamp ASC LIMIT ${limit}`) as Bar[]),
    );
    return [...rows];
  }

  /**
   * Stored bars of one range, on the pool or inside a caller's transaction (`on`); cancelled on
   * the server when `signal` aborts.
   */
  async function page(
    symbol: string,
    start: number,
    end: number,
    limit: number | null,
    order: "asc" | "desc",
    { on, signal }: { on?: SQL; signal?: Cancellation } = {},
  ): Promise<Bar[]> {
    const read = async (sql: SQL) =>
      order === "desc"
        ? ((await cancellable(sql`SELECT timestamp::float8 AS timestamp, open, high, low, close, volume, amount FROM market_data
              WHERE symbol = ${symbol} AND timestamp BETWEEN ${start}::bigint AND ${end}::bigint
              ORDER BY market_data.timestamp DESC LIMIT ${limit}`, signal)) as Bar[])
        : ((await cancellable(sql`SELECT timestamp::float8 AS timestamp, open, high, low, close, volume, amount FROM market_data
              WHERE symbol = ${symbol} AND timestamp BETWEEN ${start}::bigint AND ${end}::bigint
              ORDER BY market_data.timestamp ASC LIMIT ${limit}`, signal)) as Bar[]);
    const rows = on ? await read(on) : await pool.run(read);
    // Rows arrive as plain objects with the columns in SELECT order: a Bar as SQLite gives it.
    return [...rows];
  }

  async function* stored(symbol: string, query: ReadQuery, signal?: Cancellation): AsyncGenerator<Bar> {
    let { start, end } = query;
    let remaining = query.limit < 0 ? Infinity : query.limit;
    while (remaining > 0 && start <= end) {
      const rows = await page(symbol, start, end, Math.min(PAGE_ROWS, remaining), query.order, { signal });
      yield* rows;
      remaining -= rows.length;
      if (rows.length < PAGE_ROWS) return;
      const last = rows[rows.length - 1]!.timestamp;
      if (query.order === "asc") start = last + 1;
      else end = last - 1;
    }
  }

  /**
   * Buckets of one span and window (see src/domain/resample.ts). Open and close come from the
   * first and last bar of each bucket; sums use tradelite_ksum, SQLite's compensated summation,
   * in timestamp order, so every resampled value equals SQLite's to the last bit.
   */
  async function aggregate(symbol: string, start: number, end: number, size: number, shift: number, signal: Cancellation | undefined): Promise<BucketRow[]> {
    return pool.run(
      async (sql) =>
        (await cancellable(sql`
          SELECT g.bucket::float8 AS bucket, f.open AS open, g.high AS high, g.low AS low, l.close AS close,
                 g.volume AS volume, g.amount AS amount
          FROM (
            SELECT x - (((x % ${size}::bigint) + ${size}::bigint) % ${size}::bigint) AS bucket,
                   min(timestamp) AS first, max(timestamp) AS last,
                   max(high) AS high, min(low) AS low,
                   tradelite_ksum(volume ORDER BY timestamp) AS volume,
                   tradelite_ksum(amount ORDER BY timestamp) AS amount
            FROM (
              SELECT timestamp, high, low, volume, amount, timestamp + ${shift}::bigint AS x
              FROM market_data
              WHERE symbol = ${symbol} AND timestamp BETWEEN ${start}::bigint AND ${end}::bigint
            ) AS s
            GROUP BY 1
          ) AS g
          JOIN market_data AS f ON f.symbol = ${symbol} AND f.timestamp = g.first
          JOIN market_data AS l ON l.symbol = ${symbol} AND l.timestamp = g.last
          ORDER BY g.bucket`, signal)) as BucketRow[],
    );
  }

  /**
   * Resampled bars: adjusted ones (`adjusting`) by the shared TypeScript resampler over adjusted
   * stored bars, as SQLite does (clock buckets through sessionResampler with no calendar).
   */
  async function* resample(
    symbol: string,
    range: ReadRange,
    how: Resampling,
    signal: Cancellation | undefined,
    adjusting?: Promise<BarAdjuster>,
  ): AsyncGenerator<Bar> {
    if (how.calendar !== undefined || adjusting) {
      const rows = stored(symbol, { ...range, limit: -1, order: "asc" }, signal);
      const bars = adjusting ? adjustedAsync(rows, adjusting) : rows;
      yield* resampleStoredAsync(bars, sessionResampler(how.calendar ?? null, how.interval, how.placement, settings.timezone));
      return;
    }
    const plan = resamplePlan(range, how.interval as ClockInterval, how.placement, settings.timezone);
    let answer: ResampleAnswer;
    for (;;) {
      const step = plan.next(answer);
      if (step.done) return;
      const request = step.value;
      if (request.kind === "bar") {
        answer = undefined;
        yield request.bar;
      } else if (request.kind === "seek") {
        answer = request.from > request.end ? undefined : (await page(symbol, request.from, request.end, 1, "asc", { signal }))[0]?.timestamp;
      } else {
        answer = await aggregate(symbol, request.start, request.end, request.size, request.shift, signal);
      }
    }
  }

  /**
   * A read that is more than a range of stored rows (resampled, the `1d` merge, or filled), as
   * the query asks: ascending bars, fillers on the calendar's grid, then order and limit (as
   * src/sqlite/bars.ts). Undefined for a plain read. Checked now, streamed later.
   */
  function shaped(symbol: string, read: ReadQuery, query: BarQuery | undefined, adjusting?: Promise<BarAdjuster>): AsyncGenerator<Bar> | undefined {
    const shape = readResampling(query, settings.barTimestamp);
    const { interval, barTimestamp, align, fill, source } = shape;
    const signal = readSignal(query);
    const filling = fillingOf(symbol, interval, align, fill, settings.calendarOf);
    if (interval === undefined && !filling) return undefined;
    let asc: AsyncIterable<Bar>;
    if (interval === undefined) {
      const rows = stored(symbol, { ...read, limit: -1, order: "asc" }, signal);
      asc = adjusting ? adjustedAsync(rows, adjusting) : rows;
    }
    else if (source === "stored") asc = dailyAscending(symbol, read, undefined, signal, adjusting);
    else {
      const how = resamplingOf(symbol, interval, barTimestamp, align, settings.calendarOf);
      const onTheFly = (range: ReadRange) => resample(symbol, range, how, signal, adjusting);
      const resampled = derivedReadable(shape, how, settings.timezone) ? derivedRead(symbol, read, interval, barTimestamp, adjusting, onTheFly) : onTheFly(read);
      asc = interval === "1d" && source === undefined ? dailyAscending(symbol, read, resampled, signal, adjusting) : resampled;
    }
    if (filling) {
      const stampsFrom = (from: number) => sessionStamps(filling.calendar, filling.interval, barTimestamp, from, read.end);
      const unfilled = asc;
      asc = (async function* filled(): AsyncGenerator<Bar> {
        let before = read.start === MIN_TIMESTAMP ? undefined : (await page(symbol, MIN_TIMESTAMP, read.start - 1, 1, "desc"))[0];
        if (before && adjusting) before = (await adjusting)(before);
        yield* fillMissingAsync(unfilled, barFiller(stampsFrom, before?.close ?? null, read.start));
      })();
    }
    return inQueryOrderAsync(asc, read);
  }

  /**
   * `1d`, `1w` or `1M` from the derived days (src/postgres/derived-days.ts), the buckets they
   * cannot answer exactly resampled by `onTheFly`, which answers the whole read when the symbol's
   * days are not built.
   */
  async function* derivedRead(
    symbol: string,
    range: ReadRange,
    interval: Interval,
    barTimestamp: BarTimestamp,
    adjusting: Promise<BarAdjuster> | undefined,
    onTheFly: (range: ReadRange) => AsyncGenerator<Bar>,
  ): AsyncGenerator<Bar> {
    const basis = { timezone: settings.timezone, barTimestamp };
    const found = await derivedDays.read(symbol, range, basis);
    if (!found) {
      yield* onTheFly(range);
      return;
    }
    const adjust = adjusting ? await adjusting : undefined;
    yield* derivedBarsAsync(planDerivedRead({ interval, range, basis, ...(adjust ? { adjust } : {}) }, found.days, found.dirty), onTheFly);
  }

  /**
   * Ascending `1d` bars from the stored days alone (`resampled` undefined, `source: "stored"`) or both
   * sides merged, the stored day winning. Both sides are a row per trading day, so they are read
   * whole and merged as SQLite merges them (src/domain/daily.ts).
   */
  async function* dailyAscending(
    symbol: string,
    range: ReadQuery,
    resampled: AsyncIterable<Bar> | undefined,
    signal: Cancellation | undefined,
    adjusting: Promise<BarAdjuster> | undefined,
  ): AsyncGenerator<Bar> {
    throwIfCancelled(signal);
    const storedDays = await days(symbol, { ...range, limit: -1, order: "asc" });
    if (adjusting) storedDays.forEach(await adjusting);
    if (!resampled) {
      yield* storedDays;
      return;
    }
    const resampledDays: Bar[] = [];
    for await (const bar of resampled) resampledDays.push(bar);
    yield* mergeDaily(storedDays, resampledDays);
  }

  /** Arguments are checked when called, not at the first next(): a bad query fails where it is made. */
  function iterate(symbol: string, query?: BarQuery): AsyncGenerator<Bar> {
    assertSymbol(symbol);
    const read = readQuery(query, settings, BAR_QUERY_KEYS);
    const adjusting = adjusterOf(symbol, query);
    const plain = (): AsyncGenerator<Bar> => {
      const rows = stored(symbol, read, readSignal(query));
      return adjusting ? adjustedAsync(rows, adjusting) : rows;
    };
    return shaped(symbol, read, query, adjusting) ?? plain();
  }

  /**
   * A validated batch upserted inside the open transaction `tx`: the rows, the session cache's
   * version bump and the audit entry (naming `actor`) commit or roll back with the caller's
   * transaction.
   */
  async function writeBatch(
    tx: SQL,
    symbol: string,
    batch: ReturnType<typeof validateBars>,
    actor: string | undefined,
    target: "minutes" | "daily" = "minutes",
    grain?: AuditGrain,
  ): Promise<number> {
    const total = batchSize(batch);
    const columns = BAR_VALUE_FIELDS.map((field) => batch[field]);
    if (audit) await lockAuditChain(tx);
    if (target === "minutes") await derivedDays.beforeInsert(tx);
    for (let from = 0; from < total; from += ROWS_PER_STATEMENT) {
      const count = Math.min(ROWS_PER_STATEMENT, total - from);
      const timestamps = new Array<number>(count);
      const values = columns.map(() => new Array<number | null>(count));
      for (let i = 0; i < count; i++) {
        const row = rowAt(batch, from + i);
        timestamps[i] = batch.timestamp[row]!;
        for (let c = 0; c < columns.length; c++) {
          const value = columns[c]![row]!;
          // NaN marks a missing value in a validated batch: NULL.
          values[c]![i] = value === value ? value : null;
        }
      }
      await (target === "daily" ? upsertDaily : upsert)(tx, symbol, timestamps, values);
    }
    if (target === "daily") {
      // The session cache holds market_data's bars only: a daily write leaves it in step.
      if (audit) await audit(tx, actor!, "bars.insert", symbol, { interval: "1d", rows: total, ...timeSpan(batch.timestamp) });
      return total;
    }
    await derivedDays.afterInsert(tx, symbol, batch, total);
    // The session cache rebuilds a symbol whose market_data moved on without it.
    await tx`UPDATE session_cache SET market_version = market_version + 1 WHERE symbol = ${symbol}`;
    if (audit) {
      const { start, end } = timeSpan(batch.timestamp);
      await audit.appended(tx, actor!, symbol, total, start, end, grain);
    }
    return total;
  }

  return {
    /** Upserts bars on (symbol, timestamp) in one transaction; returns the rows written. */
    async insertBars(symbol: string, input: readonly BarInput[] | BarColumns, options?: InsertBarsOptions): Promise<number> {
      assertSymbol(symbol);
      const { target, grain } = readInsertOptions(options);
      const batch = validateBars(input, settings);
      if (target === "daily") checkDailyStamps(batch, settings.timezone);
      if (batchSize(batch) === 0) return 0;
      // Read before any await: the actor of the call, however its transaction is scheduled.
      const actor = audit?.actor();
      return pool.run((sql) => sql.begin(READ_COMMITTED, (tx) => writeBatch(tx, symbol, batch, actor, target, grain)));
    },

    /** insertBars inside the open transaction `tx`, its audit entry naming `actor`. */
    async insertIn(tx: SQL, symbol: string, input: readonly BarInput[] | BarColumns, actor: string | undefined): Promise<number> {
      assertSymbol(symbol);
      const batch = validateBars(input, settings);
      return batchSize(batch) === 0 ? 0 : writeBatch(tx, symbol, batch, actor);
    },


    /** Stored bars (no resampling) inside the open transaction `tx`. */
    async storedIn(tx: SQL, symbol: string, query?: BarQuery): Promise<Bar[]> {
      assertSymbol(symbol);
      const read = readQuery(query, settings, BAR_QUERY_KEYS);
      return page(symbol, read.start, read.end, read.limit < 0 ? null : read.limit, read.order, { on: tx });
    },

    /** Bars in a range, ascending by default, as stored (one query) or resampled in SQL. */
    async getBars(symbol: string, query?: BarQuery): Promise<Bar[]> {
      assertSymbol(symbol);
      const read = readQuery(query, settings, BAR_QUERY_KEYS);
      const adjusting = adjusterOf(symbol, query);
      const stream = shaped(symbol, read, query, adjusting);
      if (!stream) {
        // Factors first: an asOf before every factor fails before any bar is read.
        const adjust = await adjusting;
        const bars = await page(symbol, read.start, read.end, read.limit < 0 ? null : read.limit, read.order, { signal: readSignal(query) });
        if (adjust) for (let i = 0; i < bars.length; i++) adjust(bars[i]!);
        return bars;
      }
      const bars: Bar[] = [];
      for await (const bar of stream) bars.push(bar);
      return bars;
    },

    /** The same rows as getBars, fetched page by page (resampled: window by window). */
    iterateBars(symbol: string, query?: BarQuery): AsyncGenerator<Bar> {
      return iterate(symbol, query);
    },

    async latestBar(symbol: string): Promise<Bar | null> {
      assertSymbol(symbol);
      return (await page(symbol, MIN_TIMESTAMP, MAX_TIMESTAMP, 1, "desc"))[0] ?? null;
    },

    /** Deletes the bars in a range (inclusive; the whole symbol when the range is empty). */
    async deleteBars(symbol: string, range?: TimeRange, options?: SeriesOptions): Promise<number> {
      assertSymbol(symbol);
      const target = readSeriesOptions(options);
      const { start, end } = readRange(range, settings);
      const actor = audit?.actor();
      if (target === "daily") {
        return pool.run((sql) =>
          sql.begin(READ_COMMITTED, async (tx) => {
            if (audit) await lockAuditChain(tx);
            const deleted = (await tx`DELETE FROM market_data_daily WHERE symbol = ${symbol} AND timestamp BETWEEN ${start}::bigint AND ${end}::bigint`).count as number;
            if (audit) await audit(tx, actor!, "bars.delete", symbol, { interval: "1d", deleted, start, end });
            return deleted;
          }),
        );
      }
      return pool.run((sql) =>
        sql.begin(READ_COMMITTED, async (tx) => {
          if (audit) await lockAuditChain(tx);
          await tx`UPDATE session_cache SET market_version = market_version + 1 WHERE symbol = ${symbol}`;
          const deleted = (await tx`DELETE FROM market_data WHERE symbol = ${symbol} AND timestamp BETWEEN ${start}::bigint AND ${end}::bigint`).count as number;
          await derivedDays.afterDelete(tx, symbol);
          if (audit) await audit(tx, actor!, "bars.delete", symbol, { deleted, start, end });
          return deleted;
        }),
      );
    },

    /**
     * The symbol's stored timestamps against its calendar's sessions, read a page at a time
     * (keyset pagination, as stored() reads), so memory is one page and one day's slots.
     */
    async completeness(symbol: string, query?: CompletenessQuery): Promise<Completeness> {
      assertSymbol(symbol);
      const { range, counter } = startCompleteness(symbol, query, settings);
      let from = range.start;
      for (;;) {
        const rows = await pool.run(
          async (sql) =>
            (await sql`SELECT timestamp::float8 AS timestamp FROM market_data
                       WHERE symbol = ${symbol} AND timestamp BETWEEN ${from}::bigint AND ${range.end}::bigint
                       ORDER BY market_data.timestamp LIMIT ${PAGE_ROWS}`.values()) as [number][],
        );
        for (const [timestamp] of rows) counter.push(timestamp);
        if (rows.length < PAGE_ROWS) break;
        from = rows[rows.length - 1]![0] + 1;
      }
      return counter.finish();
    },

    /** Builds the derived days of every symbol not built yet, one per transaction (src/postgres/derived-days.ts). */
    buildDerivedDays(): Promise<number> {
      return derivedDays.buildAll();
    },

    /**
     * One row per symbol from market_data_summary (src/postgres/summary.ts: kept exact by
     * triggers in every writer's transaction): O(symbols), not O(bars). Both series are read in
     * one statement, so they come from one snapshot.
     */
    async overview(options?: OverviewOptions): Promise<SymbolOverview[]> {
      const counts = readOverviewOptions(options);
      const summary = await pool.run(
        async (sql) =>
          (await sql`SELECT series, symbol, count::float8 AS count, first_timestamp::float8 AS start, last_timestamp::float8 AS "end"
                     FROM market_data_summary ORDER BY series, symbol`) as ({ series: string; symbol: string } & SeriesOverview)[],
      );
      const minutes: SymbolOverview[] = [];
      const daily: ({ symbol: string } & SeriesOverview)[] = [];
      for (const { series, symbol, count, start, end } of summary) (series === "daily" ? daily : minutes).push({ symbol, count, start, end });
      const rows = mergeOverviews(minutes, daily);
      if (!counts) return rows;
      const counted: SymbolOverview[] = [];
      for (const row of rows) {
        counted.push(settings.calendarOf?.(row.symbol) ? withCompletenessCounts(row, await this.completeness(row.symbol)) : row);
      }
      return counted;
    },
  };
}

export type BarRepository = ReturnType<typeof createBarRepository>;

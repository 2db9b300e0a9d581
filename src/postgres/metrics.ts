/**
 * recovery_metrics on PostgreSQL: append-only samples, read back by name and time, with the
 * same checks and answers as src/sqlite/metrics.ts. Labels are stored as the same canonical
 * JSON text (sorted keys) and filtered here, not in SQL, exactly as SQLite's repository does.
 */
import type { ZoneReading } from "../domain/time.ts";
import type { SQL } from "bun";
import {
  assertMetricName,
  checkMetric,
  metricsOfRows,
  readMetricQuery,
  type Metric,
  type MetricLabels,
  type MetricSummary,
  type StoredMetricRow,
} from "../domain/metric.ts";
import type { MetricQuery } from "../domain/store.ts";
import type { PostgresPool } from "./connection.ts";

type MetricRow = StoredMetricRow;

interface SummaryRow {
  count: number;
  min: number | null;
  max: number | null;
  /** Every value in SQLite's scan order; null when there is none. */
  values: number[] | null;
  last: number | null;
}

/** Records one sample now on `sql` (the pool, or a caller's open transaction); returns it. */
export async function recordIn(sql: SQL, name: string, value: number, labels?: MetricLabels): Promise<Metric> {
  const checked = checkMetric(name, value, labels);
  const timestamp = Date.now();
  await sql`INSERT INTO recovery_metrics (name, timestamp, value, labels) VALUES (${checked.name}, ${timestamp}, ${checked.value}::float8, ${checked.labels})`;
  return { name: checked.name, timestamp, value: checked.value, labels: JSON.parse(checked.labels) as MetricLabels };
}

export function createMetricRepository(pool: PostgresPool, settings: ZoneReading) {
  return {
    /** Records one sample now; returns it. */
    record(name: string, value: number, labels?: MetricLabels): Promise<Metric> {
      return pool.run((sql) => recordIn(sql, name, value, labels));
    },

    recordIn,

    /** Samples of `name` in the inclusive range, oldest first, optionally filtered by labels. */
    async query(name: string, query: MetricQuery = {}): Promise<Metric[]> {
      const { start, end, wanted } = readMetricQuery(name, query, settings);
      const rows = await pool.run(
        async (sql) =>
          (await sql`SELECT name, timestamp::float8 AS timestamp, value, labels FROM recovery_metrics
                     WHERE name = ${name} AND timestamp BETWEEN ${start} AND ${end} ORDER BY timestamp, id`) as MetricRow[],
      );
      return metricsOfRows(rows, wanted);
    },

    /**
     * count, min, max and mean over every sample of `name`, and the newest sample's value. The
     * mean is computed here, not with avg(): SQLite's avg() sums with Kahan-Babuska-Neumaier
     * compensation in index order (timestamp, id), so PostgreSQL's plain sum would differ in the
     * last bits, and its avg(float8) also squares every value and overflows on huge ones.
     */
    async summary(name: string): Promise<MetricSummary> {
      assertMetricName(name);
      // One statement, so every figure comes from one snapshot.
      const [row] = await pool.run(
        async (sql) =>
          (await sql`SELECT count(*)::float8 AS count, min(value) AS min, max(value) AS max,
                            array_agg(value ORDER BY timestamp, id) AS "values",
                            (SELECT value FROM recovery_metrics WHERE name = ${name} ORDER BY timestamp DESC, id DESC LIMIT 1) AS last
                     FROM recovery_metrics WHERE name = ${name}`) as SummaryRow[],
      );
      const { count, min, max, values, last } = row!;
      return { name, count, min, max, mean: values === null ? null : compensatedSum(values) / count, last };
    },
  };
}

/**
 * The sum SQLite's sum() and avg() compute for REAL values (func.c, kahanBabuskaNeumaierStep and
 * avgFinalize since 3.43): a running sum from 0.0 plus the accumulated rounding error, the error
 * left out when it is not finite (the sum overflowed).
 */
function compensatedSum(values: readonly number[]): number {
  let sum = 0;
  let error = 0;
  for (const value of values) {
    const total = sum + value;
    error += Math.abs(sum) > Math.abs(value) ? sum - total + value : value - total + sum;
    sum = total;
  }
  return Number.isFinite(error) ? sum + error : sum;
}

export type MetricRepository = ReturnType<typeof createMetricRepository>;

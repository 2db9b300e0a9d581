/**
 * recovery_metrics: append-only samples, read back by name and time.
 */
import type { ZoneReading } from "../domain/time.ts";
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
import { guard, type Connection } from "./connection.ts";

type MetricRow = StoredMetricRow;

export function createMetricRepository(conn: Connection, settings: ZoneReading) {
  const insert = conn.prepare("INSERT INTO recovery_metrics (name, timestamp, value, labels) VALUES (?, ?, ?, ?)");
  const select = conn.prepare<MetricRow>(
    "SELECT name, timestamp, value, labels FROM recovery_metrics WHERE name = ? AND timestamp BETWEEN ? AND ? ORDER BY timestamp, id",
  );
  const aggregate = conn.prepare<{ count: number; min: number | null; max: number | null; mean: number | null }>(
    "SELECT count(*) AS count, min(value) AS min, max(value) AS max, avg(value) AS mean FROM recovery_metrics WHERE name = ?",
  );
  const latest = conn.prepare<{ value: number }>(
    "SELECT value FROM recovery_metrics WHERE name = ? ORDER BY timestamp DESC, id DESC LIMIT 1",
  );

  return {
    /** Records one sample now; returns it. */
    record(name: string, value: number, labels?: MetricLabels): Metric {
      const checked = checkMetric(name, value, labels);
      const timestamp = Date.now();
      conn.writeTransaction(() => insert.run(checked.name as never, timestamp as never, checked.value as never, checked.labels as never));
      return { name: checked.name, timestamp, value: checked.value, labels: JSON.parse(checked.labels) as MetricLabels };
    },

    /** Samples of `name` in the inclusive range, oldest first, optionally filtered by labels. */
    query(name: string, query: MetricQuery = {}): Metric[] {
      const { start, end, wanted } = readMetricQuery(name, query, settings);
      return metricsOfRows(guard(() => select.all(name as never, start as never, end as never)), wanted);
    },

    summary(name: string): MetricSummary {
      assertMetricName(name);
      const totals = guard(() => aggregate.get(name as never))!;
      const last = guard(() => latest.get(name as never));
      return { name, ...totals, last: last?.value ?? null };
    },
  };
}

export type MetricRepository = ReturnType<typeof createMetricRepository>;

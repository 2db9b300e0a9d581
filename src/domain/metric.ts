/**
 * Recovery metrics: named numeric samples with labels, for what the system does to stay
 * healthy (cache repairs, checkpoint durations, integrity checks, busy waits).
 */
import type { TimeReading } from "./time.ts";
import { z } from "zod";
import { ValidationError, type Issue } from "./errors.ts";
import { checkOptions, readSinceUntil } from "./query.ts";

export type MetricLabels = Record<string, string>;

export interface Metric {
  name: string;
  /** Epoch ms UTC when it was recorded. */
  timestamp: number;
  value: number;
  labels: MetricLabels;
}

export interface MetricSummary {
  name: string;
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  /** The most recently recorded sample's value. */
  last: number | null;
}

/** Metric and label names: the Prometheus rule plus `.`, which module names use. */
const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;
/** Labels are for a few short dimensions, not payloads. */
export const MAX_LABELS_BYTES = 4_096;

export const MetricSchema = z.object({
  name: z.string().regex(NAME),
  timestamp: z.number().int().describe("epoch milliseconds, UTC"),
  value: z.number(),
  labels: z.record(z.string(), z.string()),
});

export function assertMetricName(name: unknown, field = "name"): string {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new ValidationError([
      { field, message: "expected 1 to 128 characters: a letter or _, then letters, digits, _ . : -" },
    ]);
  }
  return name;
}

/** Checks a sample and returns its labels as canonical JSON (sorted keys). */
export function checkMetric(name: unknown, value: unknown, labels: unknown): { name: string; value: number; labels: string } {
  const issues: Issue[] = [];
  if (typeof name !== "string" || !NAME.test(name)) {
    issues.push({ field: "name", message: "expected 1 to 128 characters: a letter or _, then letters, digits, _ . : -" });
  }
  if (typeof value !== "number" || !Number.isFinite(value)) {
    issues.push({ field: "value", message: `must be a finite number, got ${typeof value === "number" ? value : typeof value}` });
  }
  const json = canonicalLabels(labels ?? {}, issues);
  if (issues.length > 0) throw new ValidationError(issues);
  // -0 becomes 0: SQLite stores a REAL -0.0 as 0, so both backends answer 0 (PostgreSQL keeps -0).
  return { name: name as string, value: (value as number) + 0, labels: json };
}

/** Labels as JSON with sorted keys, so equal label sets are equal text. */
export function canonicalLabels(labels: unknown, issues: Issue[]): string {
  if (typeof labels !== "object" || labels === null || Array.isArray(labels)) {
    issues.push({ field: "labels", message: "expected an object of string values" });
    return "{}";
  }
  const sorted: MetricLabels = {};
  for (const key of Object.keys(labels).sort()) {
    const value = (labels as Record<string, unknown>)[key];
    if (!NAME.test(key)) issues.push({ field: `labels.${key}`, message: "label names follow the metric name rule" });
    else if (typeof value !== "string") issues.push({ field: `labels.${key}`, message: `must be a string, got ${typeof value}` });
    else sorted[key] = value;
  }
  const json = JSON.stringify(sorted);
  if (json.length > MAX_LABELS_BYTES) {
    issues.push({ field: "labels", message: `at most ${MAX_LABELS_BYTES} bytes as JSON, got ${json.length}` });
  }
  return json;
}

/** The options a metric query takes. */
const METRIC_QUERY_KEYS: readonly string[] = ["since", "until", "labels"];

/** query()'s name and options checked and read: the inclusive time range, and the labels wanted. */
export function readMetricQuery(name: unknown, query: unknown, reading: TimeReading): { start: number; end: number; wanted: MetricLabels | undefined } {
  assertMetricName(name);
  const issues: Issue[] = [];
  const { since, until, labels } = checkOptions<Record<"since" | "until" | "labels", unknown>>(query, METRIC_QUERY_KEYS, issues);
  if (issues.length > 0) throw new ValidationError(issues);
  const { start, end } = readSinceUntil(since, until, reading);
  const wanted = labels === undefined ? undefined : (JSON.parse(canonicalLabels(labels, issues)) as MetricLabels);
  if (issues.length > 0) throw new ValidationError(issues);
  return { start, end, wanted };
}

/** Stored rows as samples, keeping those that carry every wanted label (all of them without any). */
export function metricsOfRows(rows: readonly StoredMetricRow[], wanted: MetricLabels | undefined): Metric[] {
  const metrics = rows.map((row) => ({ name: row.name, timestamp: row.timestamp, value: row.value, labels: JSON.parse(row.labels) as MetricLabels }));
  if (!wanted) return metrics;
  const pairs = Object.entries(wanted);
  return metrics.filter((metric) => pairs.every(([key, value]) => metric.labels[key] === value));
}

/** A sample as a table stores it: labels as canonical JSON text. */
export interface StoredMetricRow {
  name: string;
  timestamp: number;
  value: number;
  labels: string;
}

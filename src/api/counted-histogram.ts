/**
 * A Prometheus histogram whose observations are counted here, in a typed array per series, and
 * handed to prom-client when a scrape asks, so the exposition (escaping, `le`, `+Inf`, `_sum`,
 * `_count`) is still written by prom-client's Registry. prom-client's own observe() checks the
 * labels, hashes them into a key string and finds the bucket through a property named by the
 * bound on every call: 0.35 us (Bun 1.4.5, 16 buckets, a child from labels()), twice a request
 * on the hot route (the request and its store call); here an observation is a loop over the
 * bounds and three additions, 0.01 us.
 */
import type { Metric, Registry } from "prom-client";

/** A sample as prom-client's metrics' get() hands it to the Registry's formatter. */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

export interface CountedHistogramOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  /** Upper bounds, ascending, as prom-client's `buckets`. */
  buckets: readonly number[];
  registers: Registry[];
}

/** Where one series' observations go: a function of the seconds (or whatever unit) observed. */
export type Observe = (value: number) => void;

interface Series {
  labels: Record<string, string>;
  /** Observations per bucket (not cumulative); the last slot holds those above every bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * `series(labels)` is asked once per label set (callers keep the function it returns); a series
 * is shown from its first observation on, as prom-client shows a child it has observed.
 */
export function countedHistogram<L extends string>({ name, help, labelNames, buckets, registers }: CountedHistogramOptions<L>): {
  series(labels: Record<L, string>): Observe;
} {
  const bounds = Float64Array.from(buckets);
  const shown: Series[] = [];
  const byKey = new Map<string, Observe>();

  // What prom-client's Histogram#get() answers (labels splayed, `le` first), read by the
  // Registry's formatter like any metric's; reset() (Registry#resetMetrics) forgets every series.
  const metric = {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    get: async () => ({ name, help, type: "histogram", aggregator: "sum", values: shown.flatMap((series) => samplesOf(name, bounds, series)) }),
    reset: () => {
      for (const series of shown) {
        series.counts.fill(0);
        series.sum = 0;
        series.count = 0;
      }
      shown.length = 0;
    },
  };
  for (const registry of registers) registry.registerMetric(metric as unknown as Metric);

  return {
    series(labels) {
      const key = labelNames.map((label) => labels[label]).join("\u0000");
      let observe = byKey.get(key);
      if (observe) return observe;
      const series: Series = { labels: { ...labels }, counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 };
      observe = (value) => {
        if (series.count === 0) shown.push(series);
        let bucket = 0;
        while (bucket < bounds.length && value > bounds[bucket]!) bucket++;
        series.counts[bucket]!++;
        series.sum += value;
        series.count++;
      };
      byKey.set(key, observe);
      return observe;
    },
  };
}

function samplesOf(name: string, bounds: Float64Array, { labels, counts, sum, count }: Series): Sample[] {
  const values: Sample[] = [];
  let cumulative = 0;
  for (let bucket = 0; bucket < bounds.length; bucket++) {
    cumulative += counts[bucket]!;
    values.push({ metricName: `${name}_bucket`, labels: { le: bounds[bucket]!, ...labels }, value: cumulative });
  }
  values.push({ metricName: `${name}_bucket`, labels: { le: "+Inf", ...labels }, value: count });
  values.push({ metricName: `${name}_sum`, labels, value: sum });
  values.push({ metricName: `${name}_count`, labels, value: count });
  return values;
}

/**
 * countedHistogram (src/api/counted-histogram.ts) writes, through prom-client's Registry, the
 * exposition prom-client's own Histogram writes for the same observations: the same text, byte
 * for byte, so /metrics is unchanged by counting the observations ourselves.
 */
import { describe, expect, test } from "bun:test";
import { Histogram, Registry } from "prom-client";
import { countedHistogram } from "../../src/api/counted-histogram.ts";

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const OPTIONS = { name: "tradelite_test_duration_seconds", help: 'Help with "quotes", a \\ and a\nnewline', labelNames: ["method", "route", "status"] as const, buckets: BUCKETS };
type Labels = Record<(typeof OPTIONS.labelNames)[number], string>;

/** The same histogram twice: prom-client's and ours, each in a registry of its own. */
function pair() {
  const theirs = new Registry();
  const ours = new Registry();
  const histogram = new Histogram({ ...OPTIONS, labelNames: [...OPTIONS.labelNames], registers: [theirs] });
  const counted = countedHistogram({ ...OPTIONS, registers: [ours] });
  return {
    theirs,
    ours,
    histogram,
    counted,
    observe(labels: Labels, value: number) {
      histogram.labels(labels).observe(value);
      counted.series(labels)(value);
    },
  };
}

const SERIES: Labels[] = [
  { method: "GET", route: "/v1/bars/:symbol", status: "200" },
  { method: "POST", route: 'a "quoted" \\ route\nwith a newline', status: "400" },
  { method: "OTHER", route: "沪深 é 😀", status: "503" },
];

describe("countedHistogram", () => {
  test("writes prom-client's exposition for the same observations: bounds hit exactly, values past the last, several series in their first observation's order", async () => {
    const { theirs, ours, observe } = pair();
    const values = [0.0001, 0.00009, 0.0002, 0.00025, 0.0003, 0.001, 0.7, 10, 11, 1234.5, 0, 0.1 + 0.2];
    values.forEach((value, i) => observe(SERIES[(i * 7) % SERIES.length]!, value));
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    // Something was written: every series, with its buckets and a +Inf equal to its count.
    expect(text).toContain('tradelite_test_duration_seconds_bucket{le="+Inf",method="GET",route="/v1/bars/:symbol",status="200"} 4');
    expect(text).toContain('route="a \\"quoted\\" \\\\ route\\nwith a newline"');
  });

  test("shows a series only once it is observed, as prom-client shows a child", async () => {
    const { theirs, ours, histogram, counted, observe } = pair();
    histogram.labels(SERIES[0]!);
    counted.series(SERIES[0]!);
    observe(SERIES[1]!, 0.002);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).not.toContain('method="GET"');
  });

  test("is emptied by the registry's resetMetrics() and counts again from zero", async () => {
    const { theirs, ours, observe } = pair();
    observe(SERIES[0]!, 0.003);
    observe(SERIES[1]!, 0.004);
    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    observe(SERIES[1]!, 0.5);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('tradelite_test_duration_seconds_count{method="POST"');
  });

  test("hands the same function for the same labels, so callers asking again share one series", async () => {
    const counted = countedHistogram({ ...OPTIONS, name: "tradelite_shared_seconds", registers: [new Registry()] });
    expect(counted.series({ ...SERIES[0]! })).toBe(counted.series({ ...SERIES[0]! }));
    expect(counted.series(SERIES[0]!)).not.toBe(counted.series(SERIES[1]!));
  });
});

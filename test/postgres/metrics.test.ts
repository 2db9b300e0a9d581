/**
 * Recovery metrics on PostgreSQL (src/postgres/metrics.ts) against SQLite's, call by call: the
 * same samples, filters, summaries and refusals, values read back exactly.
 *
 * Each test runs the same calls on a SQLite database in memory and on a PostgreSQL database of its
 * own, with the clock stopped at the same instant for both (setSystemTime), so timestamps and the
 * audit hashes that cover them must be identical too.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { type MetricLabels, type MetricQuery } from "../../src/mod.ts";
import { type Records, available, closeRecordTests, pair, both, valueOf, errorOf, MINUTE, T0 } from "../support/postgres-records.ts";

afterEach(closeRecordTests);

describe.skipIf(!available)("metrics: the same samples, filters and summaries as SQLite", () => {
  test("record, query by since/until (epoch ms, ISO, naive local time) and labels, summary, and the same refusals", async () => {
    const records = await pair("metrics");
    const names = ["sqlite.checkpoint.ms", "cache.repair:count"];
    for (let i = 0; i < 60; i++) {
      const labels: MetricLabels | undefined = i % 3 === 0 ? { role: "writer", index: String(i % 4) } : i % 3 === 1 ? { role: "reader" } : undefined;
      const value = i % 5 === 0 ? i : (i * 7.31) / 3 - 11.2;
      const sample = valueOf(await both(records, T0 + i * MINUTE, (side) => side.metrics.record(names[i % 2]!, value, labels)));
      expect(sample.timestamp).toBe(T0 + i * MINUTE);
    }
    // Two samples at the same instant come back in the order they were recorded.
    await both(records, T0 + 30 * MINUTE, (side) => side.metrics.record(names[0]!, 1e-300, { z: "last", a: "first" }));
    const queries: MetricQuery[] = [
      {},
      { since: T0 + 10 * MINUTE },
      { until: T0 + 20 * MINUTE },
      { since: T0 + 10 * MINUTE, until: T0 + 30 * MINUTE },
      { since: T0 + 30 * MINUTE, until: T0 + 30 * MINUTE },
      { since: "2024-01-02 09:45", until: "2024-01-02T10:05:00+08:00" },
      { labels: { role: "writer" } },
      { labels: { role: "writer", index: "2" } },
      { labels: {} },
      { labels: { role: "nobody" } },
      { since: T0 + 40 * MINUTE, labels: { role: "reader" } },
    ];
    for (const name of [...names, "never.recorded"]) {
      for (const query of queries) await both(records, T0, (side) => side.metrics.query(name, query));
      const summary = valueOf(await both(records, T0, (side) => side.metrics.summary(name)));
      expect(typeof summary.count).toBe("number");
    }
    expect(valueOf(await both(records, T0, (side) => side.metrics.query(names[0]!, { labels: { role: "writer" } }))).length).toBe(10);
    expect(valueOf(await both(records, T0, (side) => side.metrics.summary("never.recorded")))).toEqual({
      name: "never.recorded", count: 0, min: null, max: null, mean: null, last: null,
    });
    const refused: Array<(side: Records) => Promise<unknown>> = [
      (side: Records) => side.metrics.record("1starts.with.digit", 1),
      (side: Records) => side.metrics.record("ok", Number.NaN),
      (side: Records) => side.metrics.record("ok", Infinity, { role: 1 as never }),
      (side: Records) => side.metrics.record("ok", 1, { "bad key": "v" }),
      (side: Records) => side.metrics.record("ok", 1, { big: "x".repeat(5_000) }),
      (side: Records) => side.metrics.query("ok", { start: T0 } as never),
      (side: Records) => side.metrics.query("ok", { since: T0 + 1, until: T0 }),
      (side: Records) => side.metrics.query("ok", { labels: [] as never }),
      (side: Records) => side.metrics.query("has space"),
      (side: Records) => side.metrics.summary(""),
    ];
    for (const work of refused) expect(errorOf(await both(records, T0, work)).code).toBe("VALIDATION");
  });

  test("values read back exactly: tiny, huge, negative and inexact floats", async () => {
    const records = await pair("metric_values");
    const values = [5e-324, 1.7976931348623157e308, -2.5, 0.1 + 0.2, 2 ** 53 - 1, 1 / 3, 0];
    for (const [i, value] of values.entries()) await both(records, T0 + i, (side) => side.metrics.record("exact", value));
    const samples = valueOf(await both(records, T0, (side) => side.metrics.query("exact")));
    expect(samples.map((sample) => sample.value)).toEqual(values);
    const summary = valueOf(await both(records, T0, (side) => side.metrics.summary("exact")));
    expect(summary).toMatchObject({ count: values.length, min: -2.5, max: 1.7976931348623157e308, last: 0 });
    // A sum past the largest double: SQLite's mean is Infinity, not an error.
    for (const [i, value] of [1.7e308, 1.7e308, -1].entries()) await both(records, T0 + i, (side) => side.metrics.record("overflow", value));
    expect(valueOf(await both(records, T0, (side) => side.metrics.summary("overflow"))).mean).toBe(Infinity);
  });

  test("the mean is SQLite's to the last bit: compensated summation over 5,000 values of mixed magnitude", async () => {
    const records = await pair("metric_mean");
    let seed = 12_345;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 5_000; i++) {
      const value = (random() - 0.3) * 10 ** Math.floor(random() * 12 - 4);
      // Out of time order on purpose: SQLite sums in (timestamp, id) order.
      const at = T0 + ((i * 7_919) % 5_000) * 1_000;
      await both(records, at, (side) => side.metrics.record("mixed", value, { i: String(i) }));
    }
    const summary = valueOf(await both(records, T0, (side) => side.metrics.summary("mixed")));
    expect(summary.count).toBe(5_000);
  });
});

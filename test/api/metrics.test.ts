/**
 * /v1/metrics/{name} (src/api/metrics.ts)
 *
 * In process through app.request(), over a real SQLite file; answers are checked against what the
 * store holds afterwards, and every refusal for the one error shape and for having written nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { call, closeApiFixtures, expectError, openApiFixture } from "../support/api.ts";

afterEach(closeApiFixtures);

describe("/v1/metrics/{name}", () => {
  test("POST records; GET queries by time; summary agrees with the values recorded", async () => {
    const f = await openApiFixture();
    const values = [3, 7.5, -1, 4];
    const recorded: { timestamp: number }[] = [];
    for (const [i, value] of values.entries()) {
      const answer = await call(f.app, "POST", "/v1/metrics/latency.ms", { json: { value, labels: { run: String(i) } } });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ name: "latency.ms", timestamp: expect.any(Number), value, labels: { run: String(i) } });
      recorded.push(answer.body);
    }
    const stored = await f.store.metrics.query("latency.ms");
    expect(stored).toEqual(recorded as never);

    const all = await call(f.app, "GET", "/v1/metrics/latency.ms");
    expect(all.body).toEqual(stored);
    const since = recorded[2]!.timestamp;
    const later = await call(f.app, "GET", `/v1/metrics/latency.ms?since=${since}`);
    expect(later.body).toEqual(stored.filter((m) => m.timestamp >= since));
    const until = await call(f.app, "GET", `/v1/metrics/latency.ms?until=${recorded[0]!.timestamp - 1}`);
    expect(until.body).toEqual([]);

    const summary = await call(f.app, "GET", "/v1/metrics/latency.ms/summary");
    expect(summary.status).toBe(200);
    expect(summary.body).toEqual({
      name: "latency.ms",
      count: 4,
      min: -1,
      max: 7.5,
      mean: values.reduce((a, b) => a + b, 0) / values.length,
      last: 4,
    });
  });

  test("metric samples are observations: recording one adds no audit entry", async () => {
    const f = await openApiFixture();
    const before = await f.store.audit.query();
    expect((await call(f.app, "POST", "/v1/metrics/latency.ms", { json: { value: 1 } })).status).toBe(200);
    expect((await f.store.metrics.query("latency.ms")).length).toBe(1);
    expect(await f.store.audit.query()).toEqual(before);
  });

  test("the summary of a metric never recorded has count 0 and nulls", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "GET", "/v1/metrics/never/summary");
    expect(answer.body).toEqual({ name: "never", count: 0, min: null, max: null, mean: null, last: null });
  });

  test("422 for a bad name, a value that is not a number, or labels that are not strings", async () => {
    const f = await openApiFixture();
    const before = await f.store.metrics.query("ok");
    expectError(await call(f.app, "POST", "/v1/metrics/9bad", { json: { value: 1 } }), 422, "VALIDATION");
    expectError(await call(f.app, "POST", "/v1/metrics/ok", { json: { value: "1" } }), 422, "VALIDATION");
    expectError(await call(f.app, "POST", "/v1/metrics/ok", { json: { value: 1, labels: { a: 1 } } }), 422, "VALIDATION");
    expectError(await call(f.app, "GET", "/v1/metrics/ok?labels=a"), 422, "VALIDATION");
    expect(await f.store.metrics.query("ok")).toEqual(before);
    expect(await f.store.metrics.query("9bad").catch(() => [])).toEqual([]);
  });
});

/**
 * /v1/quotes/{symbol} (src/api/quotes.ts)
 *
 * In process through app.request(), over a real SQLite file; answers are checked against what the
 * store holds afterwards, and every refusal for the one error shape and for having written nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { call, closeApiFixtures, expectError, openApiFixture, snapshot } from "../support/api.ts";
import { T0 } from "../support/api-routes.ts";

afterEach(closeApiFixtures);

describe("/v1/quotes/{symbol}", () => {
  const quotes = Array.from({ length: 6 }, (_, i) => ({
    timestamp: T0 + i * 3_000,
    bid: 10 + i * 0.01,
    bid_size: 100 + i,
    ask: 10.02 + i * 0.01,
    ask_size: 200 + i,
    last: 10.01 + i * 0.01,
    volume: 1_000 * (i + 1),
  }));

  test("POST writes them; GET reads the store's quotes with range, order and limit", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "POST", "/v1/quotes/AAA", { json: quotes });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ written: 6 });
    expect(await f.store.getQuotes("AAA")).toEqual(quotes);

    const all = await call(f.app, "GET", "/v1/quotes/AAA");
    expect(all.status).toBe(200);
    expect(all.body).toEqual(quotes);
    const ranged = await call(f.app, "GET", `/v1/quotes/AAA?start=${quotes[1]!.timestamp}&end=${quotes[3]!.timestamp}`);
    expect(ranged.body).toEqual(quotes.slice(1, 4));
    const newest = await call(f.app, "GET", "/v1/quotes/AAA?order=desc&limit=2");
    expect(newest.body).toEqual([quotes[5]!, quotes[4]!]);
    expect(newest.body).toEqual(await f.store.getQuotes("AAA", { order: "desc", limit: 2 }));
  });

  test("nulls and ISO timestamps are accepted", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "POST", "/v1/quotes/AAA", { json: [{ timestamp: "2024-01-02T01:30:00Z", last: 9.5 }] });
    expect(answer.body).toEqual({ written: 1 });
    expect(await f.store.getQuotes("AAA")).toEqual([
      { timestamp: T0, bid: null, bid_size: null, ask: null, ask_size: null, last: 9.5, volume: null },
    ]);
  });

  test("422 for a crossed quote (bid above ask) or an unknown field; nothing is written", async () => {
    const f = await openApiFixture();
    await f.store.insertQuotes("AAA", quotes.slice(0, 2));
    const before = await snapshot(f.store, ["AAA"]);
    const crossed = expectError(
      await call(f.app, "POST", "/v1/quotes/AAA", { json: [quotes[2]!, { ...quotes[3]!, bid: 11, ask: 10 }] }),
      422,
      "VALIDATION",
    );
    expect(crossed.details).toContainEqual({ row: 1, field: "bid", message: expect.any(String) });
    const unknown = expectError(await call(f.app, "POST", "/v1/quotes/AAA", { json: [{ ...quotes[2]!, price: 1 }] }), 422, "VALIDATION");
    expect(unknown.details).toEqual([{ row: 0, field: "price", message: expect.any(String) }]);
    expectError(await call(f.app, "GET", "/v1/quotes/AAA?from=1"), 422, "VALIDATION");
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });
});

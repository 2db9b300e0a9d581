/**
 * /v1/audit (src/api/audit.ts): the log and its chain check
 *
 * In process through app.request(), over a real SQLite file; answers are checked against what the
 * store holds afterwards, and every refusal for the one error shape and for having written nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { LOCAL_ACTOR } from "../../src/api/security.ts";
import { call, closeApiFixtures, expectError, minuteBars, openApiFixture } from "../support/api.ts";
import { T0 } from "../support/api-routes.ts";

afterEach(closeApiFixtures);

describe("/v1/audit", () => {
  test("GET is the store's log, filtered by actor, action and limit", async () => {
    const f = await openApiFixture();
    await call(f.app, "POST", "/v1/bars/AAA", { json: minuteBars(T0, 3) });
    await call(f.app, "PUT", "/v1/preferences/theme", { json: { value: "dark" } });
    await call(f.app, "DELETE", "/v1/bars/AAA?all=true");
    const all = await call(f.app, "GET", "/v1/audit");
    expect(all.status).toBe(200);
    expect(all.body).toEqual(await f.store.audit.query());
    expect((all.body as { action: string }[]).map((entry) => entry.action)).toEqual(["bars.insert", "prefs.set", "bars.delete"]);

    const deletes = await call(f.app, "GET", "/v1/audit?action=bars.delete");
    expect(deletes.body).toEqual([expect.objectContaining({ action: "bars.delete", entity: "AAA", actor: LOCAL_ACTOR })]);
    expect((await call(f.app, "GET", "/v1/audit?limit=2")).body).toEqual(await f.store.audit.query({ limit: 2 }));
    expect(((await call(f.app, "GET", "/v1/audit?limit=2")).body as unknown[]).length).toBe(2);
    expect((await call(f.app, "GET", "/v1/audit?actor=nobody")).body).toEqual([]);
    const since = (all.body as { timestamp: number }[])[2]!.timestamp;
    expect((await call(f.app, "GET", `/v1/audit?since=${since}`)).body).toEqual(await f.store.audit.query({ since }));
    expectError(await call(f.app, "GET", "/v1/audit?who=me"), 422, "VALIDATION");
  });

  test("verify recomputes the chain; with an earlier head it still verifies", async () => {
    const f = await openApiFixture();
    await call(f.app, "POST", "/v1/bars/AAA", { json: minuteBars(T0, 3) });
    const head = (await f.store.audit.head())!;
    await call(f.app, "PUT", "/v1/preferences/theme", { json: { value: "dark" } });
    const count = (await f.store.audit.query()).length;

    const plain = await call(f.app, "GET", "/v1/audit/verify");
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual({ ok: true, checked: count });
    const withHead = await call(f.app, "GET", `/v1/audit/verify?headId=${head.id}&headHash=${head.hash}`);
    expect(withHead.body).toEqual(await f.store.audit.verify({ head }));
    expect(withHead.body.ok).toBe(true);
  });

  test("verify with a head the log does not have (another hash, or truncated) is not ok", async () => {
    const f = await openApiFixture();
    await call(f.app, "POST", "/v1/bars/AAA", { json: minuteBars(T0, 3) });
    await call(f.app, "PUT", "/v1/preferences/theme", { json: { value: "dark" } });
    const head = (await f.store.audit.head())!;
    const wrongHash = await call(f.app, "GET", `/v1/audit/verify?headId=${head.id}&headHash=${"f".repeat(64)}`);
    expect(wrongHash.status).toBe(200);
    expect(wrongHash.body.ok).toBe(false);
    const beyond = await call(f.app, "GET", `/v1/audit/verify?headId=${head.id + 5}&headHash=${head.hash}`);
    expect(beyond.body.ok).toBe(false);
  });

  test("422 for headId without headHash and for malformed ones", async () => {
    const f = await openApiFixture();
    expect(expectError(await call(f.app, "GET", "/v1/audit/verify?headId=1"), 422, "VALIDATION").details).toEqual([{ field: "headHash", message: expect.any(String) }]);
    expect(expectError(await call(f.app, "GET", `/v1/audit/verify?headHash=${"a".repeat(64)}`), 422, "VALIDATION").details).toEqual([{ field: "headId", message: expect.any(String) }]);
    expectError(await call(f.app, "GET", `/v1/audit/verify?headId=0&headHash=${"a".repeat(64)}`), 422, "VALIDATION");
    expectError(await call(f.app, "GET", "/v1/audit/verify?headId=1&headHash=XYZ"), 422, "VALIDATION");
  });
});

describe("/v1/audit/rollups", () => {
  test("verify re-digests the closed rollups and counts the open ones; close closes every symbol's, one symbol's, or only the due ones", async () => {
    const f = await openApiFixture();
    // One-bar writes as a recorder makes them: live appends, rolled up (the API's own batches are entries).
    for (const bar of minuteBars(T0, 3)) await f.store.insertBars("AAA", [bar]);
    await f.store.insertBars("BBB", minuteBars(T0, 2));
    const open = await call(f.app, "GET", "/v1/audit/rollups/verify");
    expect(open.status).toBe(200);
    expect(open.body).toEqual({ ok: true, checked: 0, pending: 2, mismatches: [] });

    // Opened just now, under the default one-day grain: none is due.
    expect((await call(f.app, "POST", "/v1/audit/rollups/close?due=true")).body).toEqual({ closed: 0 });
    expect((await call(f.app, "POST", "/v1/audit/rollups/close?symbol=AAA")).body).toEqual({ closed: 1 });
    expect((await call(f.app, "POST", "/v1/audit/rollups/close")).body).toEqual({ closed: 1 });
    const rollups = await f.store.audit.query({ action: "bars.rollup" });
    expect(rollups.map((entry) => [entry.entity, (entry.details as { rows: number }).rows])).toEqual([["AAA", 3], ["BBB", 2]]);
    const closed = await call(f.app, "GET", "/v1/audit/rollups/verify");
    expect(closed.body).toEqual({ ok: true, checked: 2, pending: 0, mismatches: [] });

    // A correction after the rollup is named as what changed its bars.
    const correction = await call(f.app, "POST", "/v1/bars/AAA", { json: [{ ...minuteBars(T0, 1)[0]!, high: 999, close: 999 }] });
    expect(correction.status).toBe(200);
    const changed = await call(f.app, "GET", "/v1/audit/rollups/verify");
    const insert = (await f.store.audit.query({ action: "bars.insert" })).at(-1)!;
    expect(changed.body).toMatchObject({ ok: true, checked: 2, pending: 0, mismatches: [{ id: rollups[0]!.id, symbol: "AAA", changedBy: insert.id }] });
    expect(changed.body).toEqual(await f.store.audit.verifyRollups());
  });

  test("422 for a bad symbol, a due that is not true or false, and an unknown parameter, closing nothing", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", minuteBars(T0, 1));
    for (const query of ["symbol=", "due=yes", "symbols=AAA"]) {
      expectError(await call(f.app, "POST", `/v1/audit/rollups/close?${query}`), 422, "VALIDATION");
    }
    expect((await f.store.audit.verifyRollups()).pending).toBe(1);
    expect(await f.store.audit.query({ action: "bars.rollup" })).toEqual([]);
  });
});

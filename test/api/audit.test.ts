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

/**
 * /v1/preferences (src/api/preferences.ts)
 *
 * In process through app.request(), over a real SQLite file; answers are checked against what the
 * store holds afterwards, and every refusal for the one error shape and for having written nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { call, closeApiFixtures, expectError, openApiFixture, snapshot } from "../support/api.ts";

afterEach(closeApiFixtures);

describe("/v1/preferences", () => {
  test("PUT sets, GET reads one and all, DELETE removes: the store agrees each time", async () => {
    const f = await openApiFixture();
    const value = { colors: ["red", "green"], size: 12.5, nested: { on: true, none: null } };
    const put = await call(f.app, "PUT", "/v1/preferences/chart.theme", { json: { value } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ key: "chart.theme", value, updated_at: expect.any(Number) });
    expect(put.body).toEqual(await f.store.prefs.get("chart.theme"));
    await call(f.app, "PUT", "/v1/preferences/layout", { json: { value: "grid" } });

    const one = await call(f.app, "GET", "/v1/preferences/chart.theme");
    expect(one.body).toEqual(put.body);
    const all = await call(f.app, "GET", "/v1/preferences");
    expect(all.body).toEqual(await f.store.prefs.all());
    expect((all.body as { key: string }[]).map((p) => p.key).sort()).toEqual(["chart.theme", "layout"]);

    const replaced = await call(f.app, "PUT", "/v1/preferences/layout", { json: { value: null } });
    expect(replaced.body.value).toBeNull();
    expect((await f.store.prefs.get("layout"))!.value).toBeNull();

    const removed = await call(f.app, "DELETE", "/v1/preferences/layout");
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ deleted: true });
    expect(await f.store.prefs.get("layout")).toBeNull();
    expect((await f.store.prefs.all()).map((p) => p.key)).toEqual(["chart.theme"]);
  });

  test("404 to GET or DELETE an unknown key", async () => {
    const f = await openApiFixture();
    expectError(await call(f.app, "GET", "/v1/preferences/missing"), 404, "NOT_FOUND");
    expectError(await call(f.app, "DELETE", "/v1/preferences/missing"), 404, "NOT_FOUND");
  });

  test("422 for a body without value, an extra key, or a key with whitespace; nothing changes", async () => {
    const f = await openApiFixture();
    await call(f.app, "PUT", "/v1/preferences/a", { json: { value: 1 } });
    const before = await snapshot(f.store);
    expectError(await call(f.app, "PUT", "/v1/preferences/a", { json: {} }), 422, "VALIDATION");
    expectError(await call(f.app, "PUT", "/v1/preferences/a", { json: { value: 2, other: 3 } }), 422, "VALIDATION");
    expectError(await call(f.app, "PUT", `/v1/preferences/${encodeURIComponent("has space")}`, { json: { value: 2 } }), 422, "VALIDATION");
    expect(await snapshot(f.store)).toEqual(before);
  });
});

/**
 * /v1/artifacts (src/api/artifacts.ts): the caller states hash and size; the server never reads the file
 *
 * In process through app.request(), over a real SQLite file; answers are checked against what the
 * store holds afterwards, and every refusal for the one error shape and for having written nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { call, closeApiFixtures, expectError, openApiFixture, snapshot } from "../support/api.ts";

afterEach(closeApiFixtures);

describe("/v1/artifacts", () => {
  const sha = (char: string) => char.repeat(64);
  const v1 = { name: "momentum", version: "1.0.0", path: "models/momentum-1.bin", sha256: sha("a"), size: 1234, params: { window: 20 }, metrics: { sharpe: 1.5 }, tags: ["prod"] };
  const v2 = { name: "momentum", version: "2.0.0", path: "models/momentum-2.bin", sha256: sha("b"), size: 2345, tags: ["canary"] };
  const other = { name: "meanrev", version: "0.1", path: "models/meanrev.bin", sha256: sha("c"), size: 10, tags: ["prod"] };

  test("POST registers; the answer is the store's record", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "POST", "/v1/artifacts", { json: v1 });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ...v1, created_at: expect.any(Number) });
    expect(answer.body).toEqual(await f.store.artifacts.get("momentum", "1.0.0"));
  });

  test("GET lists all, by name and by tag; GET {name} is the latest, {name}/{version} that one", async () => {
    const f = await openApiFixture();
    for (const input of [v1, v2, other]) expect((await call(f.app, "POST", "/v1/artifacts", { json: input })).status).toBe(200);

    const all = await call(f.app, "GET", "/v1/artifacts");
    expect(all.status).toBe(200);
    expect(all.body).toEqual(await f.store.artifacts.list());
    expect((all.body as { version: string }[]).map((a) => a.version).sort()).toEqual(["0.1", "1.0.0", "2.0.0"]);

    const byName = await call(f.app, "GET", "/v1/artifacts?name=momentum");
    expect((byName.body as { version: string }[]).map((a) => a.version).sort()).toEqual(["1.0.0", "2.0.0"]);
    const byTag = await call(f.app, "GET", "/v1/artifacts?tag=prod");
    expect((byTag.body as { name: string }[]).map((a) => a.name).sort()).toEqual(["meanrev", "momentum"]);
    expect(byTag.body).toEqual(await f.store.artifacts.list({ tag: "prod" }));

    const latest = await call(f.app, "GET", "/v1/artifacts/momentum");
    expect(latest.status).toBe(200);
    expect(latest.body).toEqual({ ...v2, params: {}, metrics: {}, created_at: expect.any(Number) });
    expect(latest.body).toEqual(await f.store.artifacts.get("momentum"));

    const one = await call(f.app, "GET", "/v1/artifacts/momentum/1.0.0");
    expect(one.body).toEqual({ ...v1, created_at: expect.any(Number) });
  });

  test("registering the same name, version and hash again is a no-op", async () => {
    const f = await openApiFixture();
    const first = await call(f.app, "POST", "/v1/artifacts", { json: v1 });
    const auditBefore = await f.store.audit.query({ action: "artifacts.register" });
    const again = await call(f.app, "POST", "/v1/artifacts", { json: v1 });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect((await f.store.artifacts.list()).length).toBe(1);
    expect(await f.store.audit.query({ action: "artifacts.register" })).toEqual(auditBefore);
  });

  test("409 for the same name and version with another sha256; the first stays", async () => {
    const f = await openApiFixture();
    await call(f.app, "POST", "/v1/artifacts", { json: v1 });
    const before = await snapshot(f.store);
    expectError(await call(f.app, "POST", "/v1/artifacts", { json: { ...v1, sha256: sha("d") } }), 409, "CONFLICT");
    expect(await snapshot(f.store)).toEqual(before);
    expect((await f.store.artifacts.get("momentum", "1.0.0"))!.sha256).toBe(sha("a"));
  });

  test("404 for an unknown name or version", async () => {
    const f = await openApiFixture();
    await call(f.app, "POST", "/v1/artifacts", { json: v1 });
    expectError(await call(f.app, "GET", "/v1/artifacts/nothing"), 404, "NOT_FOUND");
    expectError(await call(f.app, "GET", "/v1/artifacts/momentum/9.9.9"), 404, "NOT_FOUND");
  });

  test("the server never reads the file: a real file's size and hash are not checked or revealed", async () => {
    const f = await openApiFixture();
    // package.json exists in the server's folder; a wrong size and hash are recorded as stated,
    // because checking them would let a request learn the file's size byte by byte.
    const real = Bun.file("package.json").size;
    const stated = { ...v1, path: "package.json", size: real + 1 };
    const answer = await call(f.app, "POST", "/v1/artifacts", { json: stated });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ...stated, created_at: expect.any(Number) });
    expect(JSON.stringify(answer.body)).not.toContain(String(real));
  });

  test("422 for a path outside the server's folder, a bad hash or a missing size; nothing registered", async () => {
    const f = await openApiFixture();
    const before = await snapshot(f.store);
    for (const [body, field] of [
      [{ ...v1, path: "../secrets/model.bin" }, "path"],
      [{ ...v1, path: "/etc/passwd" }, "path"],
      [{ ...v1, sha256: "ABC" }, "sha256"],
      [{ ...v1, size: undefined }, "size"],
      [{ ...v1, extra: 1 }, "extra"],
    ] as const) {
      const error = expectError(await call(f.app, "POST", "/v1/artifacts", { json: body }), 422, "VALIDATION");
      expect((error.details as { field?: string }[]).map((issue) => issue.field)).toContain(field);
    }
    expect(await snapshot(f.store)).toEqual(before);
  });
});

/**
 * createApp (src/api/app.ts): the OpenAPI document lists every route, and every route it lists
 * answers
 *
 * In process through app.request(), over a real SQLite file; answers are checked against what the
 * store holds afterwards, and every refusal for the one error shape and for having written nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { call, closeApiFixtures, openApiFixture } from "../support/api.ts";

afterEach(closeApiFixtures);

describe("GET /openapi.json", () => {
  test("an OpenAPI 3.1 document whose paths are every route, each with its methods", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "GET", "/openapi.json");
    expect(answer.status).toBe(200);
    const doc = answer.body as { openapi: string; info: { title: string; version: string }; paths: Record<string, Record<string, unknown>>; components: { securitySchemes?: Record<string, unknown> } };
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toBe("tradelite");
    const expected: Record<string, string[]> = {
      "/health": ["get"],
      "/ready": ["get"],
      "/metrics": ["get"],
      "/v1/info": ["get"],
      "/v1/symbols": ["get"],
      "/v1/bars/{symbol}": ["delete", "get", "post"],
      "/v1/bars/{symbol}/latest": ["get"],
      "/v1/bars/{symbol}/completeness": ["get"],
      "/v1/cross-section": ["get", "post"],
      "/v1/stream": ["get"],
      "/v1/stream/ws": ["get"],
      "/v1/calendars": ["get"],
      "/v1/calendars/{name}": ["get", "put"],
      "/v1/calendars/{name}/years/{year}": ["put"],
      "/v1/instruments": ["get", "put"],
      "/v1/instruments/{symbol}": ["get"],
      "/v1/instruments/{symbol}/status": ["put"],
      "/v1/symbols/{symbol}/calendar": ["get", "put"],
      "/v1/adjustments/{symbol}": ["get", "put"],
      "/v1/adjustments/{symbol}/actions": ["get"],
      "/v1/quotes/{symbol}": ["get", "post"],
      "/v1/cache": ["get"],
      "/v1/cache/{symbol}": ["get", "post"],
      "/v1/cache/{symbol}/compact": ["post"],
      "/v1/artifacts": ["get", "post"],
      "/v1/artifacts/{name}": ["get"],
      "/v1/artifacts/{name}/{version}": ["get"],
      "/v1/audit": ["get"],
      "/v1/audit/verify": ["get"],
      "/v1/audit/rollups/verify": ["get"],
      "/v1/audit/rollups/close": ["post"],
      "/v1/preferences": ["get"],
      "/v1/preferences/{key}": ["delete", "get", "put"],
      "/v1/metrics/{name}": ["get", "post"],
      "/v1/metrics/{name}/summary": ["get"],
      "/v1/maintenance/{action}": ["post"],
      "/v1/maintenance/stats": ["get"],
      "/v1/maintenance/integrity": ["get"],
      "/v1/maintenance/backups": ["get"],
      "/v1/maintenance/backups/{name}": ["delete"],
    };
    const actual = Object.fromEntries(Object.entries(doc.paths).map(([path, item]) => [path, Object.keys(item).sort()]));
    expect(actual).toEqual(expected);
    // The bar upload documents each of its bodies, and every error is the one Error schema.
    const post = doc.paths["/v1/bars/{symbol}"]!.post as { requestBody: { content: Record<string, unknown> }; responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> };
    expect(Object.keys(post.requestBody.content).sort()).toEqual([
      "application/json", "application/octet-stream", "application/vnd.apache.arrow.file", "application/vnd.apache.arrow.stream", "application/vnd.apache.parquet", "text/csv",
    ]);
    expect(post.responses["415"]!.content!["application/json"]!.schema.$ref).toBe("#/components/schemas/Error");
    expect(doc.components.securitySchemes).toEqual({ bearer: { type: "http", scheme: "bearer" } });
    // Every operation but /health and /ready declares the scheme: a generated client knows to send it.
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        expect([path, method, (operation as { security?: unknown }).security]).toEqual([path, method, path === "/health" || path === "/ready" ? [] : [{ bearer: [] }]]);
      }
    }
  });

  test("every documented route answers something other than 404 'no route'", async () => {
    const f = await openApiFixture({ withCache: true });
    const doc = (await call(f.app, "GET", "/openapi.json")).body as { paths: Record<string, Record<string, unknown>> };
    const sample: Record<string, string> = { symbol: "AAA", name: "m", version: "1", key: "k", action: "optimize" };
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) {
        if (method === "delete" || method === "post" || method === "put") continue; // reads only
        const concrete = path.replace(/\{(\w+)\}/g, (_, param: string) => sample[param]!);
        if (path === "/v1/stream") {
          // An event stream does not end: its headers are the answer.
          const response = await f.app.request(concrete);
          expect(response.status).toBe(200);
          await response.body?.cancel();
          continue;
        }
        const answer = await call(f.app, method.toUpperCase(), concrete);
        if (answer.status === 404) expect(answer.body.error.message).not.toStartWith("no route");
      }
    }
  });
});

/**
 * /v1/instruments (src/api/instruments.ts) over a real server on a random loopback port, a real
 * SQLite file behind it: answers checked against what the store holds, refusals for the one error
 * shape and for having written nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startServer, type RunningServer } from "../../src/entries/api.ts";
import { openStore, type Store } from "../../src/mod.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-api-instruments-");
let store: Store;
let server: RunningServer;

beforeAll(async () => {
  store = await openStore({ backend: "sqlite", path: dir.file("trading.db") });
  server = startServer(store, { port: 0, logError: () => {} });
});

afterAll(async () => {
  await server.stop();
  await store.close();
  dir.cleanup();
});

async function send(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

describe("/v1/instruments", () => {
  test("PUT stores a JSON array, all or nothing, one audit entry; GET lists and filters; GET one carries its status history", async () => {
    expect(new URL(server.url).hostname).toBe("127.0.0.1");
    const put = await send("PUT", "/v1/instruments", [
      { symbol: "600519.SH", name: "贵州茅台", listedDate: "2001-08-27" },
      { symbol: "688981.SH", name: "中芯国际" },
      { symbol: "000002.SZ", name: "万科A" },
    ]);
    expect(put).toEqual({ status: 200, body: { written: 3 } });
    expect((await store.audit.query({ action: "instruments.put" })).length).toBe(1);

    const all = await send("GET", "/v1/instruments");
    expect(all.status).toBe(200);
    expect(all.body).toEqual(await store.instruments.list());
    expect(all.body.map((each: { symbol: string }) => each.symbol)).toEqual(["000002.SZ", "600519.SH", "688981.SH"]);
    expect((await send("GET", "/v1/instruments?exchange=SH&board=star")).body.map((each: { symbol: string }) => each.symbol)).toEqual(["688981.SH"]);

    const status = await send("PUT", "/v1/instruments/000002.SZ/status", [{ date: "20240102", status: "ST" }]);
    expect(status).toEqual({ status: 200, body: [{ date: "2024-01-02", status: "ST" }] });
    expect((await store.audit.query({ action: "instruments.status" })).map((entry) => entry.entity)).toEqual(["000002.SZ"]);
    expect((await send("GET", "/v1/instruments?status=ST&asOf=20240103")).body.map((each: { symbol: string }) => each.symbol)).toEqual(["000002.SZ"]);
    expect((await send("GET", "/v1/instruments?status=ST&asOf=2023-12-29")).body).toEqual([]);

    const one = await send("GET", "/v1/instruments/000002.SZ");
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ ...(await store.instruments.get("000002.SZ")), statusHistory: [{ date: "2024-01-02", status: "ST" }] });
    expect(one.body).toMatchObject({ board: "main", lotSize: 100, tickSize: 0.01, priceLimitPct: 10, calendar: "XSHE" });
    // The store calls are timed like every other store operation.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/tradelite_store_operation_duration_seconds_count\{operation="instruments\.put"\} 1\n/);
    expect(metrics).toMatch(/tradelite_store_operation_duration_seconds_count\{operation="instruments\.list"\} \d+\n/);
  });

  test("refusals: a bad row (422 naming row and field, nothing written), an unknown filter or status (422), an unknown symbol (404), not an array", async () => {
    const before = await store.instruments.list();
    const bad = await send("PUT", "/v1/instruments", [{ symbol: "601398.SH" }, { symbol: "600036.SH", board: "growth" }, { symbol: "600000.SH", lotSize: "100" }]);
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe("VALIDATION");
    expect(bad.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ row: 2, field: "lotSize" })]));
    const meaning = await send("PUT", "/v1/instruments", [{ symbol: "601398.SH" }, { symbol: "600036.SH", board: "growth" }]);
    expect(meaning.status).toBe(422);
    expect(meaning.body.error.details).toEqual([expect.objectContaining({ row: 1, field: "board" })]);
    expect(await store.instruments.list()).toEqual(before);

    expect((await send("GET", "/v1/instruments?board=growth")).status).toBe(422);
    expect((await send("GET", "/v1/instruments?market=SH")).status).toBe(422);
    expect((await send("GET", "/v1/instruments?asOf=2024-02-30")).status).toBe(422);
    const missing = await send("GET", "/v1/instruments/601398.SH");
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("NOT_FOUND");
    expect((await send("PUT", "/v1/instruments", { symbol: "601398.SH" })).status).toBe(422);
    expect((await send("PUT", "/v1/instruments/601398.SH/status", [{ date: "2024-01-02", status: "ST" }])).status).toBe(404);
    const badStatus = await send("PUT", "/v1/instruments/600519.SH/status", [{ date: "2024-01-02", status: "PT" }]);
    expect(badStatus.status).toBe(422);
    expect(badStatus.body.error.details).toEqual([expect.objectContaining({ row: 0, field: "status" })]);
    expect(await store.instruments.statusHistory("600519.SH")).toEqual([]);
    expect((await send("PUT", "/v1/instruments", "[{")).status).toBe(400);
  });
});

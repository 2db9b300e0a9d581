/**
 * Early refusals through the real server (Bun.serve on a loopback port, the sqlite-worker store
 * over a real SQLite file): while every reader's queue is full, a read is answered at once by
 * the front door (src/api/admission.ts) with the API's 503 QUEUE_FULL, Retry-After and the
 * secure headers; /health still answers; the refusals are counted in /metrics and summarized
 * in the access log. /health is answered at the front door too, with the app's own answer.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AccessEntry } from "../../src/api/access-log.ts";
import { createAdmission } from "../../src/api/admission.ts";
import { SECURE_HEADERS } from "../../src/api/security.ts";
import { startServer, type RunningServer } from "../../src/api/server.ts";
import { openStore, type Store } from "../../src/mod.ts";
import { workersOf } from "../../src/worker/store.ts";
import { tempDir } from "../support/files.ts";
import { rawHttp } from "../support/api-server.ts";
import { eventually, HEAVY_SYMBOL, writeHeavySymbol } from "../support/worker-load.ts";

const dir = tempDir("tradelite-admission-");
const path = dir.file("heavy.db");
const opened: { store: Store; server: RunningServer }[] = [];
beforeAll(() => writeHeavySymbol(path));
afterAll(async () => {
  for (const { store, server } of opened) {
    await server.stop(true);
    await store.close();
  }
  dir.cleanup();
});

const WEEKLY = `/v1/bars/${HEAVY_SYMBOL}?interval=1w`;
const MAX_QUEUE = 32;

describe("early refusals while every reader's queue is full", () => {
  test("a read is refused at once with the API's 503, /health answers, /metrics and the access log count it", async () => {
    const store = await openStore({ backend: "sqlite-worker", path, readers: 1, maxQueue: MAX_QUEUE });
    const entries: AccessEntry[] = [];
    const server = startServer(store, { port: 0, accessLog: (entry) => entries.push(entry), accessLogClients: false });
    opened.push({ store, server });
    const url = server.url;
    const [reader] = workersOf(store).readers;

    // Fill the one reader's queue with heavy reads, then ask for more.
    const controllers = Array.from({ length: MAX_QUEUE }, () => new AbortController());
    const heavy = controllers.map((controller) => fetch(`${url}${WEEKLY}`, { signal: controller.signal }).then((answer) => answer.status, (error: Error) => error.name));
    await eventually(async () => (reader!.full ? true : undefined), 10_000, "the reader's queue full");

    const refused = await fetch(`${url}/v1/symbols`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.headers.get("content-type")).toBe("application/json");
    for (const [name, value] of Object.entries(SECURE_HEADERS)) expect(refused.headers.get(name)).toBe(value);
    // The app's own answer to QUEUE_FULL (errors.ts): a client cannot tell where it was refused.
    expect(await refused.json()).toEqual({ error: { code: "UNAVAILABLE", message: "the store is busy; retry shortly", details: { storageCode: "QUEUE_FULL" } } });
    // Refused before the store: the reader's own counts saw nothing of it.
    expect(reader!.stats.refused).toBe(0);
    // A HEAD is refused the same way, without a body.
    const head = await fetch(`${url}/v1/symbols`, { method: "HEAD" });
    expect(head.status).toBe(503);
    expect(await head.text()).toBe("");
    // Liveness never waits for the store, and writes are not the readers' to refuse.
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { status: string }).status).toBe("ok");

    // The first refusal is logged at once; the second waits for the summary (stop flushes it).
    expect(entries.filter((entry) => entry.refusedEarly !== undefined)).toEqual([
      expect.objectContaining({ method: "GET", route: null, status: 503, refusedEarly: 1, actor: null }),
    ]);

    for (const controller of controllers) controller.abort();
    await Promise.all(heavy);
    await eventually(async () => (reader!.queued === 0 ? true : undefined), 10_000, "the reader's queue empty");
    expect((await fetch(`${url}/v1/symbols`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^tradelite_http_refused_early_total 2$/m);

    await server.stop(true);
    expect(entries.filter((entry) => entry.refusedEarly !== undefined).map((entry) => entry.refusedEarly)).toEqual([1, 1]);
  }, 60_000);

  test("the front door is only for stores with worker queues; it refuses reads only, and not the open routes", async () => {
    const inThread = await openStore({ backend: "sqlite", path: dir.file("plain.db") });
    expect(createAdmission(inThread)).toBeNull();
    await inThread.close();

    const reader = { full: true };
    const admission = createAdmission({ workers: { writer: { full: false }, readers: [reader] } }, { openPaths: new Set(["/"]) })!;
    const at = (path: string, method = "GET") => admission.refuse(new Request(`http://127.0.0.1:8787${path}`, { method }));
    expect(at("/v1/bars/600000.SH?from=2024-01-02")?.status).toBe(503);
    for (const open of ["/health", "/ready", "/metrics", "/openapi.json", "/", "/health?x=1"]) expect(at(open)).toBeNull();
    expect(at("/v1/bars/600000.SH", "PUT")).toBeNull();
    expect(at("/v1/maintenance/backup", "POST")).toBeNull();
    expect(admission.refused).toBe(1);
    reader.full = false;
    expect(at("/v1/symbols")).toBeNull();
    expect(admission.refused).toBe(1);
  });
});

describe("/health at the front door", () => {
  test("answers what the app's route answers, and leaves a wrong Host, no Host or an Origin to the app", async () => {
    const store = await openStore({ backend: "sqlite", path: dir.file("health.db") });
    const entries: AccessEntry[] = [];
    const server = startServer(store, { port: 0, accessLog: (entry) => entries.push(entry), accessLogClients: false });
    opened.push({ store, server });
    const headersOf = (answer: Response) => [...answer.headers].filter(([name]) => name !== "date").sort();

    const door = await fetch(`${server.url}/health`);
    // A request with an Origin goes to the app (which adds CORS headers where configured).
    const app = await fetch(`${server.url}/health`, { headers: { origin: server.url } });
    expect(door.status).toBe(200);
    expect(await door.json()).toEqual(await app.json());
    expect(headersOf(door)).toEqual(headersOf(app));
    // Only the app's answer is logged: the door's is a liveness probe, not traffic.
    expect(entries.map((entry) => entry.status)).toEqual([200]);

    const port = new URL(server.url).port;
    const rebound = await rawHttp(server.url, `GET /health HTTP/1.1\r\nHost: evil.example:${port}\r\nConnection: close\r\n\r\n`);
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).error.code).toBe("FORBIDDEN_HOST");
    const noHost = await rawHttp(server.url, "GET /health HTTP/1.0\r\n\r\n");
    expect(noHost.status).toBe(400);
    const fromPage = await fetch(`${server.url}/health`, { headers: { origin: "http://evil.example" } });
    expect(fromPage.status).toBe(200);
    expect(entries.map((entry) => entry.status)).toEqual([200, 403, 400, 200]);
  });
});

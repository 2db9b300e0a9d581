/**
 * src/api/json-array.ts: JSON array uploads read as they arrive. The reader must give exactly
 * what JSON.parse and the element schema give for any way the body is cut into pieces, refuse
 * what is not a JSON array (400) or not valid (422, at most 100 issues and the total), and keep
 * the server answering while it reads: a 64 MiB body of bad rows through a real `serve`
 * process, with /health probed meanwhile.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { z } from "@hono/zod-openapi";
import { Hono } from "hono";
import { handleError, MAX_REPORTED_ISSUES } from "../../src/api/errors.ts";
import { readJsonArray } from "../../src/api/json-array.ts";
import { killAllServers, mb, procMemory, resetPeak, startServeProcess, type ServerProcess } from "../support/api-server.ts";
import { call, expectError, minuteBars, openApiFixture } from "../support/api.ts";
import { tempDir } from "../support/files.ts";

const Element = z.strictObject({ timestamp: z.union([z.number(), z.string().max(64)]), close: z.number().nullable().optional() });

/** A bare app whose one route answers what readJsonArray read, or its error in the API's shape. */
const reader = new Hono();
reader.onError((error, c) => handleError(error, c, () => {}));
reader.post("/", async (c) => c.json(await readJsonArray(c, Element)));

/** `text` as a request body cut into pieces at `cuts` (byte offsets), each arriving on its own. */
function piecewise(bytes: Uint8Array, cuts: readonly number[]): ReadableStream<Uint8Array> {
  const ends = [...new Set(cuts.map((cut) => Math.min(cut, bytes.length)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const end of [...ends, bytes.length]) {
    if (end > from) pieces.push(bytes.slice(from, end));
    from = end;
  }
  return new ReadableStream({
    pull(controller) {
      const piece = pieces.shift();
      if (piece) controller.enqueue(piece);
      else controller.close();
    },
  });
}

async function read(text: string | Uint8Array, cuts: readonly number[] = []) {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  const response = await reader.request("/", { method: "POST", body: piecewise(bytes, cuts), duplex: "half", headers: { "content-type": "application/json" } } as RequestInit);
  return { status: response.status, body: (await response.json()) as any };
}

/** What the reader should answer for `text`: the whole-body parse and zod validation. */
function expected(text: string): { status: number; rows?: unknown[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { status: 400 };
  }
  if (!Array.isArray(value)) return { status: 422 };
  const result = z.array(Element).safeParse(value);
  return result.success ? { status: 200, rows: result.data } : { status: 422 };
}

describe("readJsonArray gives what a whole-body parse gives", () => {
  // Elements with the characters the slicer must not be fooled by inside strings.
  const tricky = fc.oneof(
    fc.record({ timestamp: fc.oneof(fc.integer(), fc.constantFrom("a,b", "]", "}", '\\"', "[{", "文,字", "\\\\")), close: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true })) }, { requiredKeys: ["timestamp"] }),
    fc.constantFrom(0, null, "x", [], [1, [2]], { timestamp: 1, extra: "]" }, { nested: { a: [1, "]"] } }),
  );

  test("for any array of elements cut into any pieces", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(tricky, { maxLength: 30 }), fc.array(fc.nat(2_000), { maxLength: 12 }), fc.constantFrom("", " ", "\n\t "), async (elements, cuts, space) => {
        const text = `${space}[${space}${elements.map((element) => JSON.stringify(element)).join(`,${space}`)}${space}]${space}`;
        const want = expected(text);
        const got = await read(text, cuts);
        expect(got.status).toBe(want.status);
        if (want.status === 200) expect(got.body).toEqual(want.rows);
      }),
      { numRuns: 300 },
    );
  });

  test("for text that is not quite a JSON array, cut into any pieces", async () => {
    const broken = fc.constantFrom(
      "[1,]", "[,1]", "[1,,2]", "[1 2]", "[", "[1,", "]", "[1]]", "[1] x", "[1}", '["a]', '["\\"]', "{}", '{"a":1}', "0", "nul", "", "  ",
      "[{\"timestamp\":1}", "[{\"timestamp\":1},]", "[[]", "[{]}", "x[1]", "[1]\n[2]",
    );
    await fc.assert(
      fc.asyncProperty(broken, fc.array(fc.nat(12), { maxLength: 6 }), async (text, cuts) => {
        const got = await read(text, cuts);
        expect({ text, status: got.status }).toEqual({ text, status: expected(text).status });
        expect(got.body.error.code).toBe(got.status === 400 ? "MALFORMED" : "VALIDATION");
      }),
      { numRuns: 400 },
    );
  });

  test("a character cut between its bytes is read whole; bytes that are not UTF-8 are a 400 naming the body", async () => {
    const text = '[{"timestamp":"文字文字"}]';
    const bytes = new TextEncoder().encode(text);
    for (let cut = 1; cut < bytes.length; cut++) expect(await read(bytes, [cut])).toEqual({ status: 200, body: [{ timestamp: "文字文字" }] });
    const bad = new Uint8Array([...bytes.slice(0, 16), 0xff, ...bytes.slice(16)]);
    const answer = await read(bad, [16, 17]);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: "MALFORMED", message: "the request body is not valid UTF-8", details: { where: "body" } });
  });

  test("issues carry their row across slices; at most 100 are listed, with the total", async () => {
    // 60,000 elements (several slices): every 1,000th is bad in two ways (an unknown key and a
    // close that is not a number).
    const elements = Array.from({ length: 60_000 }, (_, i) => (i % 1_000 === 999 ? { timestamp: i, close: "x", extra: 1 } : { timestamp: i, close: i }));
    const answer = await read(JSON.stringify(elements), [70_000, 300_000]);
    expect(answer.status).toBe(422);
    expect(answer.body.error.total).toBe(120);
    expect(answer.body.error.details).toHaveLength(100);
    expect(answer.body.error.details.map((issue: { row: number }) => issue.row)).toEqual(Array.from({ length: 50 }, (_, k) => [k * 1_000 + 999, k * 1_000 + 999]).flat());
    expect(answer.body.error.details.slice(0, 2).map((issue: { field: string }) => issue.field).sort()).toEqual(["close", "extra"]);

    const zeros = await read(`[${new Array(30_000).fill(0).join(",")}]`);
    expect(zeros.body.error.total).toBe(30_000);
    expect(zeros.body.error.details).toHaveLength(MAX_REPORTED_ISSUES);
    expect(zeros.body.error.details.at(-1)).toEqual({ row: 99, message: expect.any(String) });
  });
});

describe("the routes that take JSON arrays read them this way", () => {
  test("bars, the cache and quotes: a valid body is written; a bad one is a 422 listing rows, nothing written", async () => {
    const f = await openApiFixture({ withCache: true });
    const bars = minuteBars(Date.UTC(2024, 0, 2, 1, 31), 3);
    expect((await call(f.app, "POST", "/v1/bars/J", { json: bars })).body).toEqual({ written: 3 });
    expect(await f.store.getBars("J")).toEqual(bars);
    expect((await call(f.app, "POST", "/v1/cache/JC", { json: bars })).body).toMatchObject({ written: 3 });
    const quotes = [{ timestamp: bars[0]!.timestamp, bid: 1, ask: 2 }];
    expect((await call(f.app, "POST", "/v1/quotes/JQ", { json: quotes })).body).toEqual({ written: 1 });

    for (const path of ["/v1/bars/J2", "/v1/cache/J2", "/v1/quotes/J2"]) {
      const answer = await call(f.app, "POST", path, { json: [{ timestamp: 1 }, { timestamp: 2, open: "x", bid: "x" }] });
      const error = expectError(answer, 422, "VALIDATION");
      expect((error.details as { row: number }[]).every((issue) => issue.row === 1)).toBe(true);
    }
    expect((await f.store.overview()).map((row) => row.symbol)).toEqual(["J", "JC"]);
    expect(await f.store.getQuotes("J2")).toEqual([]);
  });

  test("quotes as text/plain are a 415, before the body is read", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "POST", "/v1/quotes/JQ", { body: "[]", headers: { "content-type": "text/plain" } });
    expectError(answer, 415);
  });

  test("the OpenAPI document still describes each element", async () => {
    const f = await openApiFixture();
    const doc = (await call(f.app, "GET", "/openapi.json")).body;
    const schema = doc.paths["/v1/bars/{symbol}"].post.requestBody.content["application/json"].schema;
    expect(schema).toEqual({ type: "array", items: { $ref: "#/components/schemas/BarInput" } });
    expect(Object.keys(doc.components.schemas.BarInput.properties)).toEqual(["timestamp", "open", "high", "low", "close", "volume", "amount"]);
    expect(doc.components.schemas.QuoteInput.required).toEqual(["timestamp"]);
  });
});

describe("a 64 MiB body of bad rows through a real server", () => {
  const dir = tempDir("tradelite-json-array-");
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServeProcess({ TRADELITE_DB: dir.file("big.db"), TRADELITE_CACHE_DIR: dir.file("cache"), TRADELITE_PORT: "0" });
  });
  afterAll(async () => {
    await killAllServers();
    dir.cleanup();
  });

  test("is a 422 with 100 issues and the total, in bounded memory, while /health keeps answering", async () => {
    // The largest body of zeros the default limit (64 MiB) takes: "[0,0,...,0]".
    const count = Math.floor((64 * 1024 * 1024 - 1) / 2);
    const text = new Uint8Array(2 * count + 1).fill(0x2c);
    text[0] = 0x5b;
    for (let i = 1; i < text.length; i += 2) text[i] = 0x30;
    text[text.length - 1] = 0x5d;
    expect(text.length).toBeLessThanOrEqual(64 * 1024 * 1024);

    const before = resetPeak(server.pid);
    let done = false;
    const probes: number[] = [];
    const probing = (async () => {
      while (!done) {
        const started = performance.now();
        const health = await fetch(`${server.url}/health`);
        expect(health.status).toBe(200);
        await health.arrayBuffer();
        probes.push(performance.now() - started);
        await Bun.sleep(5);
      }
    })();
    const answer = await fetch(`${server.url}/v1/bars/ZEROS`, { method: "POST", body: text, headers: { "content-type": "application/json" } });
    const answerText = await answer.text();
    done = true;
    await probing;
    const after = procMemory(server.pid);
    const worst = Math.max(...probes);
    console.log(`64 MiB of bad rows: ${probes.length} /health probes, worst ${worst.toFixed(1)} ms; server peak RSS +${mb(after.peak - before.rss)} MB; answer ${answerText.length} bytes`);

    expect(answer.status).toBe(422);
    const error = (JSON.parse(answerText) as { error: { code: string; total: number; details: unknown[] } }).error;
    expect(error.code).toBe("VALIDATION");
    expect(error.total).toBe(count);
    expect(error.details).toHaveLength(MAX_REPORTED_ISSUES);
    expect(answerText.length).toBeLessThan(20_000);
    // Before: 3.3 GB for an 8 MB body. The body itself is 64 MiB (and its text twice that).
    expect(after.peak - before.rss).toBeLessThan(600 * 1024 * 1024);
    // Probes kept coming while the body was read: the server did not stop answering.
    expect(probes.length).toBeGreaterThan(5);
    // A sanity bound, not the target (50 ms, measured in bun run bench:api): before, 21 s.
    expect(worst).toBeLessThan(1_000);
    expect(((await (await fetch(`${server.url}/v1/symbols`)).json()) as unknown[]).length).toBe(0);
  });
});

/**
 * The HTTP API as it runs: `bun scripts/serve.ts` in its own process, on a random loopback port,
 * driven with fetch (and a raw socket where fetch cannot forge a header). The server's memory is
 * read from /proc/<pid>/status, so the streaming claims of body.ts (CSV upload parsed as it
 * arrives) and stream.ts (CSV/NDJSON written as the client reads) are measured, not assumed.
 *
 * Order matters within this file: one main server serves the describe blocks up to SIGTERM,
 * which stops it and opens its database file from Python. The last block starts servers of its
 * own in process (startServer, src/api/server.ts) on other loopback addresses.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { startServer } from "../../src/api/server.ts";
import { openDatabase, openStore, type Bar, type SymbolOverview } from "../../src/mod.ts";
import {
  addToChecksum,
  barColumns,
  csvLine,
  csvUploadStream,
  DAY,
  emptyChecksum,
  expectedChecksum,
  forEachLine,
  genBar,
  MINUTE,
  T0,
  CSV_HEADER_LINE,
  type Checksum,
} from "../support/api-bars.ts";
import {
  killAllServers,
  mb,
  MB,
  procMemory,
  rawHttp,
  resetPeak,
  spawnServe,
  startServeProcess,
  type ServerProcess,
} from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

/** Rows of the big upload and the big export. */
const ROWS = 1_000_000;
/** Series seeds: each symbol gets its own values, so a row read from the wrong symbol fails. */
const SEED_UPLOAD = 3;
const SEED_EXPORT = 1;
const SEED_READ = 2;
const SEED_IMPORT = 4;
/** The symbol the concurrent readers read: READ_DAYS days of 1,440 minute bars. */
const READ_DAYS = 10;
const DAY_ROWS = DAY / MINUTE;
/** The CSV import that runs while they read. */
const IMPORT_ROWS = 300_000;
const TOKEN = "tradelite-test-token-0123456789";

/**
 * Memory bounds. The figures below were measured here (Linux x64, Bun 1.4.5, 2 cores) by running
 * this file against the code as it is and against copies changed to not stream; each test
 * prints its own figure, so a change shows in the log.
 *
 * Upload: the CSV text of 1M rows is ~57 MB. The streamed design holds the parsed rows as seven
 * Float64Array columns that grow by doubling (2^20 rows = 59 MB, ~88 MB while the last doubling
 * copies), validateBars makes its own 56 MB of columns, the insert is one transaction whose
 * pages SQLite spills to the WAL, and papaparse's per-chunk garbage comes and goes. Measured:
 * +224..233 MB of peak RSS on a fresh server (+180..212 MB after the exports, whose freed heap
 * it partly reuses). Not streaming costs more, measured on copies of body.ts changed to do so:
 * buffering the whole body and then parsing it in 1 MB slices, +393..487 MB; buffering it and
 * parsing it in one papaparse call, +981..1,047 MB. Those figures are the in-thread backend's.
 * The server now runs the store in workers by default: the columns then cross to the writer
 * worker once (posted in transferred slices, joined there into 56 MB and validated into another
 * 56 MB), measured +284 MB; a non-streaming upload pays the same crossing on top of its
 * +393..1,047 MB, so at least ~+450 MB. 420 MB is ~1.5x the streamed figure and below that.
 *
 * Export: the CSV text of 1M rows is ~57 MB, the NDJSON ~103 MB. The pull-based stream holds one
 * 8,192-row page and one 2,048-row chunk; measured +43..48 MB for CSV and +11..40 MB for NDJSON
 * (mostly garbage the collector has not yet reclaimed). On copies of stream.ts changed not to
 * stream: reading every row before answering, +247..269 MB (CSV) and +237..544 MB (NDJSON);
 * building the answer as one string, +612..622 MB and +356..694 MB. 120 MB is ~2.5x the
 * streamed figure and less than half of the smallest of those.
 */
const UPLOAD_PEAK_BOUND = 420 * MB;
const EXPORT_PEAK_BOUND = 120 * MB;

const dir = tempDir("tradelite-api-server-");
const mainDb = dir.file("main.db");
let main: ServerProcess;

/** Every answer this file received, for the "never a 500" check. */
const answers: { request: string; status: number }[] = [];

async function call(server: ServerProcess, path: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(server.url + path, init);
  answers.push({ request: `${init.method ?? "GET"} ${path.slice(0, 120)}`, status: response.status });
  return response;
}

function csvPost(body: RequestInit["body"]): RequestInit {
  return { method: "POST", headers: { "content-type": "text/csv" }, body, duplex: "half" } as RequestInit;
}

function jsonPost(body: RequestInit["body"], headers: Record<string, string> = {}): RequestInit {
  return { method: "POST", headers: { "content-type": "application/json", ...headers }, body, duplex: "half" } as RequestInit;
}

interface ErrorBody {
  error: { code: string; message: string; details: unknown };
}

/**
 * Reads an error answer: its status and code must be `status` and `code`, and its body exactly
 * the one error shape { error: { code, message, details } }, as JSON.
 */
async function expectError(response: Response, status: number, code: string): Promise<ErrorBody> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  // One comparison, so a failure shows the status and the whole body together.
  expect({ status: response.status, body }).toMatchObject({ status, body: { error: { code } } });
  expectErrorShape(body);
  expect(response.headers.get("content-type") ?? "").toStartWith("application/json");
  return body as ErrorBody;
}

function expectErrorShape(body: unknown): void {
  expect(typeof body).toBe("object");
  expect(Object.keys(body as object)).toEqual(["error"]);
  const { error } = body as ErrorBody;
  expect(Object.keys(error).sort()).toEqual(["code", "details", "message"]);
  expect(error.code).toMatch(/^[A-Z_]+$/);
  expect(typeof error.message).toBe("string");
  expect(error.message.length).toBeGreaterThan(0);
  expect(error.details === null || typeof error.details === "object").toBe(true);
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/** GET one day (DAY_ROWS minutes from row day * DAY_ROWS) of `symbol` as JSON. */
function dayQuery(symbol: string, day: number): string {
  const start = T0 + day * DAY;
  return `/v1/bars/${symbol}?start=${iso(start)}&end=${iso(start + DAY - 1)}`;
}

/** The first row of `bars` that differs from rows [from, from + expected) of series `seed`. */
function firstDifference(bars: readonly Bar[], from: number, expected: number, seed: number): string | null {
  if (bars.length !== expected) return `got ${bars.length} rows, expected ${expected}`;
  for (let k = 0; k < bars.length; k++) {
    const want = genBar(from + k, seed);
    const got = bars[k]!;
    if (
      got.timestamp !== want.timestamp || got.open !== want.open || got.high !== want.high || got.low !== want.low ||
      got.close !== want.close || got.volume !== want.volume || got.amount !== want.amount || Object.keys(got).length !== 7
    ) {
      return `row ${k}: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
    }
  }
  return null;
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}

beforeAll(async () => {
  // EXP (the export's rows) and SYM2 (the concurrent readers' rows) are written through the
  // library before the server starts, so the export and read tests do not depend on the upload.
  const db = openDatabase({ path: mainDb });
  try {
    expect(db.insertBars("EXP", barColumns(ROWS, SEED_EXPORT))).toBe(ROWS);
    expect(db.insertBars("SYM2", barColumns(READ_DAYS * DAY_ROWS, SEED_READ))).toBe(READ_DAYS * DAY_ROWS);
  } finally {
    db.close();
  }
  main = await startServeProcess({
    TRADELITE_DB: mainDb,
    TRADELITE_CACHE_DIR: dir.file("main-cache"),
    TRADELITE_PORT: "0",
    TRADELITE_MAX_BODY: "200000000",
  });
  expect(main.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(main.url).not.toEndWith(":0");
});

afterAll(async () => {
  await killAllServers();
  dir.cleanup();
});

// The exports run first, on a server that has done nothing yet: after the upload the process
// keeps ~200 MB of freed heap, which an export that buffers could reuse without raising its RSS.
describe("a million rows through the real server", () => {
  test("a 1,000,000-row CSV export streams every row, exactly, in bounded server memory", async () => {
    const before = resetPeak(main.pid);
    const started = performance.now();
    const response = await call(main, "/v1/bars/EXP?format=csv");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    let lines = 0;
    let header = "";
    let first = "";
    let last = "";
    let mismatches = 0;
    let firstMismatch = "";
    const sum: Checksum = emptyChecksum();
    const bytes = await forEachLine(response.body!, (line) => {
      if (lines++ === 0) {
        header = line;
        return;
      }
      const i = lines - 2;
      if (i === 0) first = line;
      last = line;
      if (`${line}\n` !== csvLine(genBar(i, SEED_EXPORT))) {
        if (mismatches++ === 0) firstMismatch = `row ${i}: ${JSON.stringify(line)}`;
      }
      const f = line.split(",");
      addToChecksum(sum, Number(f[1]), Number(f[2]), Number(f[3]), Number(f[4]), Number(f[5]), Number(f[6]));
    });
    const after = procMemory(main.pid);
    const increase = after.peak - before.rss;
    console.log(
      `api 1M-row CSV export: ${seconds(started)} s, ${mb(bytes)} MB of CSV, server RSS ${mb(before.rss)} MB before, peak ${mb(after.peak)} MB: server peak RSS +${mb(increase)} MB (bound ${mb(EXPORT_PEAK_BOUND)} MB)`,
    );
    expect(lines).toBe(ROWS + 1);
    expect(`${header}\n`).toBe(CSV_HEADER_LINE);
    expect(`${first}\n`).toBe(csvLine(genBar(0, SEED_EXPORT)));
    expect(first.startsWith("2024-01-02T01:31:00.000Z,")).toBe(true);
    expect(`${last}\n`).toBe(csvLine(genBar(ROWS - 1, SEED_EXPORT)));
    expect({ mismatches, firstMismatch }).toEqual({ mismatches: 0, firstMismatch: "" });
    expect(sum).toEqual(expectedChecksum(ROWS, SEED_EXPORT));
    expect(increase).toBeLessThan(EXPORT_PEAK_BOUND);
  });

  test("the same 1,000,000 rows as NDJSON: one JSON bar per line, exactly", async () => {
    const before = resetPeak(main.pid);
    const started = performance.now();
    const response = await call(main, "/v1/bars/EXP?format=ndjson");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/x-ndjson");
    let lines = 0;
    let mismatches = 0;
    let firstMismatch = "";
    let middle = "";
    const bytes = await forEachLine(response.body!, (line) => {
      const i = lines++;
      if (i === 500_000) middle = line;
      if (line !== JSON.stringify(genBar(i, SEED_EXPORT))) {
        if (mismatches++ === 0) firstMismatch = `line ${i}: ${JSON.stringify(line)}`;
      }
    });
    const after = procMemory(main.pid);
    const increase = after.peak - before.rss;
    console.log(
      `api 1M-row NDJSON export: ${seconds(started)} s, ${mb(bytes)} MB of NDJSON, server peak RSS +${mb(increase)} MB (bound ${mb(EXPORT_PEAK_BOUND)} MB)`,
    );
    expect(lines).toBe(ROWS);
    expect(JSON.parse(middle)).toEqual({
      timestamp: T0 + 500_000 * MINUTE,
      ...(({ timestamp: _, ...values }) => values)(genBar(500_000, SEED_EXPORT)),
    });
    expect({ mismatches, firstMismatch }).toEqual({ mismatches: 0, firstMismatch: "" });
    expect(increase).toBeLessThan(EXPORT_PEAK_BOUND);
  });

  test("a streamed 1,000,000-row CSV upload is stored whole, in bounded server memory", async () => {
    const before = resetPeak(main.pid);
    const started = performance.now();
    const response = await call(main, "/v1/bars/UP", csvPost(csvUploadStream(ROWS, SEED_UPLOAD)));
    const text = await response.text();
    const after = procMemory(main.pid);
    const increase = after.peak - before.rss;
    console.log(
      `api 1M-row CSV upload: ${seconds(started)} s, server RSS ${mb(before.rss)} MB before, peak ${mb(after.peak)} MB: server peak RSS +${mb(increase)} MB (bound ${mb(UPLOAD_PEAK_BOUND)} MB)`,
    );
    expect({ status: response.status, body: text }).toEqual({ status: 200, body: JSON.stringify({ written: ROWS, file: { profile: "cache", encoding: "utf-8", conversions: [], assumed: [], ignored: [] } }) });
    expect(increase).toBeLessThan(UPLOAD_PEAK_BOUND);

    const overview = (await (await call(main, "/v1/symbols")).json()) as SymbolOverview[];
    expect(overview.find((row) => row.symbol === "UP")).toEqual({ symbol: "UP", count: ROWS, start: T0, end: T0 + (ROWS - 1) * MINUTE });
    // The first, a middle and the last (partial: 640 rows) day, value for value.
    const lastDay = Math.floor((ROWS - 1) / DAY_ROWS);
    for (const day of [0, 347, lastDay]) {
      const bars = (await (await call(main, dayQuery("UP", day))).json()) as Bar[];
      const rows = Math.min(DAY_ROWS, ROWS - day * DAY_ROWS);
      expect(firstDifference(bars, day * DAY_ROWS, rows, SEED_UPLOAD)).toBeNull();
    }
  });
});

describe("50 concurrent readers while a large CSV import runs", () => {
  test("every one-day read answers 200 with the right rows; the import is stored whole", async () => {
    const started = performance.now();
    let importFinishedAt = Infinity;
    const importing = call(main, "/v1/bars/IMP", csvPost(csvUploadStream(IMPORT_ROWS, SEED_IMPORT))).then(async (response) => {
      const body = await response.text();
      importFinishedAt = performance.now();
      return { status: response.status, body };
    });
    const MIN_READS = 4;
    const MAX_READS = 12;
    type ReadResult = { client: number; day: number; status: number; problem: string | null; finishedAt: number };
    const reader = async (client: number): Promise<ReadResult[]> => {
      const results: ReadResult[] = [];
      // At least MIN_READS each, and on while the import is still running (up to MAX_READS).
      for (let n = 0; n < MAX_READS && (n < MIN_READS || importFinishedAt === Infinity); n++) {
        const day = (client * 3 + n * 7) % READ_DAYS;
        const response = await call(main, dayQuery("SYM2", day));
        const text = await response.text();
        const problem = response.status === 200 ? firstDifference(JSON.parse(text) as Bar[], day * DAY_ROWS, DAY_ROWS, SEED_READ) : text.slice(0, 300);
        results.push({ client, day, status: response.status, problem, finishedAt: performance.now() });
      }
      return results;
    };
    const reads = (await Promise.all(Array.from({ length: 50 }, (_, client) => reader(client)))).flat();
    const imported = await importing;
    const duringImport = reads.filter((read) => read.finishedAt < importFinishedAt).length;
    console.log(
      `api concurrency: ${reads.length} one-day reads by 50 clients (${duringImport} finished while the ${IMPORT_ROWS}-row CSV import ran), ${seconds(started)} s`,
    );

    expect(reads.length).toBeGreaterThanOrEqual(50 * MIN_READS);
    expect(reads.filter((read) => read.status !== 200 || read.problem !== null)).toEqual([]);
    expect(imported).toEqual({ status: 200, body: JSON.stringify({ written: IMPORT_ROWS, file: { profile: "cache", encoding: "utf-8", conversions: [], assumed: [], ignored: [] } }) });
    // The reads did overlap the import (it streamed in while they were answered).
    expect(duringImport).toBeGreaterThan(0);
    const overview = (await (await call(main, "/v1/symbols")).json()) as SymbolOverview[];
    expect(overview.find((row) => row.symbol === "IMP")).toEqual({
      symbol: "IMP",
      count: IMPORT_ROWS,
      start: T0,
      end: T0 + (IMPORT_ROWS - 1) * MINUTE,
    });
    expect(overview.find((row) => row.symbol === "SYM2")).toMatchObject({ count: READ_DAYS * DAY_ROWS });
  });
});

describe("bad input through the real server", () => {
  const twoBars = JSON.stringify([genBar(0, 9), genBar(1, 9)]);

  test("malformed JSON is a 400 MALFORMED, and nothing is written", async () => {
    await expectError(await call(main, "/v1/bars/BAD", jsonPost('[{"timestamp": 1704159060000, "open": ')), 400, "MALFORMED");
    expect(await (await call(main, "/v1/bars/BAD")).json()).toEqual([]);
  });

  test("a Content-Type the route does not take is a 415", async () => {
    const response = await call(main, "/v1/bars/BAD", { method: "POST", headers: { "content-type": "text/plain" }, body: twoBars });
    await expectError(response, 415, "UNSUPPORTED_MEDIA_TYPE");
    expect(await (await call(main, "/v1/bars/BAD")).json()).toEqual([]);
  });

  test("a bad symbol is a 422 naming the symbol, on reads and on writes", async () => {
    const spaced = await expectError(await call(main, "/v1/bars/bad%20symbol"), 422, "VALIDATION");
    expect(spaced.error.details).toEqual([expect.objectContaining({ field: "symbol" })]);
    await expectError(await call(main, `/v1/bars/${"X".repeat(65)}`), 422, "VALIDATION");
    await expectError(await call(main, "/v1/bars/bad%20symbol", jsonPost(twoBars)), 422, "VALIDATION");
    const overview = (await (await call(main, "/v1/symbols")).json()) as SymbolOverview[];
    expect(overview.map((row) => row.symbol)).not.toContain("bad symbol");
  });

  test("a range whose start is after its end, or an unreadable start, is a 422 naming start", async () => {
    const reversed = await expectError(await call(main, `/v1/bars/SYM2?start=${iso(T0 + DAY)}&end=${iso(T0)}`), 422, "VALIDATION");
    expect(reversed.error.details).toEqual([expect.objectContaining({ field: "start" })]);
    const unreadable = await expectError(await call(main, "/v1/bars/SYM2?start=yesterday"), 422, "VALIDATION");
    expect(unreadable.error.details).toEqual([expect.objectContaining({ field: "start" })]);
  });

  test("an unknown interval is a 422 naming interval", async () => {
    const body = await expectError(await call(main, "/v1/bars/SYM2?interval=2m"), 422, "VALIDATION");
    expect(body.error.details).toEqual([expect.objectContaining({ field: "interval" })]);
    // A known one is fine (the control): one day of SYM2 as 1h bars.
    const hourly = await call(main, `/v1/bars/SYM2?start=${iso(T0)}&end=${iso(T0 + DAY - 1)}&interval=1h`);
    expect(hourly.status).toBe(200);
    expect(((await hourly.json()) as Bar[]).length).toBe(25);
  });

  test("a CSV upload without a price column is a 400 naming it, and nothing is written", async () => {
    const csv = "timestamp,open,high,close,volume,amount\n2024-01-02T01:31:00.000Z,10.5,10.6,10.55,1200,12660\n";
    const body = await expectError(await call(main, "/v1/bars/BADCSV", csvPost(csv)), 400, "MALFORMED");
    expect(body.error.message).toContain("no low");
    expect(await (await call(main, "/v1/bars/BADCSV")).json()).toEqual([]);
  });

  test("a CSV upload with a broken quote is a 400, and nothing is written", async () => {
    const unclosed = `${CSV_HEADER_LINE}${csvLine(genBar(0, 9))}2024-01-02T01:32:00.000Z,"10.5,10.6,10.4,10.55,1200,12660\n`;
    await expectError(await call(main, "/v1/bars/BADCSV", csvPost(unclosed)), 400, "MALFORMED");
    const trailing = `${CSV_HEADER_LINE}2024-01-02T01:31:00.000Z,"10.5"x,10.6,10.4,10.55,1200,12660\n`;
    await expectError(await call(main, "/v1/bars/BADCSV", csvPost(trailing)), 400, "MALFORMED");
    expect(await (await call(main, "/v1/bars/BADCSV")).json()).toEqual([]);
  });

  test("a request whose Host header names another host (DNS rebinding) is a 403", async () => {
    const { host } = new URL(main.url);
    const request = (hostHeader: string) => `GET /v1/symbols HTTP/1.1\r\nHost: ${hostHeader}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`;
    for (const forged of ["evil.example", `evil.example:${new URL(main.url).port}`]) {
      const raw = await rawHttp(main.url, request(forged));
      answers.push({ request: `raw GET /v1/symbols Host: ${forged}`, status: raw.status });
      expect(raw.status).toBe(403);
      const body = JSON.parse(raw.body) as ErrorBody;
      expectErrorShape(body);
      expect(body.error.code).toBe("FORBIDDEN_HOST");
      expect(raw.body).not.toContain("SYM2");
    }
    // The control: the same raw request with the real Host is answered.
    const ok = await rawHttp(main.url, request(host));
    answers.push({ request: `raw GET /v1/symbols Host: ${host}`, status: ok.status });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('"symbol":"SYM2"');
  });

  describe("on a server with TRADELITE_MAX_BODY=100000", () => {
    let small: ServerProcess;
    beforeAll(async () => {
      small = await startServeProcess({
        TRADELITE_DB: dir.file("small.db"),
        TRADELITE_CACHE_DIR: dir.file("small-cache"),
        TRADELITE_PORT: "0",
        TRADELITE_MAX_BODY: "100000",
      });
    });

    /** A body of `bytes` bytes sent chunked (no Content-Length), 16 KB a chunk. */
    function chunked(text: string): ReadableStream<Uint8Array> {
      const bytes = new TextEncoder().encode(text);
      let at = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (at >= bytes.length) return controller.close();
          controller.enqueue(bytes.slice(at, at + 16_384));
          at += 16_384;
        },
      });
    }

    /** JSON bars of about `bytes` bytes. */
    function jsonOf(bytes: number): string {
      const bars: Bar[] = [];
      let size = 2;
      while (size < bytes) {
        const bar = genBar(bars.length, 9);
        bars.push(bar);
        size += JSON.stringify(bar).length + 1;
      }
      return JSON.stringify(bars);
    }
    const bigJson = jsonOf(150_000);

    test("a body over the limit with Content-Length is the API's 413", async () => {
      expect(bigJson.length).toBeGreaterThan(150_000);
      expect(bigJson.length).toBeLessThan(200_000);
      const body = await expectError(await call(small, "/v1/bars/BIG", jsonPost(bigJson)), 413, "PAYLOAD_TOO_LARGE");
      expect(body.error.message).toContain("100000");
      expect(await (await call(small, "/v1/bars/BIG")).json()).toEqual([]);
    });

    test("a body over twice the limit with Content-Length is the API's 413 too (not a bare one)", async () => {
      // server.ts sets Bun's own maxRequestBodySize to twice TRADELITE_MAX_BODY "as a backstop
      // only"; body.ts promises the API's error shape for every 413.
      const huge = jsonOf(250_000);
      const body = await expectError(await call(small, "/v1/bars/BIG", jsonPost(huge)), 413, "PAYLOAD_TOO_LARGE");
      expect(body.error.message).toContain("100000");
      expect(await (await call(small, "/v1/bars/BIG")).json()).toEqual([]);
    });

    test("a chunked body (no Content-Length) over the limit is a 413, JSON or CSV", async () => {
      // Over the limit, and over twice the limit (Bun's own backstop).
      for (const json of [bigJson, jsonOf(600_000)]) {
        await expectError(await call(small, "/v1/bars/BIG", jsonPost(chunked(json))), 413, "PAYLOAD_TOO_LARGE");
      }
      let csv = CSV_HEADER_LINE;
      for (let i = 0; i < 10_000; i++) csv += csvLine(genBar(i, 9));
      expect(csv.length).toBeGreaterThan(500_000);
      await expectError(await call(small, "/v1/bars/BIG", csvPost(chunked(csv))), 413, "PAYLOAD_TOO_LARGE");
      expect(await (await call(small, "/v1/bars/BIG")).json()).toEqual([]);
    });

    test("bodies under the limit, with Content-Length or chunked, are taken (the control)", async () => {
      expect(await (await call(small, "/v1/bars/OK", jsonPost(twoBars))).json()).toEqual({ written: 2 });
      const three = JSON.stringify([genBar(2, 9), genBar(3, 9), genBar(4, 9)]);
      expect(await (await call(small, "/v1/bars/OK", jsonPost(chunked(three)))).json()).toEqual({ written: 3 });
      expect(((await (await call(small, "/v1/bars/OK")).json()) as Bar[]).length).toBe(5);
    });
  });

  describe("on a server with TRADELITE_TOKEN and TRADELITE_TOKEN_NAME=alice", () => {
    let guarded: ServerProcess;
    const auth = { authorization: `Bearer ${TOKEN}` };
    beforeAll(async () => {
      guarded = await startServeProcess({
        TRADELITE_DB: dir.file("guarded.db"),
        TRADELITE_CACHE_DIR: dir.file("guarded-cache"),
        TRADELITE_PORT: "0",
        TRADELITE_TOKEN: TOKEN,
        TRADELITE_TOKEN_NAME: "alice",
      });
      expect(guarded.stdout()).toContain("(bearer token required)");
    });

    test("without the token (or with a wrong one) every route but /health is a 401, and nothing is written", async () => {
      expect((await call(guarded, "/health")).status).toBe(200);
      const missing = await call(guarded, "/v1/symbols");
      expect(missing.headers.get("www-authenticate") ?? "").toContain("Bearer");
      await expectError(missing, 401, "UNAUTHORIZED");
      await expectError(await call(guarded, "/v1/symbols", { headers: { authorization: `Bearer ${TOKEN}x` } }), 401, "UNAUTHORIZED");
      await expectError(await call(guarded, "/v1/bars/ALC", jsonPost(twoBars)), 401, "UNAUTHORIZED");
      await expectError(await call(guarded, "/v1/audit"), 401, "UNAUTHORIZED");
      expect(await (await call(guarded, "/v1/bars/ALC", { headers: auth })).json()).toEqual([]);
    });

    test("with the token a mutation succeeds and its audit entry names alice", async () => {
      expect(await (await call(guarded, "/v1/bars/ALC", jsonPost(twoBars, auth))).json()).toEqual({ written: 2 });
      const response = await call(guarded, "/v1/audit?actor=alice", { headers: auth });
      expect(response.status).toBe(200);
      const entries = (await response.json()) as { actor: string; action: string; entity: string | null; details: unknown }[];
      expect(entries).toEqual([
        expect.objectContaining({ actor: "alice", action: "bars.insert", entity: "ALC", details: expect.objectContaining({ rows: 2 }) }),
      ]);
      // No entry for ALC under any other name (the refused POST wrote nothing).
      const all = (await (await call(guarded, "/v1/audit", { headers: auth })).json()) as typeof entries;
      expect(all.filter((entry) => entry.entity === "ALC").map((entry) => entry.actor)).toEqual(["alice"]);
    });
  });
});

describe("exposure rule", () => {
  test("TRADELITE_HOST=0.0.0.0 without TRADELITE_TOKEN exits 2 naming TRADELITE_TOKEN, without listening", async () => {
    const dbFile = dir.file("exposed.db");
    const exposed = spawnServe({
      TRADELITE_DB: dbFile,
      TRADELITE_CACHE_DIR: dir.file("exposed-cache"),
      TRADELITE_HOST: "0.0.0.0",
      TRADELITE_PORT: "0",
    });
    const code = await Promise.race([exposed.exited, Bun.sleep(15_000).then(() => "still running")]);
    await exposed.drained;
    expect(code).toBe(2);
    expect(exposed.stderr()).toContain("TRADELITE_TOKEN");
    expect(exposed.stderr()).toContain("TRADELITE_HOST");
    expect(exposed.stdout()).not.toContain("listening");
    // It stopped before opening (and so creating) its database.
    expect(existsSync(dbFile)).toBe(false);
  });

  test("the control: the same host with a token serves, and wants the token", async () => {
    const exposed = await startServeProcess({
      TRADELITE_DB: dir.file("exposed-ok.db"),
      TRADELITE_CACHE_DIR: dir.file("exposed-ok-cache"),
      TRADELITE_HOST: "0.0.0.0",
      TRADELITE_PORT: "0",
      TRADELITE_TOKEN: TOKEN,
    });
    try {
      expect(exposed.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
      const local = { ...exposed, url: exposed.url.replace("0.0.0.0", "127.0.0.1") };
      expect((await call(local, "/health")).status).toBe(200);
      await expectError(await call(local, "/v1/symbols"), 401, "UNAUTHORIZED");
    } finally {
      exposed.proc.kill("SIGKILL");
      await exposed.exited;
    }
  });
});

describe("no answer was a 500", () => {
  test("every status seen in this file is below 500, and the main server logged no failure", () => {
    expect(answers.length).toBeGreaterThan(200);
    expect(answers.filter((answer) => answer.status >= 500)).toEqual([]);
    expect(main.stderr()).not.toContain("tradelite api:");
  });
});

describe("SIGTERM", () => {
  test("the server exits 0, and its database opens cleanly elsewhere with every row in it", async () => {
    expect(main.hasExited()).toBe(false);
    main.proc.kill("SIGTERM");
    const code = await Promise.race([main.exited, Bun.sleep(20_000).then(() => "still running")]);
    expect(code).toBe(0);
    expect(main.stdout()).toContain("SIGTERM, stopping");

    const script = `
import json, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
out = {"integrity": [row[0] for row in con.execute("PRAGMA integrity_check")], "symbols": {}}
for symbol in sys.argv[2:]:
    out["symbols"][symbol] = con.execute(
        "SELECT count(*), min(timestamp), max(timestamp),"
        " sum(CAST(round(open*100) AS INTEGER) + 3*CAST(round(high*100) AS INTEGER)"
        " + 5*CAST(round(low*100) AS INTEGER) + 7*CAST(round(close*100) AS INTEGER)),"
        " sum(volume), sum(CAST(round(amount*100) AS INTEGER))"
        " FROM market_data WHERE symbol = ?", (symbol,)).fetchone()
print(json.dumps(out))
`;
    const python = Bun.spawnSync(["python3", "-c", script, mainDb, "UP", "IMP", "EXP", "SYM2"]);
    expect(python.stderr.toString()).toBe("");
    expect(python.exitCode).toBe(0);
    const result = JSON.parse(python.stdout.toString()) as { integrity: string[]; symbols: Record<string, number[]> };
    expect(result.integrity).toEqual(["ok"]);
    const expected = (count: number, seed: number) => {
      const sum = expectedChecksum(count, seed);
      return [count, T0, T0 + (count - 1) * MINUTE, sum.priceCents, sum.volume, sum.amountCents];
    };
    expect(result.symbols).toEqual({
      UP: expected(ROWS, SEED_UPLOAD),
      IMP: expected(IMPORT_ROWS, SEED_IMPORT),
      EXP: expected(ROWS, SEED_EXPORT),
      SYM2: expected(READ_DAYS * DAY_ROWS, SEED_READ),
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe("the server's own address", () => {
  test("a server bound to 127.0.0.2 answers requests that name it", async () => {
    const dir = tempDir("tradelite-bind-");
    const store = await openStore({ backend: "sqlite", path: dir.file("t.db") });
    const running = startServer(store, { hostname: "127.0.0.2", port: 0 });
    try {
      expect(running.url).toStartWith("http://127.0.0.2:");
      const answer = await fetch(`${running.url}/health`);
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { status: string }).status).toBe("ok");
    } finally {
      await running.stop();
      await store.close();
      dir.cleanup();
    }
  });

  test("an IPv6 loopback server prints a usable URL", async () => {
    const dir = tempDir("tradelite-bind6-");
    const store = await openStore({ backend: "sqlite", path: dir.file("t.db") });
    const running = startServer(store, { hostname: "[::1]", port: 0 });
    try {
      expect(running.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      expect((await fetch(`${running.url}/health`)).status).toBe(200);
    } finally {
      await running.stop();
      await store.close();
      dir.cleanup();
    }
  });
});

/**
 * The API over the sqlite-worker store (what `bun run serve` runs) answers as over the in-thread
 * store, and maps the worker's transient failures to 503 with Retry-After.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createApp } from "../../src/api/app.ts";
import { openStore, type Store } from "../../src/mod.ts";
import { barTextOf } from "../../src/domain/bar-text.ts";
import { tempDir } from "../support/files.ts";
import { barObjects, T0 } from "../support/worker-load.ts";

const dir = tempDir("tradelite-api-worker-");
const stores: Store[] = [];
afterAll(async () => {
  for (const store of stores) await store.close();
  dir.cleanup();
});
let files = 0;
async function store(backend: "sqlite" | "sqlite-worker", extra: Record<string, unknown> = {}): Promise<Store> {
  const opened = await openStore({ backend, path: dir.file(`${backend}-${++files}.db`), ...extra } as never);
  stores.push(opened);
  return opened;
}
const TOKENS = [{ name: "alice", token: "a-long-secret-token-1" }];
const auth = { authorization: `Bearer ${TOKENS[0]!.token}` };

describe("the same requests, the same answers", () => {
  test("uploads, reads in every format, resampling, deletes, errors and the audit trail", async () => {
    const apps = [createApp(await store("sqlite"), { tokens: TOKENS }), createApp(await store("sqlite-worker"), { tokens: TOKENS })];
    const bars = barObjects(3_000);
    const csv = `timestamp,open,high,low,close,volume,amount\n${bars
      .slice(0, 500)
      .map((bar) => [new Date(bar.timestamp + 10_000_000_000).toISOString(), bar.open, bar.high, bar.low, bar.close, bar.volume, bar.amount].join(","))
      .join("\n")}\n`;
    const requests: [string, string, RequestInit?][] = [
      ["POST", "/v1/bars/AAA", { body: JSON.stringify(bars), headers: { "content-type": "application/json" } }],
      ["POST", "/v1/bars/AAA", { body: csv, headers: { "content-type": "text/csv" } }],
      ["POST", "/v1/bars/AAA", { body: JSON.stringify([{ ...bars[0], low: 1e9 }]), headers: { "content-type": "application/json" } }],
      ["GET", "/v1/bars/AAA"],
      ["GET", "/v1/bars/AAA?format=csv"],
      ["GET", "/v1/bars/AAA?format=ndjson&order=desc&limit=700"],
      ["GET", "/v1/bars/AAA?interval=15m"],
      ["GET", `/v1/bars/AAA?start=${T0 + 60_000 * 100}&end=${T0 + 60_000 * 339}`],
      ["GET", "/v1/bars/AAA/latest"],
      ["GET", "/v1/bars/BBB/latest"],
      ["DELETE", `/v1/bars/AAA?start=${T0}&end=${T0 + 60_000 * 9}`],
      ["GET", "/v1/symbols"],
      ["GET", "/v1/bars/A%20A"],
      ["PUT", "/v1/preferences/theme", { body: JSON.stringify({ value: { dark: true } }), headers: { "content-type": "application/json" } }],
      ["GET", "/v1/audit?action=bars.insert"],
      ["GET", "/v1/audit/verify"],
    ];
    for (const [method, path, init] of requests) {
      const answers = await Promise.all(
        apps.map(async (app) => {
          const answer = await app.request(path, { method, ...init, headers: { ...auth, ...(init?.headers as Record<string, string>) } });
          return { status: answer.status, type: answer.headers.get("content-type"), body: await answer.text() };
        }),
      );
      // Audit entries and preferences carry their own time (and hash): compare what they say.
      const comparable = answers.map((answer) =>
        path.startsWith("/v1/audit?")
          ? { ...answer, body: JSON.parse(answer.body).map((entry: Record<string, unknown>) => [entry.actor, entry.action, entry.entity, entry.details]) }
          : path.startsWith("/v1/preferences/")
            ? { ...answer, body: { ...JSON.parse(answer.body), updated_at: typeof JSON.parse(answer.body).updated_at } }
            : answer,
      );
      expect(comparable[1], `${method} ${path}`).toEqual(comparable[0]!);
    }
  });
});

describe("the reader workers write the answers' bytes", () => {
  // More rows than a whole JSON answer holds (10,000) and than a worker page (8,192).
  const ROWS = 12_500;
  const SYMBOL = "600519.SH";

  async function pair(): Promise<[Store, Store]> {
    const stores = [await store("sqlite"), await store("sqlite-worker")] as [Store, Store];
    // A gap in a session (fill=previous fills it), NULLs, and prices whose adjusted values have
    // long decimal forms.
    const bars = barObjects(ROWS + 31).filter((_, i) => i < 100 || i > 130) as unknown as Record<string, number | null>[];
    bars[7] = { ...bars[7]!, volume: null, amount: null };
    for (const opened of stores) {
      await opened.insertBars(SYMBOL, bars as never);
      await opened.calendars.assign(SYMBOL, "XSHG");
      await opened.adjustments.insert(SYMBOL, [
        { date: "2024-01-04", factor: 1.1377, knownAt: "2024-01-04 09:20", source: "test" },
        { date: "2024-01-08", factor: 1.3, knownAt: "2024-01-08 09:20", source: "test" },
      ]);
    }
    return stores;
  }

  test("the worker store hands the API bytes, equal to JSON.stringify of the in-thread store's rows", async () => {
    const [inThread, worker] = await pair();
    expect(barTextOf(inThread)).toBeNull();
    const text = barTextOf(worker)!;
    const query = { start: T0 + 60_000 * 10, end: T0 + 60_000 * 249, adjust: "qfq" as const };
    const bytes = await text.json(SYMBOL, query, 10_000);
    expect(new TextDecoder().decode(bytes!)).toBe(JSON.stringify(await inThread.getBars(SYMBOL, query)));
    expect(await text.json(SYMBOL, undefined, 10_000)).toBeNull();
  });

  test("a JSON answer carries the secure headers that protect data from another origin", async () => {
    for (const backend of ["sqlite", "sqlite-worker"] as const) {
      const opened = await store(backend);
      await opened.insertBars(SYMBOL, barObjects(10));
      const answer = await createApp(opened).request(`/v1/bars/${SYMBOL}`);
      expect(answer.status).toBe(200);
      expect(answer.headers.get("content-type")).toBe("application/json");
      expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
      expect(answer.headers.get("cross-origin-resource-policy")).toBe("same-origin");
    }
  });

  test("a read answered in the reader's bytes is timed as the store's getBars in /metrics", async () => {
    const opened = await store("sqlite-worker");
    await opened.insertBars(SYMBOL, barObjects(10));
    const app = createApp(opened);
    expect((await app.request(`/v1/bars/${SYMBOL}`)).status).toBe(200);
    const metrics = await (await app.request("/metrics")).text();
    expect(metrics).toMatch(/tradelite_store_operation_duration_seconds_count\{operation="getBars"\} 1\n/);
  });

  test("every format and option answers byte for byte as the in-thread store (status, type, length, body)", async () => {
    const apps = (await pair()).map((opened) => createApp(opened, { tokens: TOKENS }));
    const day = `start=${T0}&end=${T0 + 86_399_999}`;
    const paths = [
      "",
      "?limit=10000",
      "?limit=10001",
      `?${day}`,
      "?order=desc&limit=300",
      "?interval=15m",
      "?interval=1d",
      "?interval=1w",
      "?interval=5m&align=session",
      "?interval=5m&align=session&fill=previous",
      "?adjust=qfq",
      "?adjust=hfq&adjustVolume=true",
      "?adjust=qfq&asOf=2024-01-05&interval=30m",
      "?barTimestamp=end&interval=1h",
      ...["csv", "ndjson", "json"].flatMap((format) => [
        `?format=${format}`,
        `?format=${format}&${day}`,
        `?format=${format}&order=desc&limit=9000`,
        `?format=${format}&adjust=hfq&interval=5m`,
        `?format=${format}&interval=1d&adjust=qfq&adjustVolume=true`,
        `?format=${format}&start=2030-01-01`,
      ]),
      "?format=csv&limit=0",
      "?limit=nope",
      "?interval=7q",
    ];
    for (const method of ["GET", "HEAD"]) {
      for (const path of paths) {
        const answers = await Promise.all(
          apps.map(async (app) => {
            const answer = await app.request(`/v1/bars/${SYMBOL}${path}`, { method, headers: auth });
            const { status, headers } = answer;
            return { status, type: headers.get("content-type"), length: headers.get("content-length"), body: new Uint8Array(await answer.arrayBuffer()) };
          }),
        );
        expect(answers[1], `${method} ${path}`).toEqual(answers[0]!);
        if (method === "GET" && path === "") expect(answers[0]!.body.length).toBeGreaterThan(ROWS * 50);
      }
    }
  });
});

describe("transient worker failures are 503 with Retry-After", () => {
  test("a full queue", async () => {
    const app = createApp(await store("sqlite-worker", { maxQueue: 1, readers: 0 }));
    const answers = await Promise.all(Array.from({ length: 8 }, () => app.request("/v1/bars/AAA")));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses).toContain(200);
    expect(statuses).toContain(503);
    const refused = answers.find((answer) => answer.status === 503)!;
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(await refused.json()).toMatchObject({ error: { code: "UNAVAILABLE", details: { storageCode: "QUEUE_FULL" } } });
  });
});

describe("streamed exports over worker iterations", () => {
  // More rows than one worker page (8,192), so an export's iteration stays open in the worker
  // while the client reads.
  const ROWS = 20_000;

  test("HEAD answers the headers alone and leaves no iteration open: 1,100 HEADs do not end a running export", async () => {
    const opened = await store("sqlite-worker", { readers: 1 });
    await opened.insertBars("AAA", barObjects(ROWS));
    const app = createApp(opened);
    const head = await app.request("/v1/bars/AAA?format=csv", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(await head.text()).toBe("");

    const running = await app.request("/v1/bars/AAA?format=csv");
    const reader = running.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value, { stream: true });
    // The worker caps open iterations at 1,024 and ends the oldest past it: HEADs that left
    // theirs open would end this export's.
    for (let sent = 0; sent < 1_100; sent += 50) {
      const heads = await Promise.all(Array.from({ length: 50 }, () => app.request("/v1/bars/AAA?format=ndjson", { method: "HEAD" })));
      expect(heads.every((answer) => answer.status === 200)).toBe(true);
    }
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const lines = text.trimEnd().split("\n");
    expect(lines.length).toBe(ROWS + 1);
    expect(lines[1]!.startsWith(new Date(barObjects(1)[0]!.timestamp).toISOString().slice(0, 10))).toBe(true);
  });

  test("a client that goes away while a page is being read ends the export without an error logged", async () => {
    const opened = await store("sqlite-worker", { readers: 1 });
    await opened.insertBars("AAA", barObjects(ROWS));
    const logged: unknown[] = [];
    const app = createApp(opened, { logError: (error) => logged.push(error) });
    for (const format of ["csv", "ndjson", "json"]) {
      const answer = await app.request(`/v1/bars/AAA?format=${format}`);
      const reader = answer.body!.getReader();
      await reader.read();
      const pending = reader.read();
      await reader.cancel();
      await pending;
    }
    // The reads those exports had in flight settle on the worker's next answers.
    expect(await opened.latestBar("AAA")).not.toBeNull();
    await Bun.sleep(20);
    expect(logged).toEqual([]);
  });
});

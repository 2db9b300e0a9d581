/**
 * The front door: what startServer's fetch does before a request reaches the Hono app.
 *
 * Early refusals. When every reader of the sqlite-worker store has its queue full, a read would
 * be refused with QUEUE_FULL anyway, after the Host check, the token, routing, zod, the store
 * view and the abort signal's plumbing, and the error path's answer built from scratch: tens of
 * µs of the server's one thread per request, in the bursts where that thread is the bottleneck
 * (bench:abandon: 2,500 arrivals at once, /health waiting behind them). So a GET or HEAD that
 * arrives then is answered at once with a prebuilt 503, the app's own answer to QUEUE_FULL
 * (UNAVAILABLE, details.storageCode QUEUE_FULL, Retry-After: 1, the secure headers), before anything else runs: it is not authenticated and
 * not routed, and it says nothing but "busy". Routes that never read through a reader's queue
 * (/health, /ready, /metrics, /openapi.json, the pages) still go to the app.
 *
 * Each early refusal is counted (GET /metrics: tradelite_http_refused_early_total) and the access
 * log summarizes them: the first at once, then one entry per `summaryMs` carrying how many were
 * refused since the last (`refusedEarly`), as failed authentications are.
 */
import type { AccessLogger } from "./access-log.ts";
import { hostName, SECURE_HEADERS } from "./security.ts";

/** A sqlite-worker connection as the front door sees it (src/worker/pool.ts). */
interface QueueView {
  readonly full: boolean;
}

/** At most one access entry for early refusals this often. */
export const REFUSAL_SUMMARY_MS = 10_000;

/** What the app answers a QUEUE_FULL with (errors.ts), so a client cannot tell the two apart. */
const REFUSAL_BODY = JSON.stringify({
  error: { code: "UNAVAILABLE", message: "the store is busy; retry shortly", details: { storageCode: "QUEUE_FULL" } },
});
const REFUSAL_HEADERS: Readonly<Record<string, string>> = {
  ...SECURE_HEADERS,
  "Content-Type": "application/json",
  "Retry-After": "1",
};

/** Paths whose answer does not go through a reader's queue: never refused early. */
const NOT_QUEUED: ReadonlySet<string> = new Set(["/health", "/ready", "/metrics", "/openapi.json"]);

export interface Admission {
  /** A prebuilt refusal when reads would be refused anyway; null to let the request in. */
  refuse(request: Request): Response | null;
  /** Requests refused early since the server started. */
  readonly refused: number;
  /** Writes the access log's pending summary now (the server stops). */
  flush(): void;
}

/**
 * The front door over `store`'s readers, or null when the store has no worker queues (the
 * in-thread and PostgreSQL backends never answer QUEUE_FULL). `openPaths` are the pages'.
 */
export function createAdmission(
  store: object,
  { accessLog, openPaths = new Set(), summaryMs = REFUSAL_SUMMARY_MS }: { accessLog?: AccessLogger; openPaths?: ReadonlySet<string>; summaryMs?: number } = {},
): Admission | null {
  const workers = (store as { workers?: { writer?: QueueView; readers?: QueueView[] } }).workers;
  if (!workers?.writer || !Array.isArray(workers.readers) || typeof workers.writer.full !== "boolean") return null;
  // A read goes to the least busy reader (the writer when there are none): all full means refused.
  const readers = workers.readers.length > 0 ? workers.readers : [workers.writer];
  const body = new TextEncoder().encode(REFUSAL_BODY);
  let refused = 0;
  let unlogged = 0;
  let summary: ReturnType<typeof setTimeout> | null = null;

  const logSummary = () => {
    summary = null;
    if (unlogged === 0 || !accessLog) return;
    accessLog({ time: new Date().toISOString(), method: "GET", route: null, status: 503, durationMs: 0, bytes: body.byteLength, actor: null, client: null, refusedEarly: unlogged });
    unlogged = 0;
  };

  return {
    refuse(request) {
      const method = request.method;
      if (method !== "GET" && method !== "HEAD") return null;
      for (const reader of readers) if (!reader.full) return null;
      const path = pathOf(request.url);
      if (NOT_QUEUED.has(path) || openPaths.has(path)) return null;
      refused++;
      unlogged++;
      if (accessLog && summary === null) {
        // The first of a burst is logged at once, the rest when the interval ends.
        logSummary();
        summary = setTimeout(logSummary, summaryMs);
        summary.unref?.();
      }
      return new Response(method === "HEAD" ? null : body, { status: 503, headers: REFUSAL_HEADERS });
    },
    get refused() {
      return refused;
    },
    flush() {
      if (summary !== null) clearTimeout(summary);
      logSummary();
    },
  };
}

/** A request URL's path without its query ("http://h:1/a/b?c" -> "/a/b"). */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return url.slice(start, query < 0 ? undefined : query);
}

/**
 * GET /health answered at the front door, before the app, with the answer the app's route gives
 * (status and version, the secure headers): only for a plain request (no query, no Origin, whose
 * Host is allowed); anything else goes to the app, which answers or refuses it as before. Not
 * in the access log or the request histogram: a liveness probe says nothing about the traffic.
 */
export function livenessAnswer(version: string, hosts: ReadonlySet<string>): (request: Request) => Response | null {
  const body = new TextEncoder().encode(JSON.stringify({ status: "ok", version }));
  const headers = { ...SECURE_HEADERS, "Content-Type": "application/json" };
  return (request) => {
    if (request.method !== "GET") return null;
    const url = request.url;
    if (!url.endsWith("/health") || pathOf(url) !== "/health") return null;
    const requestHeaders = request.headers;
    const host = requestHeaders.get("host");
    if (host === null || !hosts.has(hostName(host)) || requestHeaders.has("origin")) return null;
    return new Response(body, { headers });
  };
}

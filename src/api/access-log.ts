/**
 * The access log: one structured entry per request (time, method, route pattern, status,
 * duration, bytes, actor, client address), never the token, a header or a body. It is recorded
 * by the first middleware, so requests refused before any route (a wrong Host, a cross-site
 * write) are logged too, with the status onError gave them.
 *
 * Failed authentications (401) are counted rather than logged one by one: a client guessing
 * tokens would otherwise write the log full. The first is logged at once, then at most one entry
 * per `authSummaryMs`, carrying how many failed since the last (`authFailures`).
 *
 * A streamed answer (an export) is logged when its last byte is sent, with the bytes counted on
 * the way and the whole duration; a client that leaves early is logged as `aborted`.
 */
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";

export interface AccessEntry {
  /** ISO-8601 UTC, when the request arrived. */
  time: string;
  method: string;
  /** The route's pattern (`/v1/bars/:symbol`), or null when no route matched. */
  route: string | null;
  status: number;
  durationMs: number;
  /** Bytes of the answer's body (null when the client left before it could be counted). */
  bytes: number | null;
  /** The token's name, `local` without tokens, null when the request was refused before. */
  actor: string | null;
  client: string | null;
  /** A streamed answer the client stopped reading. */
  aborted?: true;
  /** On a 401: the failed authentications this entry stands for (itself and those not logged). */
  authFailures?: number;
  /** Requests refused at the front door (src/api/admission.ts) that this entry stands for. */
  refusedEarly?: number;
}

export type AccessLogger = (entry: AccessEntry) => void;

/** Set on the context by an answer that streams (src/api/stream.ts): counted as it is sent. */
export const STREAMED = "streamed";

/** At most one 401 entry this often. */
export const AUTH_SUMMARY_MS = 10_000;

/**
 * The pattern of the route that answered (`/v1/bars/:symbol`), never the raw path, so logs and
 * metrics group by route; null when no route matched (only the catch-all middleware did).
 */
export function routePattern(c: Context): string | null {
  const route = routePath(c, -1);
  return route === "" || route === "*" || route === "/*" ? null : route;
}

function clientOf(c: Context): string | null {
  // Bun.serve hands its server to fetch as the second argument (Hono's c.env): asked directly,
  // without hono/bun's getConnInfo building an object around the answer on every request.
  const server = c.env as { requestIP?(request: Request): { address: string } | null } | undefined;
  return server?.requestIP?.(c.req.raw)?.address ?? null;
}

/**
 * What the access log does once a request has its answer: `started` (performance.now()) and
 * `arrived` (epoch ms) were taken when it came in, `route` is its pattern. The one middleware
 * that watches requests (app.ts) calls it, beside the metrics: each middleware layer costs a
 * little on every request.
 */
export type AccessRecorder = (c: Context, started: number, arrived: number, route: string | null) => Promise<void> | void;

/**
 * `clients: false` leaves each entry's `client` null instead of asking the server for it: the
 * address costs a getpeername call per request (measured with bench:api's server: ~9 us of a
 * one-day read's ~220 us of CPU, more than the rest of the log), and on a server that listens on
 * loopback only every client is this machine. `serve` turns it off there.
 */
export function accessRecorder(write: AccessLogger, authSummaryMs = AUTH_SUMMARY_MS, { clients = true }: { clients?: boolean } = {}): AccessRecorder {
  let unloggedFailures = 0;
  let lastFailureLog = -Infinity;
  // Not async: the answers of known length (the hot route's) are logged without a promise, and
  // their entry is built by entryOf directly, without a closure or a spread per request.
  return (c, started, arrived, route) => {
    const status = c.res.status;
    let failures: number | undefined;
    if (status === 401) {
      unloggedFailures++;
      const now = performance.now();
      if (now - lastFailureLog < authSummaryMs) return;
      lastFailureLog = now;
      failures = unloggedFailures;
      unloggedFailures = 0;
    }
    const length = c.res.headers.get("content-length");
    if (length !== null) {
      write(entryOf(c, started, arrived, route, status, Number(length), clients, failures));
      return;
    }
    const entry = (bytes: number | null) => entryOf(c, started, arrived, route, status, bytes, clients, failures);
    if (!c.get(STREAMED as never)) {
      // An answer made whole (JSON from a string): its bytes are counted from the text, and the
      // answer is rebuilt from it with its length. Wrapping it in a counting stream instead sent
      // it chunked and cost a third of the hot route's throughput.
      return c.res.text().then((text) => {
        c.res = new Response(text, c.res);
        write(entry(Buffer.byteLength(text)));
      });
    }
    const body = c.res.body;
    if (body === null) {
      write(entry(0));
      return;
    }
    let bytes = 0;
    const counted = body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          bytes += chunk.byteLength;
          controller.enqueue(chunk);
        },
        flush() {
          write(entry(bytes));
        },
        cancel() {
          write({ ...entry(bytes), aborted: true });
        },
      } as Transformer<Uint8Array, Uint8Array>),
    );
    c.res = new Response(counted, c.res);
  };
}

/** The entry of a request that has its answer, as the recorder writes it (one shape for all). */
function entryOf(c: Context, started: number, arrived: number, route: string | null, status: number, bytes: number | null, clients: boolean, failures: number | undefined): AccessEntry {
  const entry: AccessEntry = {
    time: isoTime(arrived),
    method: c.req.method,
    route,
    status,
    durationMs: Math.round((performance.now() - started) * 100) / 100,
    bytes,
    actor: (c.get("actor" as never) as string | undefined) ?? null,
    client: clients ? clientOf(c) : null,
  };
  if (failures !== undefined) entry.authFailures = failures;
  return entry;
}

/** The second (epoch ms / 1000) whose ISO text, up to its milliseconds, isoTime last made. */
let isoSecond = Number.NaN;
let isoPrefix = "";

/**
 * `new Date(ms).toISOString()`, with the text up to the milliseconds made once a second: many
 * requests arrive in the same second (a line and its time in isolation: 0.18 us against 0.28 with
 * a Date each). An instant that is not a whole millisecond is formatted as it is.
 */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms)) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const text = new Date(second * 1000).toISOString();
    // Only the four-digit years have this shape (`2026-12-05T20:00:00.000Z`).
    if (text.length !== 24) return new Date(ms).toISOString();
    isoSecond = second;
    isoPrefix = text.slice(0, 20);
  }
  const milli = ms - second * 1000;
  return isoPrefix + (milli < 10 ? "00" : milli < 100 ? "0" : "") + milli + "Z";
}

/**
 * The access log as a middleware of its own, for a Hono app of the caller's (createApp records
 * it in its first middleware instead).
 */
export function accessLog(write: AccessLogger, authSummaryMs = AUTH_SUMMARY_MS): MiddlewareHandler {
  const record = accessRecorder(write, authSummaryMs);
  return async (c, next) => {
    const started = performance.now();
    const arrived = Date.now();
    await next();
    await record(c, started, arrived, routePattern(c));
  };
}

/** How often buffered JSON lines go out (and at most how late a line is). */
export const ACCESS_LOG_FLUSH_MS = 100;

/** Lines are handed to stdout's writer in chunks of about this many characters. */
const ACCESS_LOG_CHUNK = 64 * 1024;

let sink: import("bun").FileSink | undefined;
/** Lines not yet handed to the writer, in the order they were logged. */
let pending = "";

/**
 * JSON lines are joined in a string and handed to one buffered writer on stdout a chunk at a
 * time: when ACCESS_LOG_CHUNK is reached, every ACCESS_LOG_FLUSH_MS, at flushAccessLog() (serve
 * calls it when it stops) and when the process exits. A writer's write() per line costs 3.5 to
 * 5.5 us on a pipe (Bun 1.4.5: it tries the pipe at once; 0.3 us to a file), a string append
 * 0.35 us: on a hot-route request of ~200 us of CPU, the difference is the log's cost.
 */
function bufferedLine(line: string): void {
  pending += line;
  if (!sink) startWriter();
  if (pending.length >= ACCESS_LOG_CHUNK) handOver(sink!);
}

function startWriter(): void {
  const writer = (sink = Bun.stdout.writer({ highWaterMark: 64 * 1024 }));
  const send = () => {
    handOver(writer);
    void writer.flush();
  };
  setInterval(send, ACCESS_LOG_FLUSH_MS).unref();
  // Bun sends a writer's buffer at exit (process.exit included); what is still pending joins it.
  process.on("exit", send);
}

function handOver(writer: import("bun").FileSink): void {
  if (pending === "") return;
  writer.write(pending);
  pending = "";
}

/** Sends the buffered access log lines now. */
export async function flushAccessLog(): Promise<void> {
  if (!sink) return;
  handOver(sink);
  await sink.flush();
}

/**
 * The entry as JSON.stringify writes it, and a newline, built from its known fields: 0.6 us
 * against JSON.stringify's 1.7 to 2 us (Bun 1.4.5). Every string is escaped as JSON.stringify
 * escapes it: the usual ones (an ISO time, a standard method, a route pattern, an actor) are
 * quoted from what is known or remembered, anything else goes through JSON.stringify.
 */
export function accessLine(entry: AccessEntry): string {
  let line = `{"time":${quotedTime(entry.time)},"method":${quotedMethod(entry.method)},"route":${quotedName(entry.route)},"status":${jsonNumber(entry.status)},"durationMs":${jsonNumber(entry.durationMs)},"bytes":${jsonNumber(entry.bytes)},"actor":${quotedName(entry.actor)},"client":${jsonOrNull(entry.client)}`;
  if (entry.authFailures !== undefined) line += `,"authFailures":${jsonNumber(entry.authFailures)}`;
  if (entry.aborted !== undefined) line += `,"aborted":${entry.aborted}`;
  if (entry.refusedEarly !== undefined) line += `,"refusedEarly":${jsonNumber(entry.refusedEarly)}`;
  return `${line}}\n`;
}

function jsonOrNull(text: string | null): string {
  return text === null ? "null" : JSON.stringify(text);
}

/** An ISO-8601 time (isoTime's text) needs no escaping; anything else goes through JSON.stringify. */
const PLAIN_TIME = /^[0-9TZ:.+-]*$/;

function quotedTime(time: string): string {
  return PLAIN_TIME.test(time) ? `"${time}"` : JSON.stringify(time);
}

/** The methods the access log and the metrics name as they are (the metrics count others as OTHER). */
export const STANDARD_METHODS: readonly string[] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

const QUOTED_METHODS = new Map(STANDARD_METHODS.map((method) => [method, `"${method}"`]));

function quotedMethod(method: string): string {
  return QUOTED_METHODS.get(method) ?? JSON.stringify(method);
}

/**
 * Route patterns and actors come from a short list the server knows (its routes, its tokens'
 * names), so each is quoted once and remembered; the list is capped, so text it did not expect
 * costs a JSON.stringify each time rather than memory.
 */
const quotedNames = new Map<string, string>();
const QUOTED_NAMES_CAP = 512;

function quotedName(text: string | null): string {
  if (text === null) return "null";
  let quoted = quotedNames.get(text);
  if (quoted === undefined) {
    quoted = JSON.stringify(text);
    if (quotedNames.size < QUOTED_NAMES_CAP) quotedNames.set(text, quoted);
  }
  return quoted;
}

/** As JSON.stringify writes a number: NaN and the infinities are null. */
function jsonNumber(value: number | null): string {
  return value !== null && Number.isFinite(value) ? String(value) : "null";
}

/** One JSON object per line (a file, a pipe, a collector) or a short line for a person. */
export function writeAccessEntry(entry: AccessEntry, json: boolean): void {
  if (json) {
    bufferedLine(accessLine(entry));
    return;
  }
  const extra =
    entry.authFailures !== undefined ? ` (${entry.authFailures} failed authentications)` : entry.refusedEarly !== undefined ? ` (${entry.refusedEarly} refused early: queues full)` : "";
  process.stdout.write(
    `${entry.time} ${entry.client ?? "-"} ${entry.actor ?? "-"} ${entry.method} ${entry.route ?? "-"} ${entry.status} ${entry.bytes ?? "-"}B ${entry.durationMs}ms${entry.aborted ? " aborted" : ""}${extra}\n`,
  );
}

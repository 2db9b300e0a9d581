/**
 * createClient(options): the HTTP API from another process, typed with the library's own types
 * (Bar, CalendarData, AuditEntry ...) and shaped like the Store (client.getBars, client.prefs.set,
 * client.calendars.put), so code moves between in-process and over-HTTP with its imports.
 *
 * Why written by hand over the domain types, not Hono's RPC client nor one generated from
 * /openapi.json:
 * - hono/client needs the app's type to carry its routes, which the route files (one function a
 *   resource, returning void) do not, and the hot GET /v1/bars is a plain app.get outside the
 *   typed routes. Chained, the routes do type-check with @hono/zod-openapi, but 35 of them cost
 *   ~1.8 s and ~545,000 type instantiations (measured with tsc --extendedDiagnostics) in every
 *   program that imports the client, and the answers come back as Response unions: no streaming
 *   types, no library errors.
 * - A generated client needs a generator and a build step (DESIGN.md: none) and would hold a
 *   second copy of every domain type.
 * test/client/client.test.ts walks /openapi.json and fails when a route has no method here.
 *
 * Errors come back as the library's classes with its codes (errors.ts); where the store answers
 * "none" (latestBar, get, delete), the client answers null or false, as the store does, instead of
 * the API's 404.
 */
import type { Health, Info, Ready } from "../api/symbols.ts";
import type { AdjustmentFactorRow, InsertActionsOptions, StoredCorporateAction } from "../domain/adjustment-writes.ts";
import type { AdjustmentFactor } from "../domain/adjustment.ts";
import type { CorporateAction } from "../domain/corporate-action.ts";
import type { Artifact, ArtifactInput } from "../domain/artifact.ts";
import type { AuditEntry, AuditVerification } from "../domain/audit.ts";
import type { RollUpOptions, RollupVerification } from "../domain/audit-rollup.ts";
import type { Bar, BarInput } from "../domain/bar.ts";
import type { CacheEntry, CacheService } from "../domain/cache.ts";
import type { CalendarData, CalendarDay, CalendarSummary } from "../domain/calendar.ts";
import { calendarAsText, calendarOfText, type CalendarText } from "../domain/calendar-text.ts";
import type { SeriesOptions } from "../domain/daily.ts";
import type { CrossSection, CrossSectionQuery } from "../domain/cross-section.ts";
import { NotFoundError, StorageError, TradeliteError } from "../domain/errors.ts";
import { formatSessions } from "../domain/calendar.ts";
import type { CheckpointMode, CheckpointResult, IntegrityResult, MaintenanceStats } from "../domain/maintenance.ts";
import type { Instrument, InstrumentInput, InstrumentQuery, InstrumentStatusRow } from "../domain/instrument.ts";
import type { Metric, MetricLabels, MetricSummary } from "../domain/metric.ts";
import type { JsonValue, Preference } from "../domain/preference.ts";
import type { BarQuery, RangeQuery, TimeRange } from "../domain/query.ts";
import type { Quote, QuoteInput } from "../domain/quote.ts";
import type { Completeness } from "../domain/session.ts";
import type { AuditQuery, CompletenessQuery, OverviewOptions, SymbolOverview } from "../domain/store.ts";
import type { TimestampInput } from "../domain/time.ts";
import { errorOfResponse } from "./errors.ts";
import { linesOf } from "./lines.ts";
import { openSocket, resumingWatch, serverSentMessages, socketMessages, type ClientWatchOptions } from "./watch.ts";

export type { Health, Info, Ready };

export interface ClientOptions {
  /** The server's address, `http://127.0.0.1:8787` (what `tradelite serve` prints). */
  url: string;
  /** The bearer token, when the server was started with tokens. */
  token?: string;
  /** Default globalThis.fetch; a test or a proxy may pass its own. */
  fetch?: (request: Request) => Promise<Response>;
  /** Opens watch()'s WebSockets; default Bun's WebSocket (with the token in its headers). */
  webSocket?: (url: string, headers: Record<string, string>) => WebSocket;
}

/** What the artifact routes take: over HTTP the server never reads the file, so sha256 and size are given. */
export type ArtifactRegistration = ArtifactInput & { sha256: string; size: number };

/**
 * A bar export's body: CSV with the cache file's header, one JSON bar a line, a Parquet file, or
 * the Arrow IPC stream format.
 */
export type ExportFormat = "csv" | "ndjson" | "parquet" | "arrow";

/** The bars of a write: objects, or CSV text with the cache file's header. */
export type BarUpload = readonly BarInput[] | string;

type Query = Readonly<Record<string, TimestampInput | boolean | undefined>>;

interface Call {
  query?: Query;
  /** A JSON body, or CSV text (sent as text/csv). */
  body?: unknown;
  /** Aborts the request: the server then stops the read where it is (the API passes it on). */
  signal?: AbortSignal;
}

export type Client = ReturnType<typeof createClient>;

/** GET /v1/maintenance/backups. */
export interface BackupList {
  backups: { name: string; bytes: number; modifiedAt: number }[];
  count: number;
  bytes: number;
  maxCount: number;
  maxBytes: number;
}

export function createClient(options: ClientOptions) {
  const base = new URL(options.url);
  const send = options.fetch ?? ((request: Request) => fetch(request));
  const headers: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};

  /** The URL of a route with a query. The base may carry a path (a server behind a proxy at /tradelite): the route goes under it. */
  const routeUrl = (path: string, query: Query = {}) => {
    const url = new URL(base.pathname.replace(/\/$/, "") + path, base);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, queryValue(value));
    return url;
  };

  /** Sends one request; an answer that is not a success is thrown as the library's error. */
  async function request(method: string, path: string, call: Call = {}): Promise<Response> {
    const url = routeUrl(path, call.query);
    const csv = typeof call.body === "string";
    // A POST without a body says application/json too: the server refuses a body-less POST
    // without it, as a request a web page could have sent unasked (src/api/security.ts).
    const type = call.body === undefined ? (method === "POST" ? "application/json" : undefined) : csv ? "text/csv" : "application/json";
    const init: RequestInit = { method, headers: { ...headers, ...(type === undefined ? {} : { "Content-Type": type }) } };
    if (call.body !== undefined) init.body = csv ? (call.body as string) : JSON.stringify(call.body);
    if (call.signal) init.signal = call.signal;
    let response: Response;
    try {
      response = await send(new Request(url.href, init));
    } catch (error) {
      if (call.signal?.aborted) throw new StorageError("CANCELLED", "the read was cancelled through its signal", { cause: error });
      throw new StorageError("CONNECTION", `cannot reach the tradelite API at ${base.origin}`, { cause: error });
    }
    if (!response.ok) throw await errorOfResponse(response);
    return response;
  }
  const json = async <T>(method: string, path: string, call?: Call): Promise<T> => (await request(method, path, call)).json() as Promise<T>;
  /** The store answers "none" with null where the API answers 404. */
  const orNull = <T>(answer: Promise<T>): Promise<T | null> => answer.catch((error: unknown) => (error instanceof NotFoundError ? null : Promise.reject(error)));

  async function exportBars(symbol: string, query: BarQuery = {}, format: ExportFormat = "csv"): Promise<ReadableStream<Uint8Array>> {
    const { signal, ...rest } = query;
    const response = await request("GET", `/v1/bars/${segment(symbol)}`, { query: { ...rest, format }, signal });
    return response.body ?? new Response("").body!;
  }

  const openWebSocket = options.webSocket ?? ((url: string, headers: Record<string, string>) => new WebSocket(url, { headers } as never));
  const streamOver = {
    sse: async (query: Record<string, string>, signal: AbortSignal) => {
      const response = await request("GET", "/v1/stream", { query, signal });
      return serverSentMessages(response.body!);
    },
    websocket: async (query: Record<string, string>, signal: AbortSignal) => {
      const url = routeUrl("/v1/stream/ws", query);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      // A refused upgrade says nothing; the same request without it gets the API's error.
      const failed = () => new StorageError("CONNECTION", `cannot open a WebSocket to the tradelite API at ${base.origin}`);
      const refused = () =>
        request("GET", "/v1/stream/ws", { query, signal }).then(failed, (error: Error) => (error instanceof TradeliteError && error.code !== "UPGRADE_REQUIRED" ? error : failed()));
      return socketMessages(await openSocket(openWebSocket(url.href, headers), refused), signal);
    },
  };

  return {
    url: base.href.replace(/\/$/, ""),
    /** Liveness: no token, and the server answers it without touching the store. */
    health: () => json<Health>("GET", "/health"),
    /** Readiness: the store answered within 2 s (a StorageError UNAVAILABLE otherwise). */
    ready: () => json<Ready>("GET", "/ready"),
    /** The backend, the stored settings, the database's place and size (the token's read scope). */
    info: () => json<Info>("GET", "/v1/info"),
    /** GET /metrics: the server's metrics in the Prometheus text format, as text (the read scope). */
    prometheus: async () => (await request("GET", "/metrics")).text(),
    overview: (options: OverviewOptions = {}) => json<SymbolOverview[]>("GET", "/v1/symbols", { query: { completeness: options.completeness } }),

    insertBars: async (symbol: string, bars: BarUpload, options: SeriesOptions = {}) =>
      (await json<{ written: number }>("POST", `/v1/bars/${segment(symbol)}`, { query: { ...options }, body: bars })).written,
    /** Read whole: for a long range, iterateBars streams instead. */
    getBars: (symbol: string, { signal, ...query }: BarQuery = {}) => json<Bar[]>("GET", `/v1/bars/${segment(symbol)}`, { query, signal }),
    /** The same bars as getBars, streamed (NDJSON) and parsed one at a time as they arrive. */
    iterateBars: async function* (symbol: string, query: BarQuery = {}): AsyncGenerator<Bar> {
      const body = await exportBars(symbol, query, "ndjson");
      try {
        for await (const line of linesOf(body)) if (line !== "") yield JSON.parse(line) as Bar;
      } catch (error) {
        if (error instanceof SyntaxError) throw error;
        throw new StorageError("CONNECTION", "the bar stream was cut before its end", { cause: error });
      }
    },
    /**
     * Bars as they are stored, by any writer, as store.watch() gives them: over Server-Sent
     * Events (default) or a WebSocket (`transport: "websocket"`), resuming from the last event's
     * cursor by itself when the connection is cut (src/client/watch.ts).
     */
    watch: (watchOptions: ClientWatchOptions = {}) => resumingWatch(streamOver[watchOptions.transport ?? "sse"], watchOptions),
    /** A bar export's body, untouched: pipe it to a file (`Bun.write(path, new Response(stream))`). */
    exportBars,
    latestBar: (symbol: string) => orNull(json<Bar>("GET", `/v1/bars/${segment(symbol)}/latest`)),
    /** Deletes the bars in the range; with neither start nor end, every bar of the symbol, as the store does. */
    deleteBars: async (symbol: string, range: TimeRange = {}, options: SeriesOptions = {}) => {
      const all = range.start === undefined && range.end === undefined ? "true" : undefined;
      return (await json<{ deleted: number }>("DELETE", `/v1/bars/${segment(symbol)}`, { query: { ...range, ...options, all } })).deleted;
    },
    /**
     * GET /v1/cross-section for every symbol; with `symbols`, POST with the query as JSON, so a
     * list of any length (a whole market is ~5,400 codes, a URL holds ~1,400) and symbols with
     * commas travel as they are.
     */
    getCrossSection: ({ signal, symbols, ...query }: CrossSectionQuery) =>
      symbols === undefined
        ? json<CrossSection>("GET", "/v1/cross-section", { query: { ...query }, signal })
        : json<CrossSection>("POST", "/v1/cross-section", { body: { ...query, symbols, at: query.at instanceof Date ? query.at.getTime() : query.at }, signal }),
    completeness: (symbol: string, query: CompletenessQuery = {}) => json<Completeness>("GET", `/v1/bars/${segment(symbol)}/completeness`, { query: { ...query } }),

    insertQuotes: async (symbol: string, quotes: readonly QuoteInput[]) => (await json<{ written: number }>("POST", `/v1/quotes/${segment(symbol)}`, { body: quotes })).written,
    getQuotes: (symbol: string, query: RangeQuery = {}) => json<Quote[]>("GET", `/v1/quotes/${segment(symbol)}`, { query: { ...query } }),

    calendars: {
      list: () => json<CalendarSummary[]>("GET", "/v1/calendars"),
      get: async (name: string) => {
        const text = await orNull(json<CalendarText>("GET", `/v1/calendars/${segment(name)}`));
        return text && calendarOfText(text);
      },
      put: (data: CalendarData) => {
        const { name, ...body } = calendarAsText(data);
        return json<CalendarSummary>("PUT", `/v1/calendars/${segment(name)}`, { body });
      },
      /** One year's trading days, as CalendarDay objects or the calendar file's text (date,sessions). */
      replaceYear: (name: string, year: number, days: readonly CalendarDay[] | string) =>
        json<CalendarSummary>("PUT", `/v1/calendars/${segment(name)}/years/${year}`, {
          body: typeof days === "string" ? days : { days: days.map((day) => (day.sessions ? { date: day.date, sessions: formatSessions(day.sessions) } : { date: day.date })) },
        }),
      of: async (symbol: string) => (await json<{ calendar: string | null }>("GET", `/v1/symbols/${segment(symbol)}/calendar`)).calendar,
      assign: async (symbol: string, name: string | null): Promise<void> => {
        await request("PUT", `/v1/symbols/${segment(symbol)}/calendar`, { body: { calendar: name } });
      },
    },

    adjustments: {
      /** Factor rows (knownAt defaults to the date's local midnight, source to "manual"); resolves with the rows written. */
      insert: async (symbol: string, rows: readonly AdjustmentFactorRow[]) =>
        (await json<{ written: number }>("PUT", `/v1/adjustments/${segment(symbol)}`, { body: { factors: rows } })).written,
      list: (symbol: string, options: { asOf?: TimestampInput } = {}) => json<AdjustmentFactor[]>("GET", `/v1/adjustments/${segment(symbol)}`, { query: { ...options } }),
      /** Corporate actions; the server computes the factors from the closes it holds and answers them. */
      insertActions: async (symbol: string, actions: readonly CorporateAction[], options: InsertActionsOptions = {}) =>
        (await json<{ factors: AdjustmentFactor[] }>("PUT", `/v1/adjustments/${segment(symbol)}`, { body: { actions, ...options, knownAt: bodyTime(options.knownAt) } })).factors,
      listActions: (symbol: string) => json<StoredCorporateAction[]>("GET", `/v1/adjustments/${segment(symbol)}/actions`),
    },

    instruments: {
      /** All or nothing; the number written. */
      put: async (rows: readonly InstrumentInput[]) => (await json<{ written: number }>("PUT", "/v1/instruments", { body: rows })).written,
      get: async (symbol: string): Promise<Instrument | null> => {
        const found = await orNull(json<Instrument & { statusHistory?: InstrumentStatusRow[] }>("GET", `/v1/instruments/${segment(symbol)}`));
        if (found) delete found.statusHistory;
        return found;
      },
      /** NotFoundError when the symbol has no instrument, as the store answers. */
      statusHistory: async (symbol: string) => (await json<{ statusHistory: InstrumentStatusRow[] }>("GET", `/v1/instruments/${segment(symbol)}`)).statusHistory,
      list: (query: InstrumentQuery = {}) => json<Instrument[]>("GET", "/v1/instruments", { query: { ...query } }),
      /** Upserts status rows on date; the whole history back. NotFoundError without an instrument. */
      setStatus: (symbol: string, rows: readonly InstrumentStatusRow[]) => json<InstrumentStatusRow[]>("PUT", `/v1/instruments/${segment(symbol)}/status`, { body: rows }),
    },

    /** The server's session cache (a server without one answers StorageError NOT_SUPPORTED). */
    cache: {
      list: () => json<CacheEntry[]>("GET", "/v1/cache"),
      getBars: (symbol: string, range: TimeRange = {}) => json<Bar[]>("GET", `/v1/cache/${segment(symbol)}`, { query: { ...range } }),
      // Shaped like CacheService.storeBars: how a CSV was read (the answer's `file`) is left out.
      storeBars: async (symbol: string, bars: BarUpload): Promise<Awaited<ReturnType<CacheService["storeBars"]>>> => {
        const { written, compacted } = await json<Awaited<ReturnType<CacheService["storeBars"]>>>("POST", `/v1/cache/${segment(symbol)}`, { body: bars });
        return { written, compacted };
      },
      /** NotFoundError when the symbol has no cache file. */
      compact: (symbol: string) => json<Awaited<ReturnType<CacheService["compact"]>>>("POST", `/v1/cache/${segment(symbol)}/compact`),
    },

    artifacts: {
      /** The same hash again is a no-op; another hash under the same version is a ConflictError. */
      register: (input: ArtifactRegistration) => json<Artifact>("POST", "/v1/artifacts", { body: input }),
      get: (name: string, version?: string) =>
        orNull(json<Artifact>("GET", version === undefined ? `/v1/artifacts/${segment(name)}` : `/v1/artifacts/${segment(name)}/${segment(version)}`)),
      list: (query: { name?: string; tag?: string } = {}) => json<Artifact[]>("GET", "/v1/artifacts", { query }),
    },

    audit: {
      query: (query: AuditQuery = {}) => json<AuditEntry[]>("GET", "/v1/audit", { query: { ...query } }),
      verify: (options: { head?: { id: number; hash: string } } = {}) =>
        json<AuditVerification>("GET", "/v1/audit/verify", { query: { headId: options.head?.id, headHash: options.head?.hash } }),
      verifyRollups: () => json<RollupVerification>("GET", "/v1/audit/rollups/verify"),
      /** Needs the admin scope; resolves with how many rollups were closed into entries. */
      rollUp: async (options: RollUpOptions = {}) => (await json<{ closed: number }>("POST", "/v1/audit/rollups/close", { query: { symbol: options.symbol, due: options.due } })).closed,
    },

    prefs: {
      all: () => json<Preference[]>("GET", "/v1/preferences"),
      get: (key: string) => orNull(json<Preference>("GET", `/v1/preferences/${segment(key)}`)),
      set: (key: string, value: JsonValue) => json<Preference>("PUT", `/v1/preferences/${segment(key)}`, { body: { value } }),
      /** True when it was there. */
      delete: async (key: string) => (await orNull(request("DELETE", `/v1/preferences/${segment(key)}`))) !== null,
    },

    metrics: {
      record: (name: string, value: number, labels?: MetricLabels) => json<Metric>("POST", `/v1/metrics/${segment(name)}`, { body: labels ? { value, labels } : { value } }),
      query: (name: string, query: { since?: TimestampInput; until?: TimestampInput } = {}) => json<Metric[]>("GET", `/v1/metrics/${segment(name)}`, { query }),
      summary: (name: string) => json<MetricSummary>("GET", `/v1/metrics/${segment(name)}/summary`),
    },

    maintenance: {
      checkpoint: (mode?: CheckpointMode) => json<CheckpointResult>("POST", "/v1/maintenance/checkpoint", { query: { mode } }),
      optimize: () => json<{ durationMs: number }>("POST", "/v1/maintenance/optimize"),
      vacuum: (options: { incremental?: boolean } = {}) => json<{ freedPages: number; durationMs: number }>("POST", "/v1/maintenance/vacuum", { query: { incremental: options.incremental } }),
      /** Into the server's backup folder, under `name` (a plain file name) or a timestamped one. */
      backup: (name?: string) => json<{ name: string; bytes: number; durationMs: number }>("POST", "/v1/maintenance/backup", { query: { name } }),
      /** The backups in the server's folder, oldest first, with its caps. */
      backups: () => json<BackupList>("GET", "/v1/maintenance/backups"),
      /** Removes one backup; false when there is none of that name. */
      deleteBackup: async (name: string) => (await orNull(request("DELETE", `/v1/maintenance/backups/${segment(name)}`))) !== null,
      stats: () => json<MaintenanceStats>("GET", "/v1/maintenance/stats"),
      integrityCheck: (options: { quick?: boolean } = {}) => json<IntegrityResult>("GET", "/v1/maintenance/integrity", { query: { quick: options.quick } }),
    },
  };
}

/** A path segment: the symbol or name percent-encoded, never spliced in raw. */
function segment(value: string): string {
  return encodeURIComponent(value);
}

/** A timestamp in a JSON body: a Date as epoch milliseconds (JSON would write it as text in UTC anyway). */
function bodyTime(value: TimestampInput | undefined): number | string | undefined {
  return value instanceof Date ? value.getTime() : value;
}

/** A query value as the API reads it: a Date or a number as epoch milliseconds. */
function queryValue(value: TimestampInput | boolean): string {
  return value instanceof Date ? String(value.getTime()) : String(value);
}

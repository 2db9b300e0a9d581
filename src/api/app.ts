/**
 * createApp(store, options): the Hono micro-API over any Store, one file per resource.
 *
 * Every request passes, in order: CORS (only for listed origins), the Host allowlist (DNS
 * rebinding), the bearer token (every route but /health, when tokens are configured) and the
 * body size limit; then its route's zod schemas. Every answer carries the secure headers.
 * Errors have one shape (errors.ts).
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, Next } from "hono";
import { cors } from "hono/cors";
import { dirname, join, resolve } from "node:path";
import { DEFAULT_BACKUP_LIMITS, DEFAULT_MAX_BODY_BYTES, type BackupLimits } from "../config.ts";
import type { CacheService } from "../domain/cache.ts";
import type { Store } from "../domain/store.ts";
import { adjustmentRoutes } from "./adjustments.ts";
import { artifactRoutes } from "./artifacts.ts";
import { auditRoutes } from "./audit.ts";
import { barRoutes } from "./bars.ts";
import { calendarRoutes } from "./calendars.ts";
import { crossSectionRoutes } from "./cross-section.ts";
import { instrumentRoutes } from "./instruments.ts";
import { liveRoutes, type LiveOptions } from "./live.ts";
import { createAdmission, livenessAnswer, type Admission } from "./admission.ts";
import { accessRecorder, routePattern, type AccessLogger } from "./access-log.ts";
import { bodyLimit, strictJsonBody } from "./body.ts";
import { cacheRoutes } from "./cache.ts";
import type { ApiEnv } from "./context.ts";
import { ApiError, handleError, validationHook, type ErrorLogger } from "./errors.ts";
import { maintenanceRoutes } from "./maintenance.ts";
import { metricRoutes } from "./metrics.ts";
import { PAGE_PATHS, pageRoutes } from "./page.ts";
import { preferenceRoutes } from "./preferences.ts";
import { createApiMetrics, prometheusRoutes } from "./prometheus.ts";
import { quoteRoutes } from "./quotes.ts";
import { addSecureHeaders, allowedHosts, checkUrlEncoding, crossSiteGuard, hostAllowlist, LOCAL_ACTOR, tokenAuth, type ApiToken } from "./security.ts";
import { symbolRoutes } from "./symbols.ts";
import { createTurns } from "./turns.ts";
import packageJson from "../../package.json" with { type: "json" };

export interface ApiOptions {
  /** Bearer tokens; when there are any, every route but /health needs one. Default none. */
  tokens?: readonly ApiToken[];
  /** Host names accepted besides localhost, 127.0.0.1 and [::1]. */
  allowedHosts?: readonly string[];
  /** Origins that may call the API from a browser (CORS). Default none: no CORS headers. */
  corsOrigins?: readonly string[];
  /** Largest request body in bytes. Default 64 MiB. */
  maxBodyBytes?: number;
  /** The session cache the /v1/cache routes use; without one they answer 501. */
  cache?: CacheService | null;
  /**
   * Where POST /v1/maintenance/backup writes. Default: a `backups` folder beside a file
   * database; null switches backups over HTTP off (501).
   */
  backupDir?: string | null;
  /** The backup folder's caps (count and total bytes). Default DEFAULT_BACKUP_LIMITS. */
  backupLimits?: BackupLimits;
  /** Where each request's access entry goes (src/api/access-log.ts). Default none. */
  accessLog?: AccessLogger;
  /**
   * Whether access entries carry the client's address (a getpeername call per request; see
   * accessRecorder). Default true; `serve` leaves it off when it listens on loopback only.
   */
  accessLogClients?: boolean;
  /** Where unexpected errors go (they never reach the client). Default console.error. */
  logError?: ErrorLogger;
  /**
   * GET /metrics (src/api/prometheus.ts): every request and store call is timed and counted.
   * Default true; false answers 501 there and times nothing.
   */
  metrics?: boolean;
  /** /v1/stream's bounds (src/api/live.ts): how long a stalled consumer is kept, the heartbeat. */
  live?: LiveOptions;
}

/** Routes open without a token: liveness and readiness say nothing about the data. */
const OPEN_PATHS: ReadonlySet<string> = new Set(["/health", "/ready"]);

export function createApp(store: Store, options: ApiOptions = {}): OpenAPIHono<ApiEnv> {
  return createApi(store, options).app;
}

/**
 * The app and its front door (admission.ts; null on a backend without worker queues), which
 * startServer's fetch asks before the app: the two share the metrics and the access log.
 */
export function createApi(
  store: Store,
  options: ApiOptions = {},
): { app: OpenAPIHono<ApiEnv>; admission: Admission | null; liveness: (request: Request) => Response | null } {
  const tokens = options.tokens ?? [];
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) throw new TypeError(`maxBodyBytes must be a positive whole number, got ${maxBodyBytes}`);
  for (const { name, token } of tokens) {
    checkToken(token);
    store.withActor(name); // checks the name is a valid actor
  }
  const logError: ErrorLogger = options.logError ?? ((error, c) => console.error(`tradelite api: ${c.req.method} ${c.req.path} failed:`, error));
  const cache = options.cache ?? null;
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: validationHook });

  app.onError((error, c) => handleError(error, c, logError));
  app.notFound((c) => handleError(new ApiError(404, `no route ${c.req.method} ${c.req.path.slice(0, 200)}`), c, logError));

  const corsHandler =
    options.corsOrigins && options.corsOrigins.length > 0
      ? cors({ origin: [...options.corsOrigins], allowHeaders: ["Authorization", "Content-Type"], maxAge: 600 })
      : null;
  const checkHost = hostAllowlist(options.allowedHosts ?? []);
  const checkSite = crossSiteGuard(options.corsOrigins ?? []);
  const auth = tokens.length > 0 ? tokenAuth(tokens) : null;
  const limitBody = bodyLimit(maxBodyBytes);
  const admission = createAdmission(store, { accessLog: options.accessLog, openPaths: PAGE_PATHS });
  const metrics = options.metrics === false ? null : createApiMetrics(store, cache, admission ? () => admission.refused : undefined);
  // The routes see the store through the timing wrapper; the checks above used the store itself.
  const served = metrics?.store ?? store;
  const views = new Map<string, Store>();
  const turns = createTurns();
  // One middleware for the Host check, CORS, the token, the request's store view, the body limit
  // and the secure headers: each layer of middleware costs a little on every request
  // (measured: microseconds of a 240-row answer's ~200), and these always run together. The
  // Host check comes first, so a CORS preflight from a rebinding page is refused too. Errors
  // thrown here or below are answered by onError, which adds the secure headers itself.
  const serve = async (c: Context<ApiEnv>, next: Next) => {
    const actor = auth && !OPEN_PATHS.has(c.req.path) && !PAGE_PATHS.has(c.req.path) ? auth(c) : LOCAL_ACTOR;
    let view = views.get(actor);
    if (!view) views.set(actor, (view = served.withActor(actor)));
    c.set("actor", actor);
    c.set("store", view);
    c.set("cache", cache);
    c.set("logError", logError);
    c.set("turns", turns);
    await limitBody(c, () => strictJsonBody(c, next));
  };
  // First, so that the time counted is the whole request's and refusals are counted and logged
  // with their status too. One middleware for the metrics and the access log: measured in
  // process, a layer of its own each cost about as much as what they record.
  const recordAccess = options.accessLog ? accessRecorder(options.accessLog, undefined, { clients: options.accessLogClients ?? true }) : null;
  if (metrics || recordAccess) {
    app.use(async (c, next) => {
      const started = performance.now();
      const arrived = Date.now();
      await next();
      const route = routePattern(c);
      metrics?.observeRequest(c, route, (performance.now() - started) / 1000);
      // A promise only when the log must wait for the body (recordAccess): none on the hot route.
      const logging = recordAccess?.(c, started, arrived, route);
      if (logging) await logging;
    });
  }
  app.use(async (c, next) => {
    checkHost(c);
    checkUrlEncoding(c.req.url);
    checkSite(c);
    if (corsHandler) {
      // A preflight is answered by the CORS handler itself, without reaching the routes.
      const preflight = await corsHandler(c, () => serve(c, next));
      if (preflight instanceof Response) c.res = preflight;
    } else {
      await serve(c, next);
    }
    addSecureHeaders(c.res);
  });

  pageRoutes(app);
  symbolRoutes(app, packageJson.version);
  barRoutes(app);
  crossSectionRoutes(app);
  calendarRoutes(app);
  adjustmentRoutes(app);
  instrumentRoutes(app);
  quoteRoutes(app);
  cacheRoutes(app);
  artifactRoutes(app);
  auditRoutes(app);
  preferenceRoutes(app);
  metricRoutes(app);
  liveRoutes(app, options.corsOrigins ?? [], options.live);
  prometheusRoutes(app, metrics);
  let backupDir: Promise<string | null> | undefined;
  maintenanceRoutes(app, options.backupLimits ?? DEFAULT_BACKUP_LIMITS, () => {
    if (options.backupDir !== undefined) return Promise.resolve(options.backupDir);
    // Remembered once found; a failure to find it is not remembered (the next request retries).
    return (backupDir ??= defaultBackupDir(store).catch((error: unknown) => {
      backupDir = undefined;
      throw error;
    }));
  });

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "tradelite", version: packageJson.version, description: "Local HTTP API of a tradelite store" },
    components: {},
  } as never);
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  return { app, admission, liveness: livenessAnswer(packageJson.version, allowedHosts(options.allowedHosts ?? [])) };
}

/** The backup folder a server over `store` uses by default: `backups` beside a file database. */
export async function defaultBackupDir(store: Store): Promise<string | null> {
  const { path } = await store.maintenance.info();
  if (store.backend === "postgres" || path === ":memory:" || path === "") return null;
  return join(dirname(resolve(path)), "backups");
}

function checkToken(token: string): void {
  if (typeof token !== "string" || token.length < 16 || /\s/.test(token)) {
    throw new TypeError("an API token must be at least 16 characters without whitespace");
  }
}

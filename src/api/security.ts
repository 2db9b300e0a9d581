/**
 * What keeps a local API local: a Host-header allowlist (so that a web page in the user's browser
 * cannot reach the API through DNS rebinding: its requests carry the attacker's host name), an
 * optional bearer token, compared in constant time, whose name becomes the audit log's actor,
 * and the secure headers on every answer.
 */
import type { Context } from "hono";
import { TOKEN_SCOPES, type ApiToken, type TokenScope } from "../config.ts";
import { ApiError } from "./errors.ts";

export type { ApiToken, TokenScope } from "../config.ts";

/**
 * The scope a request needs: maintenance is admin, and so is closing audit rollups (it writes
 * the audit log, which only the store's own mutations otherwise do); any other read is read, the
 * rest write. POST /v1/cross-section is a read whose symbols are too many for a URL: read.
 */
export function scopeOf(method: string, path: string): TokenScope {
  if (path === "/v1/maintenance" || path.startsWith("/v1/maintenance/") || path === "/v1/audit/rollups/close") return "admin";
  if (path === "/v1/cross-section") return "read";
  return method === "GET" || method === "HEAD" ? "read" : "write";
}

/** The actor named for changes made without a token (the API has none configured). */
export const LOCAL_ACTOR = "local";

export const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"] as const;

/** The host name of a Host header, lower-cased, without the port ("[::1]:8787" -> "[::1]"). */
export function hostName(header: string): string {
  const host = header.trim().toLowerCase();
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    return close < 0 ? host : host.slice(0, close + 1);
  }
  const colon = host.indexOf(":");
  return colon < 0 ? host : host.slice(0, colon);
}

/** The host names hostAllowlist accepts: loopback's and `extra`'s. */
export function allowedHosts(extra: readonly string[]): ReadonlySet<string> {
  return new Set<string>([...LOOPBACK_HOSTS, ...extra.map(hostName)]);
}

/** A check that throws a 403 for a request whose Host header names a host not on the list. */
export function hostAllowlist(extra: readonly string[]): (c: Context) => void {
  const allowed = allowedHosts(extra);
  return (c) => {
    // A browser always sends Host; app.request() in tests may not, and then the URL has it. An
    // HTTP/1.0 request without one has only a path for a URL: nothing to check, so refused.
    let header = c.req.raw.headers.get("host");
    if (header === null) {
      if (!URL.canParse(c.req.url)) throw new ApiError(400, "a Host header is required (an HTTP/1.0 request without one is refused)", null, "MALFORMED");
      header = new URL(c.req.url).host;
    }
    if (!allowed.has(hostName(header))) {
      throw new ApiError(403, `host ${JSON.stringify(hostName(header).slice(0, 100))} is not allowed; add it to TRADELITE_ALLOWED_HOSTS`, null, "FORBIDDEN_HOST");
    }
  };
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** The bodies the API reads: JSON, CSV, and the binary bar files (Parquet, Arrow, TDX's). None is a type a page may send without a preflight. */
const BODY_TYPE = /^(application\/([\w.-]+\+)?json|text\/csv|application\/octet-stream|application\/vnd\.apache\.(parquet|arrow\.file|arrow\.stream))\s*(;|$)/i;

/**
 * Cross-site writes. A web page on any origin can make the user's browser send a "simple"
 * request (POST with no body, text/plain or a form type) to a loopback server without asking
 * first, and with no token configured (the loopback default) nothing else stops it. So every
 * request that is not GET, HEAD or OPTIONS:
 * - from a browser page must come from the server's own origin or a configured CORS origin:
 *   `Origin` (sent by browsers on every such request) is compared, and `Sec-Fetch-Site:
 *   cross-site` without an Origin is refused too (403 CROSS_SITE);
 * - with a body, must say it is JSON, CSV or a binary bar file (415 otherwise): types a page
 *   cannot send without a preflight that CORS then refuses;
 * - a POST without a body must carry the same non-simple signal, `Content-Type:
 *   application/json` (an empty body, or `{}`): DELETE and PUT are never simple, POST is.
 * Clients that are not browsers (curl, tradelite/client, scripts) send no Origin and pass the
 * first rule; the token, where there is one, is checked as before.
 */
/** Whether `origin` is neither the server's own (its URL's scheme and the Host asked for) nor an allowed one. */
export function isForeignOrigin(c: Context, origin: string, allowed: ReadonlySet<string>): boolean {
  const url = new URL(c.req.url);
  return origin !== `${url.protocol}//${c.req.raw.headers.get("host") ?? url.host}` && !allowed.has(origin);
}

export function crossSiteGuard(corsOrigins: readonly string[]): (c: Context) => void {
  const allowed = new Set(corsOrigins);
  return (c) => {
    const raw = c.req.raw;
    if (SAFE_METHODS.has(raw.method)) return;
    const headers = raw.headers;
    const origin = headers.get("origin");
    if (origin !== null) {
      if (isForeignOrigin(c, origin, allowed)) {
        throw new ApiError(403, `a request from ${JSON.stringify(origin.slice(0, 100))} may not change anything here (add the origin to TRADELITE_CORS_ORIGINS)`, null, "CROSS_SITE");
      }
    } else if (headers.get("sec-fetch-site") === "cross-site") {
      throw new ApiError(403, "a cross-site request may not change anything here", null, "CROSS_SITE");
    }
    const type = headers.get("content-type") ?? "";
    const length = headers.get("content-length");
    const hasBody = raw.body !== null && length !== "0";
    if (hasBody && !BODY_TYPE.test(type)) {
      throw new ApiError(415, `a request body must be application/json, text/csv or a bar file's binary type, got ${JSON.stringify(type.slice(0, 60) || "none")}`, null, "UNSUPPORTED_MEDIA_TYPE");
    }
    if (!hasBody && raw.method === "POST" && !/^application\/json\s*(;|$)/i.test(type)) {
      throw new ApiError(415, "a POST without a body must say Content-Type: application/json (so no web page can send it unasked)", null, "UNSUPPORTED_MEDIA_TYPE");
    }
  };
}

/**
 * Refuses a path or query that does not decode: a percent sign not followed by two hex digits,
 * or escapes whose bytes are not UTF-8 (`/v1/bars/%41%FF`). The router leaves such text as it
 * is, so without this check it became part of a stored symbol. Only a URL with a `%` is read.
 */
export function checkUrlEncoding(url: string): void {
  if (!url.includes("%")) return;
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const query = url.indexOf("?");
  const path = query < 0 ? url.slice(start) : url.slice(start, query);
  if (!decodes(path)) throw new ApiError(400, "the path has an invalid percent-encoding or escapes that are not UTF-8", { where: "path" }, "MALFORMED");
  if (query < 0) return;
  for (const part of url.slice(query + 1).split(/[&=]/)) {
    if (!decodes(part.replaceAll("+", " "))) {
      throw new ApiError(400, "the query has an invalid percent-encoding or escapes that are not UTF-8", { where: "query" }, "MALFORMED");
    }
  }
}

function decodes(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `given` equals `known`, in a time that depends only on `known`'s length: every
 * character of `known` is compared (no early exit), a different length is folded into the
 * result rather than returned early, and `given` is read only inside itself (at i modulo its
 * length): a read past a string's end takes JavaScriptCore's slow path, so reading a shorter
 * token past its end made the time tell how short it was. Cheaper than hashing both
 * (measured: SHA-256 per request cost ~4% of the hot route's throughput).
 */
export function constantTimeEquals(given: string, known: string): boolean {
  let difference = given.length ^ known.length;
  // An empty token is compared as one NUL (its length already differs).
  const read = given.length === 0 ? "\u0000" : given;
  const length = read.length;
  for (let i = 0; i < known.length; i++) difference |= read.charCodeAt(i % length) ^ known.charCodeAt(i);
  return difference === 0;
}

/**
 * Bearer tokens (RFC 6750) over every configured token: the given token is compared in constant
 * time with each, and all are compared, so the time taken says nothing about which one came
 * close. Returns the matching token's name; throws a 401 with a WWW-Authenticate challenge
 * for a missing, malformed or unknown token. (Written here rather than with hono/bearer-auth,
 * which answers a malformed header with a 400 and costs a layer of middleware per request.)
 */
export function tokenAuth(tokens: readonly ApiToken[]): (c: Context) => string {
  const known = tokens.map(({ name, token, scopes }) => ({ name, token, scopes: new Set<TokenScope>(scopes ?? TOKEN_SCOPES) }));
  return (c) => {
    const header = c.req.raw.headers.get("authorization");
    const token = header !== null && header.length > 7 && /^bearer $/i.test(header.slice(0, 7)) ? header.slice(7).trim() : "";
    if (token === "") throw unauthorized(header === null ? "a bearer token is required" : "expected Authorization: Bearer <token>", "invalid_request");
    let match: (typeof known)[number] | undefined;
    for (const entry of known) {
      if (constantTimeEquals(token, entry.token) && match === undefined) match = entry;
    }
    if (match === undefined) throw unauthorized("wrong bearer token", "invalid_token");
    const needed = scopeOf(c.req.method, c.req.path);
    if (!match.scopes.has(needed)) {
      throw new ApiError(403, `the token ${match.name} lacks the ${needed} scope, which ${c.req.method} ${c.req.path.slice(0, 100)} needs`, { scope: needed }, "FORBIDDEN");
    }
    return match.name;
  };
}

function unauthorized(message: string, error: string): ApiError {
  return new ApiError(401, message, null, "UNAUTHORIZED", { "WWW-Authenticate": `Bearer realm="tradelite", error="${error}"` });
}

/**
 * The headers hono's secureHeaders middleware sets by default, set here on every answer in one
 * step (and baked into the fast JSON answer's header object).
 */
export const SECURE_HEADERS: Readonly<Record<string, string>> = {
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Origin-Agent-Cluster": "?1",
  "Referrer-Policy": "no-referrer",
  "Strict-Transport-Security": "max-age=15552000; includeSubDomains",
  "X-Content-Type-Options": "nosniff",
  "X-DNS-Prefetch-Control": "off",
  "X-Download-Options": "noopen",
  "X-Frame-Options": "SAMEORIGIN",
  "X-Permitted-Cross-Domain-Policies": "none",
  "X-XSS-Protection": "0",
};
const SECURE_HEADER_ENTRIES = Object.entries(SECURE_HEADERS);

/**
 * The secure headers of a bar read's JSON answer (the hot route): the two of SECURE_HEADERS that
 * protect data from another origin's page (no sniffing it as a script or style; no loading it as
 * a no-cors resource). The others govern documents a browser renders or navigates (framing,
 * referrers, HSTS over HTTPS), which a JSON array is not. Their number matters: Bun 1.4 writes an
 * answer completed after an await, as every answer from the sqlite-worker's readers is, with one
 * send() per header fragment (~60 a request with all eleven; oven-sh/bun#41341). Measured with
 * bench:api: 0.39 of the bare handler's requests/s with all of them, 0.53 with these two.
 */
export const DATA_HEADERS: Readonly<Record<string, string>> = {
  "X-Content-Type-Options": SECURE_HEADERS["X-Content-Type-Options"]!,
  "Cross-Origin-Resource-Policy": SECURE_HEADERS["Cross-Origin-Resource-Policy"]!,
};

/** Adds the secure headers to an answer that does not have them yet (nor DATA_HEADERS). */
export function addSecureHeaders(response: Response): void {
  const headers = response.headers;
  if (headers.has("x-content-type-options")) return;
  for (const [name, value] of SECURE_HEADER_ENTRIES) headers.set(name, value);
}

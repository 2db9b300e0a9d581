/**
 * What keeps a local API local: a Host-header allowlist (so that a web page in the user's browser
 * cannot reach the API through DNS rebinding: its requests carry the attacker's host name) and an
 * optional bearer token, compared in constant time, whose name becomes the audit log's actor.
 */
import { timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { ApiError } from "./errors.ts";

export interface ApiToken {
  /** Who the audit log names for this token's changes. */
  name: string;
  token: string;
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

/** A check that throws a 403 for a request whose Host header names a host not on the list. */
export function hostAllowlist(extra: readonly string[]): (c: Context) => void {
  const allowed = new Set<string>([...LOOPBACK_HOSTS, ...extra.map(hostName)]);
  return (c) => {
    // A browser always sends Host; app.request() in tests may not, and then the URL has it.
    const header = c.req.raw.headers.get("host") ?? new URL(c.req.url).host;
    if (!allowed.has(hostName(header))) {
      throw new ApiError(403, `host ${JSON.stringify(hostName(header).slice(0, 100))} is not allowed; add it to TRADELITE_ALLOWED_HOSTS`, null, "FORBIDDEN_HOST");
    }
  };
}

/** SHA-256 digests are equal-length, so comparing them takes the same time whatever the input. */
function digest(text: string): Buffer {
  return Buffer.from(new Bun.CryptoHasher("sha256").update(text).digest());
}

/**
 * Bearer-token auth (hono/bearer-auth) over every token: each is compared in constant time and
 * all are compared, so the time taken says nothing about which one came close. Sets `actor`.
 */
export function tokenAuth(tokens: readonly ApiToken[]): MiddlewareHandler<{ Variables: { actor: string } }> {
  const known = tokens.map(({ name, token }) => ({ name, digest: digest(token) }));
  return bearerAuth({
    verifyToken: (token, c) => {
      const given = digest(token);
      let match: string | undefined;
      for (const entry of known) {
        if (timingSafeEqual(given, entry.digest) && match === undefined) match = entry.name;
      }
      if (match === undefined) return false;
      c.set("actor", match);
      return true;
    },
  });
}

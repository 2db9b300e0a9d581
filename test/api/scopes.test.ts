/**
 * Several named tokens with scopes (TRADELITE_TOKENS; src/config.ts reads them, src/api/security.ts
 * checks them) through a real `serve` process: each token does what its scopes allow, a 403
 * names the missing scope, the token's name is the audit actor, and bad entries are refused
 * at start naming the entry.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolveServerSettings } from "../../src/config.ts";
import { ValidationError } from "../../src/domain/errors.ts";
import { killAllServers, startServeProcess, type ServerProcess } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

const READER = "reader-token-0123456789";
const WRITER = "writer-token-0123456789";
const OPS = "ops-token-0123456789abc";
const dir = tempDir("tradelite-scopes-");
let server: ServerProcess;

beforeAll(async () => {
  server = await startServeProcess({
    TRADELITE_DB: dir.file("trading.db"),
    TRADELITE_CACHE_DIR: dir.file("cache"),
    TRADELITE_PORT: "0",
    TRADELITE_TOKENS: `carol:read:${READER}, alice:read+write:${WRITER}, ops:admin+read:${OPS}`,
  });
});
afterAll(async () => {
  await killAllServers();
  dir.cleanup();
});

async function as(token: string, method: string, path: string, body?: unknown) {
  const answer = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: answer.status, body: (await answer.json()) as { error?: { code: string; message: string; details: unknown } } & Record<string, unknown> };
}

const BAR = [{ timestamp: 1704067200000, open: 1, high: 1, low: 1, close: 1 }];

describe("scopes", () => {
  test("read may read and nothing else; write may change data, not run maintenance; admin may run maintenance", async () => {
    expect((await as(READER, "GET", "/v1/symbols")).status).toBe(200);
    // The cross-section's POST is a read with its symbols in the body.
    expect((await as(READER, "POST", "/v1/cross-section", { at: 1704067200000, symbols: ["X"] })).status).toBe(200);
    const refused = await as(READER, "POST", "/v1/bars/X", BAR);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toEqual({ code: "FORBIDDEN", message: "the token carol lacks the write scope, which POST /v1/bars/X needs", details: { scope: "write" } });

    expect((await as(WRITER, "POST", "/v1/bars/X", BAR)).status).toBe(200);
    const noAdmin = await as(WRITER, "POST", "/v1/maintenance/checkpoint");
    expect([noAdmin.status, noAdmin.body.error!.details]).toEqual([403, { scope: "admin" }]);
    expect((await as(WRITER, "GET", "/v1/maintenance/stats")).status).toBe(403);

    // Closing audit rollups writes the log: admin's; verifying them is a read.
    expect((await as(WRITER, "POST", "/v1/audit/rollups/close")).body.error!.details).toEqual({ scope: "admin" });
    expect((await as(READER, "GET", "/v1/audit/rollups/verify")).status).toBe(200);
    expect((await as(OPS, "POST", "/v1/audit/rollups/close")).body).toEqual({ closed: 0 });
    expect((await as(OPS, "POST", "/v1/maintenance/checkpoint")).status).toBe(200);
    expect((await as(OPS, "GET", "/v1/maintenance/backups")).status).toBe(200);
    expect((await as(OPS, "POST", "/v1/bars/Y", BAR)).status).toBe(403);
    // The token's name is who the audit log names.
    const entries = (await as(OPS, "GET", "/v1/audit?action=bars.insert")).body as unknown as { actor: string }[];
    expect(entries.map((entry) => entry.actor)).toEqual(["alice"]);
    // A wrong token is still a 401, a missing one too; /health needs none.
    expect((await as("not-a-token-of-ours-0123", "GET", "/v1/symbols")).status).toBe(401);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});

describe("TRADELITE_TOKENS entries", () => {
  test("each bad entry is named: shape, scope, short token, a name or token twice, a clash with TRADELITE_TOKEN", () => {
    const problems = (env: Record<string, string>): string[] => {
      try {
        resolveServerSettings(env);
      } catch (error) {
        if (error instanceof ValidationError) return error.issues.map((issue) => issue.message);
        throw error;
      }
      return [];
    };
    expect(problems({ TRADELITE_TOKENS: `a:read:${READER},b:${WRITER}` })).toEqual(["entry 2: expected name:scope+scope:token"]);
    expect(problems({ TRADELITE_TOKENS: `a:read+root:${READER}` })).toEqual(['entry 1: scopes are read, write, admin joined with +, got "read+root"']);
    expect(problems({ TRADELITE_TOKENS: "a:read:short" })).toEqual(["entry 1: a token is at least 16 characters without whitespace"]);
    expect(problems({ TRADELITE_TOKENS: `a:read:${READER},a:write:${WRITER},b:read:${READER}` })).toEqual(["entry 2: the name a is used twice", "entry 3: a token is used twice"]);
    expect(problems({ TRADELITE_TOKEN: READER, TRADELITE_TOKENS: `x:read:${READER}` })[0]).toContain("appears again in TRADELITE_TOKENS");
    // Scoped tokens are enough to serve beyond loopback; the scopes come through as given.
    expect(resolveServerSettings({ TRADELITE_HOST: "0.0.0.0", TRADELITE_TOKENS: `a:read:${READER}` }).tokens).toEqual([{ name: "a", token: READER, scopes: ["read"] }]);
  });
});

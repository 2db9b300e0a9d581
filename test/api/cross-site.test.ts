/**
 * Cross-site writes (src/api/security.ts, crossSiteGuard) through a real `serve` process with no
 * token, the loopback default: raw requests as curl or a page's browser would send them, and a
 * real Chromium page on another origin trying the attacks of issue 17 (a no-cors POST with a
 * text/plain body, a body-less POST, a form post). Nothing they send changes anything; the same
 * requests from the server's own page, or with JSON from a client that is not a browser, do.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { browserAvailable, CHROMIUM_FLAGS, CHROMIUM_PATH } from "../support/browser.ts";
import { killAllServers, startServeProcess, type ServerProcess } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-cross-site-");
const backups = dir.file("backups");
let server: ServerProcess;
let configured: ServerProcess;

beforeAll(async () => {
  [server, configured] = await Promise.all([
    startServeProcess({ TRADELITE_DB: dir.file("trading.db"), TRADELITE_CACHE_DIR: dir.file("cache"), TRADELITE_PORT: "0" }),
    startServeProcess({ TRADELITE_DB: dir.file("cors/trading.db"), TRADELITE_CACHE_DIR: dir.file("cors/cache"), TRADELITE_PORT: "0", TRADELITE_CORS_ORIGINS: "http://app.example" }),
  ]);
});
afterAll(async () => {
  await killAllServers();
  dir.cleanup();
});

const backupFiles = () => (existsSync(backups) ? readdirSync(backups).sort() : []);
const BAR = JSON.stringify([{ timestamp: 1704067200000, open: 1, high: 1, low: 1, close: 1 }]);

async function send(base: string, method: string, path: string, headers: Record<string, string>, body?: string) {
  const answer = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  return { status: answer.status, code: ((await answer.json()) as { error?: { code: string } }).error?.code };
}

describe("raw requests", () => {
  test("another origin's POST, simple or not, is 403 CROSS_SITE and writes no backup; so is Sec-Fetch-Site: cross-site", async () => {
    const evil = { Origin: "http://evil.example" };
    expect(await send(server.url, "POST", "/v1/maintenance/backup?name=e1", { ...evil, "Content-Type": "text/plain" }, "x")).toEqual({ status: 403, code: "CROSS_SITE" });
    expect(await send(server.url, "POST", "/v1/maintenance/backup?name=e2", { ...evil, "Content-Type": "application/json" })).toEqual({ status: 403, code: "CROSS_SITE" });
    // Another port of the same host is another origin (a local dev server's page, say).
    expect(await send(server.url, "POST", "/v1/maintenance/vacuum", { Origin: "http://127.0.0.1:1", "Content-Type": "application/json" })).toEqual({ status: 403, code: "CROSS_SITE" });
    expect(await send(server.url, "DELETE", "/v1/preferences/x", evil)).toEqual({ status: 403, code: "CROSS_SITE" });
    expect(await send(server.url, "POST", "/v1/maintenance/checkpoint", { "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json" })).toEqual({ status: 403, code: "CROSS_SITE" });
    expect(backupFiles()).toEqual([]);
    // Reads stay open to any origin's no-cors request, as before (CORS decides who may read).
    expect((await fetch(`${server.url}/v1/symbols`, { headers: evil })).status).toBe(200);
  });

  test("a body must be JSON or CSV and a body-less POST must say application/json: 415 otherwise, nothing written", async () => {
    expect(await send(server.url, "POST", "/v1/bars/X", { "Content-Type": "text/plain" }, BAR)).toEqual({ status: 415, code: "UNSUPPORTED_MEDIA_TYPE" });
    expect(await send(server.url, "POST", "/v1/bars/X", { "Content-Type": "application/x-www-form-urlencoded" }, "a=1")).toEqual({ status: 415, code: "UNSUPPORTED_MEDIA_TYPE" });
    expect(await send(server.url, "POST", "/v1/maintenance/backup?name=plain", {})).toEqual({ status: 415, code: "UNSUPPORTED_MEDIA_TYPE" });
    expect(backupFiles()).toEqual([]);
    expect((await (await fetch(`${server.url}/v1/symbols`)).json()) as unknown[]).toEqual([]);
    // The same requests, said the way a client means them, go through.
    expect((await send(server.url, "POST", "/v1/maintenance/backup?name=ok.db", { "Content-Type": "application/json" })).status).toBe(200);
    expect((await send(server.url, "POST", "/v1/bars/X", { "Content-Type": "application/json" }, BAR)).status).toBe(200);
    expect((await send(server.url, "POST", "/v1/maintenance/checkpoint", { "Content-Type": "application/json", Origin: server.url }, "{}")).status).toBe(200);
    expect(backupFiles()).toEqual(["ok.db"]);
  });

  test("an origin named in TRADELITE_CORS_ORIGINS may write; others still may not", async () => {
    expect((await send(configured.url, "POST", "/v1/bars/Y", { Origin: "http://app.example", "Content-Type": "application/json" }, BAR)).status).toBe(200);
    expect(await send(configured.url, "POST", "/v1/bars/Y", { Origin: "http://evil.example", "Content-Type": "application/json" }, BAR)).toEqual({ status: 403, code: "CROSS_SITE" });
  });
});

describe.skipIf(!browserAvailable())("a real browser", () => {
  test("a page on another origin cannot back up, compact, store bars or post a form; the server's own page can", async () => {
    // The attacker: a page on another port of the same machine (another origin, the same site).
    const attacker = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () =>
        new Response(
          `<!doctype html><iframe name="sink"></iframe>
           <form id="form" method="POST" target="sink" action="${server.url}/v1/maintenance/backup?name=form.db"><input name="a" value="1"></form>
           <script>
             window.attack = async () => {
               const api = ${JSON.stringify(server.url)};
               const shots = [
                 fetch(api + "/v1/maintenance/backup?name=text.db", { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body: "x" }),
                 fetch(api + "/v1/maintenance/backup?name=bare.db", { method: "POST", mode: "no-cors" }),
                 fetch(api + "/v1/bars/EVIL", { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body: ${JSON.stringify(BAR)} }),
                 fetch(api + "/v1/bars/EVIL2", { method: "POST", headers: { "Content-Type": "application/json" }, body: ${JSON.stringify(BAR)} }).catch(() => "refused by CORS"),
               ];
               document.getElementById("form").submit();
               return Promise.all(shots.map((shot) => shot.then(() => "sent", (e) => String(e))));
             };
           </script>`,
          { headers: { "Content-Type": "text/html" } },
        ),
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_FLAGS, headless: true });
    try {
      const before = backupFiles();
      const page = await browser.newPage();
      await page.goto(attacker.url.href);
      const outcome = await page.evaluate(() => (globalThis as unknown as { attack(): Promise<string[]> }).attack());
      expect(outcome).toHaveLength(4);
      await page.waitForTimeout(500); // the form's post lands in the iframe
      expect(backupFiles()).toEqual(before);
      const stored = ((await (await fetch(`${server.url}/v1/symbols`)).json()) as { symbol: string }[]).map((row) => row.symbol);
      expect(stored.filter((symbol) => symbol.startsWith("EVIL"))).toEqual([]);

      // The control: the server's own page sends the same backup and it is made.
      const own = await browser.newPage();
      await own.goto(`${server.url}/`);
      const status = await own.evaluate(async () => (await fetch("/v1/maintenance/backup?name=own.db", { method: "POST", headers: { "Content-Type": "application/json" } })).status);
      expect(status).toBe(200);
      expect(backupFiles()).toContain("own.db");
    } finally {
      await browser.close();
      attacker.stop(true);
    }
  });
});

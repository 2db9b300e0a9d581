/**
 * The data browser: `GET /` serves one page (src/web/index.html), `GET /assets/app.js` its script
 * (src/web/app.ts with lightweight-charts, bundled by Bun.build on first request and kept in
 * memory) and `GET /assets/app.css` its styles. Everything comes from the package: the page
 * loads nothing from outside the machine, and its Content-Security-Policy says so to the browser.
 *
 * These three answers hold no data, so they need no token (the page asks for one when the API
 * answers 401, and sends it on every request it makes). The Host check still applies: a
 * rebinding page cannot load them either.
 */
import { join } from "node:path";
import type { Api } from "./context.ts";
import { ApiError } from "./errors.ts";

const WEB_DIR = join(import.meta.dir, "..", "web");

/** The page's own origin for everything; no inline script; canvas images only. */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The paths served without a token. */
export const PAGE_PATHS: ReadonlySet<string> = new Set(["/", "/assets/app.js", "/assets/app.css"]);

let script: Promise<string> | undefined;

/** src/web/app.ts bundled for the browser, once per process (a failed build is retried next time). */
function bundle(): Promise<string> {
  return (script ??= (async () => {
    const built = await Bun.build({ entrypoints: [join(WEB_DIR, "app.ts")], target: "browser", minify: true, sourcemap: "none" });
    const output = built.outputs[0];
    if (!built.success || !output) throw new Error(`the page's script did not build: ${built.logs.map(String).join("\n")}`);
    return output.text();
  })().catch((error: unknown) => {
    script = undefined;
    throw error;
  }));
}

export function pageRoutes(app: Api): void {
  const answer = (body: string | Blob, type: string, extra: Record<string, string> = {}) =>
    new Response(body, { headers: { "Content-Type": type, "Cache-Control": "no-cache", ...extra } });

  app.get("/", async () => {
    const html = Bun.file(join(WEB_DIR, "index.html"));
    if (!(await html.exists())) throw new ApiError(404, "this installation has no data browser page");
    return answer(html, "text/html; charset=utf-8", { "Content-Security-Policy": PAGE_CSP });
  });
  app.get("/assets/app.js", async () => answer(await bundle(), "text/javascript; charset=utf-8"));
  app.get("/assets/app.css", () => answer(Bun.file(join(WEB_DIR, "app.css")), "text/css; charset=utf-8"));
}

/**
 * A real browser for the page tests: Debian's Chromium driven by playwright-core (never
 * `playwright install`), headless, with a fresh user-data directory per page. Every page
 * records what would be a failure for a user: an uncaught error, a console error (a CSP
 * violation is one), a request that failed, an answer of 400 or more that the test did not
 * expect, and any request to another origin (the page must load nothing from outside).
 *
 * Without /usr/bin/chromium the page tests skip with a one-line reason, except under CI
 * (`CI` set, as .ci/run does), where they fail: CI installs Chromium.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";

export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Whether the page tests can run here; throws under CI when they cannot. */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  if (process.env.CI) throw new Error(`${CHROMIUM_PATH} is missing: .ci/run installs Debian's chromium package`);
  console.log(`skipping the browser tests: ${CHROMIUM_PATH} is missing (apt-get install chromium; CI installs it)`);
  return false;
}

export interface BrowserPage {
  page: Page;
  /** What went wrong on the page so far, one line each. */
  problems: string[];
  /** Every URL the page requested. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Opens a page on `origin` in a fresh Chromium profile. `expectStatus(url, status)` returns true
 * for an answer of 400 or more the test provokes on purpose (a 401 before the token is given).
 */
export async function openBrowserPage(origin: string, expectStatus: (url: string, status: number) => boolean = () => false): Promise<BrowserPage> {
  const profile = mkdtempSync(join(tmpdir(), "tradelite-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_FLAGS,
      headless: true,
      viewport: { width: 1400, height: 900 },
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  const requests: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // Chromium logs every 4xx/5xx answer as a console error too; those are judged by status below.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource: the server responded with a status of")) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on("request", (request) => {
    requests.push(request.url());
    if (!request.url().startsWith(`${origin}/`) && !request.url().startsWith("data:")) problems.push(`request outside the server: ${request.url()}`);
  });
  page.on("requestfailed", (request) => {
    // The page ends a live stream (/v1/stream) it no longer shows by aborting it: not a failure.
    if (request.failure()?.errorText === "net::ERR_ABORTED" && new URL(request.url()).pathname === "/v1/stream") return;
    problems.push(`request failed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400 && !expectStatus(response.url(), response.status())) {
      problems.push(`answer ${response.status()}: ${response.request().method()} ${response.url()}`);
    }
  });
  return {
    page,
    problems,
    requests,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * `bun run serve` (and `bun run start`): the HTTP API over the default database ($TRADELITE_DB,
 * else ./data/trading.db) and its session cache ($TRADELITE_CACHE_DIR, else ./data/session_cache),
 * on $TRADELITE_HOST:$TRADELITE_PORT (127.0.0.1:8787). The store runs in workers (sqlite-worker:
 * storage never holds the server's event loop); `--in-thread` (or TRADELITE_BACKEND=sqlite) runs
 * it on the server's thread instead. See the README's "HTTP API" for the rest of the environment.
 * SIGINT and SIGTERM stop the server: requests in flight get TRADELITE_SHUTDOWN_GRACE_MS (10 s)
 * to finish, then their connections are closed (a second signal closes them at once); the store
 * then closes cleanly.
 */
import { formatIsoLocal } from "../../src/domain/time.ts";
import { openStore, ValidationError, type Store } from "../../src/mod.ts";
import { resolveServerSettings, startServer, type RunningServer, type ServerSettings } from "../../src/entries/api.ts";
import { writeAccessEntry, type AccessEntry } from "../../src/entries/api.ts";
import { SessionCache } from "../../src/entries/cache.ts";
import { EXIT_OK, EXIT_USAGE, parseOptions, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite serve [--in-thread]

Serves the HTTP API and the data browser over the default database ($TRADELITE_DB) and session
cache ($TRADELITE_CACHE_DIR) on $TRADELITE_HOST:$TRADELITE_PORT (127.0.0.1:8787); see the
README's "HTTP API" for the environment. --in-thread runs the store on the server's thread
instead of in workers. Ctrl-C (SIGINT) or SIGTERM stops it.`;

/**
 * Serves until SIGINT/SIGTERM (which exit the process); resolves only with a usage exit code.
 * `onListening` is told the URL once the server listens.
 */
export async function serve(inThread: boolean, onListening?: (url: string) => void): Promise<number> {
  let settings: ServerSettings;
  try {
    settings = resolveServerSettings();
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    for (const issue of error.issues) console.error(`tradelite serve: ${issue.field}: ${issue.message}`);
    return EXIT_USAGE;
  }
  const backendName = inThread ? "sqlite" : (process.env.TRADELITE_BACKEND || "sqlite-worker");
  if (backendName !== "sqlite" && backendName !== "sqlite-worker" && backendName !== "postgres") {
    console.error(`tradelite serve: TRADELITE_BACKEND: expected sqlite, sqlite-worker or postgres, got ${JSON.stringify(backendName)}`);
    return EXIT_USAGE;
  }
  // The database's zone and stamping are the ones it stores; $TRADELITE_TIMEZONE and
  // $TRADELITE_BAR_TIMESTAMP only say what a database this server creates stores.
  const initialSettings = { timezone: settings.timezone, barTimestamp: settings.barTimestamp };
  // On every backend the session cache runs over the store: its files in $TRADELITE_CACHE_DIR
  // on this machine, its rows and its lock the store's (sqlite-worker lends the cache a
  // connection of its own on this thread, with a short busy wait: src/worker/store.ts).
  const store: Store = await openStore({ backend: backendName, initialSettings });
  const cache = new SessionCache({ store });
  const running = startServer(store, { ...serverOptions(settings), cache });

  const overview = await store.overview();
  const info = await store.maintenance.info();
  console.log(`tradelite database: ${info.path} (journal ${info.journalMode}, ${describeSettings(store)}, backend ${store.backend})`);
  console.log(`session cache: ${cache.settings.dir}`);
  if (overview.length === 0) {
    console.log("no bars stored yet");
  } else {
    const shown = overview.slice(0, 20);
    for (const row of shown) {
      const minutes = row.start === null || row.end === null ? "" : `  ${formatIsoLocal(row.start, store.timezone)} .. ${formatIsoLocal(row.end, store.timezone)}`;
      const days = row.daily ? `  (${row.daily.count} daily bars)` : "";
      console.log(`  ${row.symbol.padEnd(16)} ${String(row.count).padStart(10)} bars${minutes}${days}`);
    }
    if (overview.length > shown.length) console.log(`  ... and ${overview.length - shown.length} more symbols`);
  }
  return listen(running, settings, onListening, () => store.close());
}

/** The stored settings in a line: what every request is read with. */
function describeSettings(store: Store): string {
  return `timezone ${store.timezone}, bars stamped at the ${store.barTimestamp}, calendar ${store.calendar ?? "none"}`;
}

function serverOptions(settings: ServerSettings) {
  const { host, port, tokens, allowedHosts, corsOrigins, maxBodyBytes, backupLimits } = settings;
  // JSON lines for a file, a pipe or a collector; a short line for a person at a terminal.
  const json = !process.stdout.isTTY;
  return { hostname: host, port, tokens, allowedHosts, corsOrigins, maxBodyBytes, backupLimits, accessLog: (entry: AccessEntry) => writeAccessEntry(entry, json) };
}

/**
 * Prints where the server listens, and stops it on SIGINT/SIGTERM: requests in flight get
 * TRADELITE_SHUTDOWN_GRACE_MS, then their connections are closed (a second signal closes them
 * at once); then `close` closes the store, and the process exits. Never resolves.
 */
function listen(running: RunningServer, settings: ServerSettings, onListening: ((url: string) => void) | undefined, close: () => Promise<void>): Promise<number> {
  console.log(`tradelite API listening on ${running.url}${settings.tokens.length > 0 ? " (bearer token required)" : ""}`);
  console.log(`  try: curl ${running.url}/health   (or open ${running.url}/ in a browser)`);
  onListening?.(running.url);

  let stopping = false;
  async function shutdown(signal: string): Promise<void> {
    if (stopping) {
      console.log(`tradelite API: ${signal} again, closing open connections now`);
      void running.stop(true);
      return;
    }
    stopping = true;
    console.log(`tradelite API: ${signal}, stopping (requests in flight have ${settings.shutdownGraceMs} ms to finish)`);
    // A client that stopped reading an export would hold a graceful stop open for ever.
    const deadline = setTimeout(() => {
      console.log("tradelite API: closing the connections still open");
      void running.stop(true);
    }, settings.shutdownGraceMs);
    await running.stop();
    clearTimeout(deadline);
    await close();
    process.exit(0);
  }
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  // Serves until a signal ends the process.
  return new Promise<number>(() => {});
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, { "in-thread": { type: "boolean" } });
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (positionals.length > 0) throw new UsageError("serve takes no arguments (see the README for its environment)");
  return serve(Boolean(values["in-thread"]));
}

export const serveCommand: Command = { name: "serve", summary: "serve the HTTP API and the data browser", usage: USAGE, run };

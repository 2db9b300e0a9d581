/**
 * `bun run serve` (and `bun run start`): the HTTP API over a store (--db PATH or --database-url
 * URL, else $TRADELITE_BACKEND, $TRADELITE_DB, $TRADELITE_DATABASE_URL) and its session cache
 * ($TRADELITE_CACHE_DIR, else ./data/session_cache), on --host:--port ($TRADELITE_HOST and
 * $TRADELITE_PORT, else 127.0.0.1:8787). On SQLite the store runs in workers (sqlite-worker:
 * storage never holds the server's event loop); `--in-thread` (or --backend sqlite) runs it on
 * the server's thread instead. See the README's "HTTP API" for the rest of the environment.
 * SIGINT and SIGTERM stop the server: requests in flight get TRADELITE_SHUTDOWN_GRACE_MS (10 s)
 * to finish, then their connections are closed (a second signal closes them at once); the store
 * then closes cleanly.
 */
import { formatIsoLocal } from "../../src/domain/time.ts";
import { ValidationError, type Store } from "../../src/mod.ts";
import { isLoopbackHost, resolveServerSettings, startServer, flushAccessLog, writeAccessEntry, type AccessEntry, type RunningServer, type ServerSettings } from "../../src/entries/api.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, openCliCache, openCliStore, parseOptions, STORE_OPTIONS, STORE_USAGE, storeChoice, text, UsageError, type Command, type StoreChoice } from "./shared.ts";
import type { SessionCache } from "../../src/entries/cache.ts";

const USAGE = `usage: tradelite serve [--db PATH | --database-url URL] [--host H] [--port N] [--cache-dir DIR] [--in-thread]

Serves the HTTP API and the data browser over the store and its session cache on --host:--port
($TRADELITE_HOST:$TRADELITE_PORT, else 127.0.0.1:8787; --port 0 picks a free one). A host other
than loopback needs TRADELITE_TOKEN. See the README's "HTTP API" for the environment.
Ctrl-C (SIGINT) or SIGTERM stops it. A port already taken is exit 1.

  --host H             the address to listen on
  --port N             the port (0-65535)
  --cache-dir DIR      the session cache folder ($TRADELITE_CACHE_DIR)
  --in-thread          the same as --backend sqlite: the store on the server's thread, not in workers
${STORE_USAGE.replace("default sqlite", "default sqlite-worker")}`;

const OPTIONS = { ...STORE_OPTIONS, host: { type: "string" }, port: { type: "string" }, "cache-dir": { type: "string" }, "in-thread": { type: "boolean" } } as const;

/** What to serve, and where. */
export interface ServeOptions {
  choice: StoreChoice;
  cacheDir?: string;
  /** Instead of $TRADELITE_HOST and $TRADELITE_PORT. */
  host?: string;
  port?: string;
}

/**
 * Serves until SIGINT/SIGTERM (which exit the process); resolves only with a usage or failure
 * exit code (a port already taken: the store is closed first). `onListening` is told the URL
 * once the server listens.
 */
export async function serve(options: ServeOptions, onListening?: (url: string) => void): Promise<number> {
  let settings: ServerSettings;
  try {
    settings = resolveServerSettings({ ...process.env, ...(options.host === undefined ? {} : { TRADELITE_HOST: options.host }), ...(options.port === undefined ? {} : { TRADELITE_PORT: options.port }) });
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const flag = (field?: string) => (field === "TRADELITE_HOST" && options.host !== undefined ? "--host" : field === "TRADELITE_PORT" && options.port !== undefined ? "--port" : field);
    for (const issue of error.issues) console.error(`tradelite serve: ${flag(issue.field)}: ${issue.message}`);
    return EXIT_USAGE;
  }
  // Found before the store opens: workers take a second or more to start and stop on a loaded
  // machine, and a server that cannot listen should not create a database.
  if (portTaken(settings)) {
    console.error(portTakenMessage(settings));
    return EXIT_FAILURE;
  }
  // The database's zone and stamping are the ones it stores; $TRADELITE_TIMEZONE and
  // $TRADELITE_BAR_TIMESTAMP only say what a database this server creates stores.
  const store = await openCliStore(options.choice, {
    initial: { timezone: settings.timezone, barTimestamp: settings.barTimestamp },
    queueDeadlineMs: settings.queueDeadlineMs,
  });
  let cache: SessionCache | undefined;
  let running: RunningServer;
  const close = async () => {
    await flushAccessLog();
    await store.close();
  };
  try {
    cache = openCliCache(store, options.cacheDir);
    running = startServer(store, { ...serverOptions(settings), cache });
  } catch (error) {
    await close();
    // Taken between the check and now.
    if (isAddressInUse(error)) {
      console.error(portTakenMessage(settings));
      return EXIT_FAILURE;
    }
    throw error;
  }
  await describeStore(store, cache.settings.dir);
  return listen(running, settings, onListening, close);
}

/** Whether another process listens on the address: a listener bound there for a moment, then let go. */
function portTaken({ host, port }: ServerSettings): boolean {
  if (port === 0) return false;
  try {
    Bun.listen({ hostname: host.replace(/^\[(.*)\]$/, "$1"), port, socket: { data() {} } }).stop(true);
    return false;
  } catch (error) {
    if (isAddressInUse(error)) return true;
    throw error;
  }
}

function isAddressInUse(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === "EADDRINUSE";
}

function portTakenMessage({ host, port }: ServerSettings): string {
  return `tradelite serve: ${host}:${port} is taken (another server is listening there); choose another --port or TRADELITE_PORT`;
}

/** Where the server's data is, with its stored settings and what it holds, before it listens. */
async function describeStore(store: Store, cacheDir: string): Promise<void> {
  const info = await store.maintenance.info();
  console.log(`tradelite database: ${info.path} (journal ${info.journalMode}, ${describeSettings(store)}, backend ${store.backend})`);
  console.log(`session cache: ${cacheDir}`);
  const overview = await store.overview();
  if (overview.length === 0) {
    console.log("no bars stored yet");
    return;
  }
  const shown = overview.slice(0, 20);
  for (const row of shown) {
    const minutes = row.start === null || row.end === null ? "" : `  ${formatIsoLocal(row.start, store.timezone)} .. ${formatIsoLocal(row.end, store.timezone)}`;
    const days = row.daily ? `  (${row.daily.count} daily bars)` : "";
    console.log(`  ${row.symbol.padEnd(16)} ${String(row.count).padStart(10)} bars${minutes}${days}`);
  }
  if (overview.length > shown.length) console.log(`  ... and ${overview.length - shown.length} more symbols`);
}

/** The stored settings in a line: what every request is read with. */
function describeSettings(store: Store): string {
  return `timezone ${store.timezone}, bars stamped at the ${store.barTimestamp}, calendar ${store.calendar ?? "none"}`;
}

function serverOptions(settings: ServerSettings) {
  const { host, port, tokens, allowedHosts, corsOrigins, maxBodyBytes, backupLimits } = settings;
  // JSON lines for a file, a pipe or a collector; a short line for a person at a terminal.
  const json = !process.stdout.isTTY;
  // On loopback only, every client is this machine: the log does not ask each request's address.
  const accessLogClients = !isLoopbackHost(host);
  return { hostname: host, port, tokens, allowedHosts, corsOrigins, maxBodyBytes, backupLimits, accessLog: (entry: AccessEntry) => writeAccessEntry(entry, json), accessLogClients };
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
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (positionals.length > 0) throw new UsageError("serve takes no arguments (see the README for its environment)");
  if (values["in-thread"] && text(values, "backend") !== undefined) throw new UsageError("--in-thread is --backend sqlite: give one");
  const choice = storeChoice(values["in-thread"] ? { ...values, backend: "sqlite" } : values, "sqlite-worker");
  const cacheDir = text(values, "cache-dir");
  const host = text(values, "host");
  const port = text(values, "port");
  return serve({ choice, ...(cacheDir === undefined ? {} : { cacheDir }), ...(host === undefined ? {} : { host }), ...(port === undefined ? {} : { port }) });
}

export const serveCommand: Command = { name: "serve", summary: "serve the HTTP API and the data browser", usage: USAGE, options: OPTIONS, run };

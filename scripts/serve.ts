/**
 * `bun run serve` (and `bun run start`): the HTTP API over the default database ($TRADELITE_DB,
 * else ./data/trading.db) and its session cache ($TRADELITE_CACHE_DIR, else ./data/session_cache),
 * on $TRADELITE_HOST:$TRADELITE_PORT (127.0.0.1:8787). See the README's "HTTP API" for the rest
 * of the environment. SIGINT and SIGTERM stop the server, then close the store cleanly.
 */
import {
  createSqliteStore,
  formatIsoUtc,
  getDatabase,
  resolveServerSettings,
  SessionCache,
  startServer,
  ValidationError,
} from "../src/mod.ts";

let settings;
try {
  settings = resolveServerSettings();
} catch (error) {
  if (!(error instanceof ValidationError)) throw error;
  for (const issue of error.issues) console.error(`tradelite serve: ${issue.field}: ${issue.message}`);
  process.exit(2);
}

const db = getDatabase();
const store = createSqliteStore(db);
const cache = new SessionCache({ db });
const running = startServer(store, {
  hostname: settings.host,
  port: settings.port,
  tokens: settings.tokens,
  allowedHosts: settings.allowedHosts,
  corsOrigins: settings.corsOrigins,
  maxBodyBytes: settings.maxBodyBytes,
  cache,
});

const overview = db.overview();
const { journalMode } = db.settings();
console.log(`tradelite database: ${db.path} (schema ${db.schemaVersion}, journal ${journalMode}, timezone ${db.timezone})`);
console.log(`session cache: ${cache.settings.dir}`);
if (overview.length === 0) {
  console.log("no bars stored yet");
} else {
  const shown = overview.slice(0, 20);
  for (const row of shown) {
    console.log(`  ${row.symbol.padEnd(16)} ${String(row.count).padStart(10)} bars  ${formatIsoUtc(row.start)} .. ${formatIsoUtc(row.end)}`);
  }
  if (overview.length > shown.length) console.log(`  ... and ${overview.length - shown.length} more symbols`);
}
console.log(`tradelite API listening on ${running.url}${settings.tokens.length > 0 ? " (bearer token required)" : ""}`);
console.log(`  try: curl ${running.url}/health`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`tradelite API: ${signal}, stopping`);
  await running.stop();
  await store.close();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

/**
 * `bun run start`: opens (creating it if needed) the default database, $TRADELITE_DB or
 * ./data/trading.db, and prints where it is and what it holds.
 */
import { formatIsoUtc, getDatabase } from "../src/mod.ts";

const db = getDatabase();
try {
  const settings = db.settings();
  const overview = db.overview();
  console.log(`tradelite database: ${db.path}`);
  console.log(`schema version ${db.schemaVersion}, journal ${settings.journalMode}, synchronous ${settings.synchronous}, timezone ${db.timezone}`);
  if (overview.length === 0) {
    console.log("no bars stored yet");
  } else {
    console.log(["symbol".padEnd(16), "bars".padStart(10), "first".padEnd(24), "last"].join("  "));
    for (const row of overview) {
      console.log([row.symbol.padEnd(16), String(row.count).padStart(10), formatIsoUtc(row.start).padEnd(24), formatIsoUtc(row.end)].join("  "));
    }
  }
} finally {
  db.close();
}

/**
 * The Store conformance suite on PostgreSQL: `openStore({ backend: "postgres" })` over a real
 * server, a fresh database for every store the suite opens (dropped at the end).
 */
import { afterAll } from "bun:test";
import { openStore, type Store } from "../../src/mod.ts";
import { storeConformance } from "../support/conformance.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const available = await postgresAvailable();
const databases: TestDatabase[] = [];
// A hundred and more databases by now (every case opens its own): dropped eight at a time, with
// more than the default minute, which a loaded machine took dropping them one by one.
afterAll(async () => {
  for (let i = 0; i < databases.length; i += 8) await Promise.all(databases.slice(i, i + 8).map((database) => database.drop().catch(() => {})));
}, 300_000);

if (available) {
  const urls = new WeakMap<Store, string>();
  storeConformance(
    "postgres",
    async (options) => {
      const database = await createTestDatabase("conformance");
      databases.push(database);
      const store = await openStore({ backend: "postgres", url: database.url, max: 4, ...options });
      urls.set(store, database.url);
      return store;
    },
    (store, options) => openStore({ backend: "postgres", url: urls.get(store)!, max: 4, ...options }),
  );
}

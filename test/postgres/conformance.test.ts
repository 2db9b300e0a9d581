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
afterAll(async () => {
  for (const database of databases) await database.drop().catch(() => {});
});

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

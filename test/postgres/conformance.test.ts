/**
 * The Store conformance suite on PostgreSQL: `openStore({ backend: "postgres" })` over a real
 * server, a fresh database for every store the suite opens (dropped at the end).
 */
import { afterAll } from "bun:test";
import { openStore } from "../../src/mod.ts";
import { storeConformance } from "../support/conformance.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const available = await postgresAvailable();
const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const database of databases) await database.drop().catch(() => {});
});

if (available) {
  storeConformance("postgres", async (options) => {
    const database = await createTestDatabase("conformance");
    databases.push(database);
    return openStore({ backend: "postgres", url: database.url, max: 4, ...options });
  });
}

/**
 * A real PostgreSQL for the tests: the server named by $TRADELITE_TEST_POSTGRES_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres, what .ci/run makes sure is running). Each test
 * file creates a database of its own and drops it at the end. Without a reachable server the
 * PostgreSQL tests skip with a one-line reason, except under CI, where they fail.
 */
import { SQL } from "bun";
import { createScratchDatabase, type ScratchDatabase } from "../../scripts/postgres-scratch.ts";

export const ADMIN_URL = process.env.TRADELITE_TEST_POSTGRES_URL || "postgres://postgres@127.0.0.1:5432/postgres";

/** Whether a server answers (checked once per file, before the tests are declared). */
export async function postgresAvailable(): Promise<boolean> {
  const admin = new SQL({ url: ADMIN_URL, max: 1, connectionTimeout: 3 });
  try {
    await admin`SELECT 1`;
    return true;
  } catch (error) {
    if (process.env.CI) throw new Error(`PostgreSQL at ${ADMIN_URL} is not reachable (${(error as Error).message}); .ci/run starts it`);
    console.log(`skipping the PostgreSQL tests: no server at ${ADMIN_URL} (${(error as Error).message})`);
    return false;
  } finally {
    await admin.close();
  }
}

export type TestDatabase = ScratchDatabase;

/** A fresh, empty database with a unique name; drop() removes it (closing what is still connected). */
export function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `tradelite_${label}_${process.pid}_${Math.floor(Math.random() * 1e9)}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  return createScratchDatabase(ADMIN_URL, name);
}

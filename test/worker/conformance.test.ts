/**
 * The Store conformance suite, unchanged, on the sqlite-worker backend (a real file, a writer
 * worker and two reader workers), and with no readers (reads on the writer).
 */
import { afterAll } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../src/mod.ts";
import { storeConformance } from "../support/conformance.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-worker-conformance-");
afterAll(() => rmSync(dir.path, { recursive: true, force: true }));
let files = 0;

storeConformance("sqlite-worker (2 readers)", (options) =>
  openStore({ backend: "sqlite-worker", path: join(dir.path, `store-${++files}.db`), ...options }),
);
storeConformance("sqlite-worker (reads on the writer)", (options) =>
  openStore({ backend: "sqlite-worker", readers: 0, path: join(dir.path, `store-${++files}.db`), ...options }),
);

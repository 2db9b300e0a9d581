/** store.watch() on the sqlite-worker backend: the conformance suite, with readers and without. */
import { afterAll } from "bun:test";
import { openStore } from "../../src/mod.ts";
import { tempDir } from "../support/files.ts";
import { watchConformance } from "../support/watch-conformance.ts";

const dir = tempDir("tradelite-worker-watch-");
afterAll(() => dir.cleanup());
let files = 0;

for (const [name, readers] of [["sqlite-worker (2 readers)", 2], ["sqlite-worker (reads on the writer)", 0]] as const) {
  watchConformance(name, async () => {
    const path = dir.file(`watch-${++files}.db`);
    return { store: await openStore({ backend: "sqlite-worker", readers, path }), location: { backend: "sqlite", path }, raw: { path } };
  });
}

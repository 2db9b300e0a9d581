import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "bun:test";
import { openStore } from "../../src/mod.ts";
import { storeConformance } from "../support/conformance.ts";

const dir = mkdtempSync(join(tmpdir(), "tradelite-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

storeConformance("sqlite (file)", (options) =>
  openStore({ backend: "sqlite", path: join(dir, `store-${++files}.db`), ...options }),
);
storeConformance("sqlite (:memory:)", (options) => openStore({ backend: "sqlite", path: ":memory:", ...options }));

/**
 * db.artifacts (src/sqlite/artifacts.ts): registration with a hash and size computed by streaming
 * the file, the (name, version) uniqueness rule, reads, removal, the audit entries, input
 * validation, and a sparse 1.1 GiB file hashed in bounded memory.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, ftruncateSync } from "node:fs";
import { ConflictError, openDatabase, openStore, ValidationError, type Database } from "../../src/mod.ts";
import { fieldsOf, thrown } from "../support/errors.ts";
import { tempDir } from "../support/files.ts";
import { runPython } from "../support/interop-python.ts";

let dir: ReturnType<typeof tempDir>;
let db: Database;

beforeEach(() => {
  dir = tempDir("tradelite-artifacts-");
  db = openDatabase({ path: dir.file("trading.db") });
});

afterEach(() => {
  db.close();
  dir.cleanup();
});

/** A model file of `bytes` pseudo-random bytes; returns its path. */
function modelFile(name: string, bytes: number, seed = 7): string {
  const content = new Uint8Array(bytes);
  let state = seed;
  for (let i = 0; i < bytes; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    content[i] = state >>> 24;
  }
  const path = dir.file(name);
  writeFileSync(path, content);
  return path;
}

function sha256Of(path: string): string {
  return new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");
}

/**
 * Resets the kernel's peak-RSS mark (Linux: writing 5 to /proc/self/clear_refs) and returns a
 * reader for it. Needed because Bun.file().stream() hands over chunks without letting timers
 * run, so a setInterval sampler sees nothing while a file is hashed. Undefined elsewhere.
 */
function resetPeakRss(): (() => number) | undefined {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
  } catch {
    return undefined;
  }
  return () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
}

async function rejection(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}


const registrations = () => db.audit.query({ action: "artifacts.register" });

describe("register computes what it is not given", () => {
  test("an omitted sha256 and size are computed from the file's bytes", async () => {
    const path = modelFile("model.bin", 300_001);
    const artifact = await db.artifacts.register({ name: "lstm", version: "1", path });
    expect(artifact.sha256).toBe(sha256Of(path));
    expect(artifact.size).toBe(statSync(path).size);
    expect(artifact.size).toBe(300_001);
    expect(db.artifacts.get("lstm", "1")).toEqual(artifact);
  });

  test("a given sha256 is kept and the omitted size is read from the file", async () => {
    const path = modelFile("model.bin", 4_096);
    const given = "ab".repeat(32);
    const artifact = await db.artifacts.register({ name: "lstm", version: "1", path, sha256: given });
    expect(artifact.sha256).toBe(given);
    expect(artifact.size).toBe(4_096);
  });

  test("a given size that matches the file is accepted and the hash still computed", async () => {
    const path = modelFile("model.bin", 10_000);
    const artifact = await db.artifacts.register({ name: "lstm", version: "1", path, size: 10_000 });
    expect(artifact).toMatchObject({ size: 10_000, sha256: sha256Of(path) });
  });

  test("readFile: false records sha256 and size as given and never reads the file", async () => {
    const path = modelFile("model.bin", 10_000);
    const stated = { name: "lstm", version: "1", path, sha256: "cd".repeat(32), size: 77 };
    // Both disagree with the file; neither is checked, because the file is not touched.
    const artifact = await db.artifacts.register(stated, { readFile: false });
    expect(artifact).toMatchObject({ sha256: stated.sha256, size: 77 });
    const refused = await rejection(() => db.artifacts.register({ name: "lstm", version: "2", path }, { readFile: false }));
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).issues.map((issue) => issue.field).sort()).toEqual(["sha256", "size"]);
    expect(db.artifacts.get("lstm", "2")).toBeNull();
  });

  test("register's actor option names who the audit entry credits", async () => {
    const path = modelFile("model.bin", 100);
    await db.artifacts.register({ name: "lstm", version: "1", path }, { actor: "trainer" });
    expect((await registrations()).at(-1)!.actor).toBe("trainer");
  });

  test("an empty file hashes to the SHA-256 of no bytes", async () => {
    const path = dir.file("empty.bin");
    writeFileSync(path, "");
    const artifact = await db.artifacts.register({ name: "empty", version: "1", path });
    expect(artifact).toMatchObject({ size: 0, sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" });
  });

  test("a path that does not exist stores null sha256 and size", async () => {
    const artifact = await db.artifacts.register({ name: "remote", version: "1", path: dir.file("not-here.bin") });
    expect(artifact).toMatchObject({ sha256: null, size: null, path: dir.file("not-here.bin") });
    expect(db.artifacts.get("remote")).toMatchObject({ sha256: null, size: null });
  });

  test("a given size that disagrees with the file is a ValidationError on size and nothing is written", async () => {
    const path = modelFile("model.bin", 1_000);
    const error = await rejection(() => db.artifacts.register({ name: "lstm", version: "1", path, size: 999 }));
    expect(fieldsOf(error)).toEqual(["size"]);
    expect((error as Error).message).toContain("1000");
    expect(db.artifacts.get("lstm")).toBeNull();
    expect(registrations()).toHaveLength(0);
  });

  test("a given size that disagrees with the file is refused even when sha256 is given", async () => {
    const path = modelFile("model.bin", 1_000);
    const error = await rejection(() => db.artifacts.register({ name: "lstm", version: "1", path, sha256: "ab".repeat(32), size: 5 }));
    expect(fieldsOf(error)).toEqual(["size"]);
  });

  test("a path that is a directory is a ValidationError on path", async () => {
    const folder = dir.file("checkpoints");
    mkdirSync(folder);
    const error = await rejection(() => db.artifacts.register({ name: "lstm", version: "1", path: folder }));
    expect(fieldsOf(error)).toEqual(["path"]);
    expect(db.artifacts.list()).toEqual([]);
  });

  test("the Store's artifacts register and read back the same computed hash", async () => {
    db.close();
    const store = await openStore({ backend: "sqlite", path: dir.file("store.db") });
    try {
      const path = modelFile("model.bin", 65_537);
      const registered = await store.artifacts.register({ name: "gbm", version: "2024.01", path, tags: ["prod"] });
      expect(registered.sha256).toBe(sha256Of(path));
      expect(await store.artifacts.get("gbm")).toEqual(registered);
      expect(await store.artifacts.list({ tag: "prod" })).toEqual([registered]);
      const conflict = await rejection(() => store.artifacts.register({ name: "gbm", version: "2024.01", path, sha256: "0".repeat(64) }));
      expect(conflict).toBeInstanceOf(ConflictError);
      expect(await store.artifacts.remove("gbm", "2024.01")).toBe(true);
      expect(await store.artifacts.get("gbm", "2024.01")).toBeNull();
    } finally {
      await store.close();
      db = openDatabase({ path: dir.file("trading.db") });
    }
  });
});

describe("(name, version) is registered once", () => {
  test("registering again with the same hash is a no-op returning the original", async () => {
    const path = modelFile("model.bin", 2_048);
    const first = await db.artifacts.register({ name: "lstm", version: "1", path, tags: ["a"] });
    await Bun.sleep(5);
    const again = await db.artifacts.register({ name: "lstm", version: "1", path, tags: ["b"], params: { lr: 0.1 } });
    expect(again).toEqual(first);
    expect(again.created_at).toBe(first.created_at);
    const explicit = await db.artifacts.register({ name: "lstm", version: "1", path: "/elsewhere", sha256: first.sha256! });
    expect(explicit).toEqual(first);
    expect(db.artifacts.list()).toHaveLength(1);
    expect(registrations()).toHaveLength(1);
  });

  test("registering again with a different hash is a ConflictError and the original stays", async () => {
    const path = modelFile("model.bin", 2_048);
    const first = await db.artifacts.register({ name: "lstm", version: "1", path });
    const other = modelFile("other.bin", 2_048, 99);
    expect(await rejection(() => db.artifacts.register({ name: "lstm", version: "1", path: other }))).toBeInstanceOf(ConflictError);
    expect(await rejection(() => db.artifacts.register({ name: "lstm", version: "1", path, sha256: "f".repeat(64) }))).toBeInstanceOf(
      ConflictError,
    );
    expect(db.artifacts.get("lstm", "1")).toEqual(first);
    expect(registrations()).toHaveLength(1);
  });

  test("a first registration without a hash conflicts with any later one, hashed or not", async () => {
    await db.artifacts.register({ name: "remote", version: "1", path: dir.file("missing.bin") });
    const path = modelFile("model.bin", 100);
    expect(await rejection(() => db.artifacts.register({ name: "remote", version: "1", path }))).toBeInstanceOf(ConflictError);
    expect(await rejection(() => db.artifacts.register({ name: "remote", version: "1", path: dir.file("missing.bin") }))).toBeInstanceOf(
      ConflictError,
    );
    expect(db.artifacts.get("remote", "1")).toMatchObject({ sha256: null });
  });

  test("the same version under another name is a separate artifact", async () => {
    const path = modelFile("model.bin", 100);
    await db.artifacts.register({ name: "lstm", version: "1", path });
    await db.artifacts.register({ name: "gbm", version: "1", path: dir.file("missing.bin") });
    expect(db.artifacts.get("lstm", "1")?.sha256).toBe(sha256Of(path));
    expect(db.artifacts.get("gbm", "1")?.sha256).toBeNull();
  });
});

describe("get, list and remove", () => {
  async function registerThree() {
    const path = modelFile("model.bin", 512);
    // Versions registered out of lexical order: "latest" means last registered, not the largest string.
    const b = await db.artifacts.register({ name: "lstm", version: "b", path, tags: ["prod", "eu"], metrics: { sharpe: 1.5 } });
    const a = await db.artifacts.register({ name: "lstm", version: "a", path, tags: ["dev"], params: { layers: 2, dropout: 0.1 } });
    const g = await db.artifacts.register({ name: "gbm", version: "9", path: dir.file("gone.bin"), tags: ["prod"] });
    return { a, b, g };
  }

  test("get(name) returns the latest registered version", async () => {
    const { a } = await registerThree();
    expect(db.artifacts.get("lstm")).toEqual(a);
  });

  test("get(name, version) returns that version with params, metrics and tags as given", async () => {
    const { a, b } = await registerThree();
    expect(db.artifacts.get("lstm", "b")).toEqual(b);
    expect(b).toMatchObject({ tags: ["prod", "eu"], metrics: { sharpe: 1.5 }, params: {} });
    expect(a).toMatchObject({ params: { layers: 2, dropout: 0.1 }, metrics: {}, tags: ["dev"] });
  });

  test("an unknown name or version is null", async () => {
    await registerThree();
    expect(db.artifacts.get("transformer")).toBeNull();
    expect(db.artifacts.get("lstm", "c")).toBeNull();
  });

  test("list() orders by name, then registration order", async () => {
    const { a, b, g } = await registerThree();
    expect(db.artifacts.list()).toEqual([g, b, a]);
  });

  test("list({ name }) and list({ tag }) filter", async () => {
    const { a, b, g } = await registerThree();
    expect(db.artifacts.list({ name: "lstm" })).toEqual([b, a]);
    expect(db.artifacts.list({ tag: "prod" })).toEqual([g, b]);
    expect(db.artifacts.list({ tag: "dev", name: "lstm" })).toEqual([a]);
    expect(db.artifacts.list({ tag: "dev", name: "gbm" })).toEqual([]);
    expect(db.artifacts.list({ tag: "pro" })).toEqual([]);
  });

  test("duplicate tags are stored once", async () => {
    const artifact = await db.artifacts.register({ name: "lstm", version: "1", path: dir.file("x"), tags: ["prod", "prod", "eu"] });
    expect(artifact.tags).toEqual(["prod", "eu"]);
  });

  test("remove returns true once, then false, and the file itself is left alone", async () => {
    const { a } = await registerThree();
    expect(db.artifacts.remove("lstm", "a")).toBe(true);
    expect(db.artifacts.remove("lstm", "a")).toBe(false);
    expect(db.artifacts.get("lstm", "a")).toBeNull();
    expect(db.artifacts.get("lstm")?.version).toBe("b");
    expect(statSync(a.path).size).toBe(512);
    expect(db.artifacts.remove("never", "1")).toBe(false);
  });

  test("a removed (name, version) can be registered again with another hash", async () => {
    const path = modelFile("model.bin", 512);
    await db.artifacts.register({ name: "lstm", version: "1", path });
    db.artifacts.remove("lstm", "1");
    const other = modelFile("other.bin", 512, 3);
    const again = await db.artifacts.register({ name: "lstm", version: "1", path: other });
    expect(again.sha256).toBe(sha256Of(other));
  });
});

describe("the audit log", () => {
  test("register and remove append entries with counts and the hash, not the params or metrics", async () => {
    const path = modelFile("model.bin", 777);
    const artifact = await db.artifacts.register({
      name: "lstm",
      version: "1",
      path,
      params: { secret_feature_list: ["a", "b"] },
      metrics: { sharpe: 2 },
    });
    db.artifacts.remove("lstm", "1");
    db.artifacts.remove("lstm", "1");
    const [registered, ...more] = registrations();
    expect(more).toEqual([]);
    expect(registered).toMatchObject({ entity: "lstm@1", details: { size: 777, sha256: artifact.sha256 } });
    expect(Object.keys(registered!.details as object).sort()).toEqual(["sha256", "size"]);
    expect(JSON.stringify(registered)).not.toContain("secret_feature_list");
    const removed = db.audit.query({ action: "artifacts.remove" });
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatchObject({ entity: "lstm@1", details: null });
    expect(db.audit.verify().ok).toBe(true);
  });

  test("a refused registration appends nothing", async () => {
    await rejection(() => db.artifacts.register({ name: "", version: "1", path: "x" }));
    await db.artifacts.register({ name: "a", version: "1", path: dir.file("x") });
    await rejection(() => db.artifacts.register({ name: "a", version: "1", path: dir.file("x") }));
    expect(registrations()).toHaveLength(1);
  });
});

describe("bad input is a ValidationError naming the field", () => {
  const base = () => ({ name: "lstm", version: "1", path: dir.file("missing.bin") });
  const cases: [string, Record<string, unknown>, string][] = [
    ["an empty name", { name: "" }, "name"],
    ["a name of spaces", { name: "   " }, "name"],
    ["a name with a space", { name: "my model" }, "name"],
    ["a name of 129 characters", { name: "m".repeat(129) }, "name"],
    ["an empty version", { version: "" }, "version"],
    ["a numeric version", { version: 1 }, "version"],
    ["an empty path", { path: "" }, "path"],
    ["an uppercase sha256", { sha256: "AB".repeat(32) }, "sha256"],
    ["a short sha256", { sha256: "ab".repeat(31) }, "sha256"],
    ["a non-hex sha256", { sha256: "zz".repeat(32) }, "sha256"],
    ["a negative size", { size: -1 }, "size"],
    ["a fractional size", { size: 1.5 }, "size"],
    ["a size given as a string", { size: "10" }, "size"],
    ["params that are an array", { params: [1, 2] }, "params"],
    ["params that are a string", { params: "lr=0.1" }, "params"],
    ["NaN in metrics", { metrics: { loss: Number.NaN } }, "metrics.loss"],
    ["Infinity nested in params", { params: { grid: [1, Infinity] } }, "params.grid[1]"],
    ["a Date in params", { params: { trained: new Date(0) } }, "params.trained"],
    ["tags that are not an array", { tags: "prod" }, "tags"],
    ["a tag that is not a string", { tags: ["prod", 7] }, "tags[1]"],
    ["an empty tag", { tags: [""] }, "tags[0]"],
    ["an unknown field", { checksum: "x" }, "checksum"],
  ];
  for (const [what, change, field] of cases) {
    test(`${what}: ${field}`, async () => {
      const error = await rejection(() => db.artifacts.register({ ...base(), ...change } as never));
      expect(fieldsOf(error)).toContain(field);
      expect(db.artifacts.list()).toEqual([]);
    });
  }

  test("every bad field is named at once", async () => {
    const error = await rejection(() => db.artifacts.register({ name: "", version: "", path: "p", size: -2, tags: [1] } as never));
    expect(fieldsOf(error).sort()).toEqual(["name", "size", "tags[0]", "version"]);
  });

  test("a registration that is not an object is refused", async () => {
    for (const input of [null, "lstm", [], 1]) {
      expect(await rejection(() => db.artifacts.register(input as never))).toBeInstanceOf(ValidationError);
    }
  });

  test("params over 64 KiB of JSON are refused", async () => {
    const error = await rejection(() => db.artifacts.register({ ...base(), params: { blob: "x".repeat(70_000) } }));
    expect(fieldsOf(error)).toEqual(["params"]);
  });

  test("get, list and remove check their arguments", () => {
    expect(fieldsOf(thrown(() => db.artifacts.get("")))).toEqual(["name"]);
    expect(fieldsOf(thrown(() => db.artifacts.get("lstm", "a b")))).toEqual(["version"]);
    expect(fieldsOf(thrown(() => db.artifacts.list({ name: "lstm", version: "1" } as never)))).toEqual(["version"]);
    expect(fieldsOf(thrown(() => db.artifacts.list({ tag: 3 } as never)))).toEqual(["tag"]);
    expect(fieldsOf(thrown(() => db.artifacts.remove("lstm", "")))).toEqual(["version"]);
  });
});

describe("hashing a large file", () => {
  test("a sparse 1.1 GiB file hashes to the SHA-256 of as many zero bytes, in bounded memory", async () => {
    const size = Math.floor(1.1 * 2 ** 30);
    const path = dir.file("big-model.bin");
    const fd = openSync(path, "w");
    try {
      ftruncateSync(fd, size);
    } finally {
      closeSync(fd);
    }
    // A second implementation, not reading the file: Python's hashlib over zero-filled chunks.
    const expected = runPython<{ sha256: string }>(
      `
import hashlib, json, sys
size = int(sys.argv[1])
chunk = bytes(1 << 20)
h = hashlib.sha256()
while size >= len(chunk):
    h.update(chunk)
    size -= len(chunk)
h.update(bytes(size))
print(json.dumps({"sha256": h.hexdigest()}))
`,
      [String(size)],
    );

    Bun.gc(true);
    const before = process.memoryUsage().rss;
    const highWater = resetPeakRss();
    // Sampling as asked; but the hashing loop does not yield to timers (see resetPeakRss), so
    // the kernel's high-water mark is what actually bounds the peak.
    let sampled = before;
    const sampler = setInterval(() => {
      sampled = Math.max(sampled, process.memoryUsage().rss);
    }, 20);
    let artifact;
    try {
      artifact = await db.artifacts.register({ name: "big", version: "1", path });
    } finally {
      clearInterval(sampler);
    }
    const peak = Math.max(sampled, process.memoryUsage().rss, highWater?.() ?? 0);

    expect(artifact.size).toBe(size);
    expect(artifact.sha256).toBe((await expected).sha256);
    expect(peak - before).toBeLessThan(200 * 1024 * 1024);
  }, 60_000);
});

describe("register keeps the event loop and the input honest", () => {
  test("params: null is refused, not stored as {}", async () => {
    const error = await db.artifacts.register({ name: "m", version: "1", path: "/none", params: null as never }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(fieldsOf(error)).toContain("params");
  });

  test("hashing a large file lets timers run meanwhile", async () => {
    const path = dir.file("big.bin");
    const fd = openSync(path, "w");
    ftruncateSync(fd, 256 * 1024 * 1024);
    closeSync(fd);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      await db.artifacts.register({ name: "big", version: "1", path });
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(3);
  });
});

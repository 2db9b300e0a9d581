/**
 * The HTTP API as a real process: `bun scripts/serve.ts` spawned with its environment, its URL
 * read from stdout, its memory read from /proc (Linux), and raw HTTP/1.1 for requests fetch()
 * will not send (a forged Host header).
 */
import { writeFileSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import type { Subprocess } from "bun";

/** The project root: scripts/serve.ts is spawned from here. */
export const PROJECT_ROOT = join(import.meta.dir, "..", "..");

export interface ServerProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  pid: number;
  /** http://127.0.0.1:PORT, as the script printed it. */
  url: string;
  /** Everything the process has written to stdout so far. */
  stdout(): string;
  /** Everything the process has written to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number>;
  /** True once the process has exited. */
  hasExited(): boolean;
}

/** Every server spawned here, so afterAll can kill what is still running. */
const spawned = new Set<Subprocess>();

/** The environment without any TRADELITE_* variable of the caller's, plus `env`. */
export function serverEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("TRADELITE_")) base[key] = value;
  }
  return { ...base, ...env };
}

/** Drains a pipe into a growing string (a full pipe would block the server's console.log). */
export function drain(stream: ReadableStream<Uint8Array>, onText: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  return (async () => {
    for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  })().catch(() => {});
}

/** Spawns `bun scripts/serve.ts ARGS` (no URL wait): for runs that are expected to fail at startup. */
export function spawnServe(env: Record<string, string>, args: string[] = []): Omit<ServerProcess, "url"> & { drained: Promise<void> } {
  const proc = Bun.spawn(["bun", "scripts/serve.ts", ...args], {
    cwd: PROJECT_ROOT,
    env: serverEnv(env),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  spawned.add(proc);
  let out = "";
  let err = "";
  const drained = Promise.all([drain(proc.stdout, (t) => (out += t)), drain(proc.stderr, (t) => (err += t))]).then(() => {});
  let exited = false;
  const exitedPromise = proc.exited.then((code) => {
    exited = true;
    spawned.delete(proc);
    return code;
  });
  return {
    proc,
    pid: proc.pid,
    stdout: () => out,
    stderr: () => err,
    exited: exitedPromise,
    hasExited: () => exited,
    drained,
  };
}

const LISTENING = /tradelite API listening on (http:\/\/[^\s]+)/;

/** Spawns the server and waits (up to `timeoutMs`) for its "listening on" line. */
export async function startServeProcess(env: Record<string, string>, timeoutMs = 20_000, args: string[] = []): Promise<ServerProcess> {
  const server = spawnServe(env, args);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = LISTENING.exec(server.stdout());
    if (match) return { ...server, url: match[1]! };
    if (server.hasExited() || Date.now() > deadline) {
      server.proc.kill("SIGKILL");
      throw new Error(`the server did not start (exited: ${server.hasExited()})\nstdout:\n${server.stdout()}\nstderr:\n${server.stderr()}`);
    }
    await Bun.sleep(20);
  }
}

/** Kills (SIGKILL) every server this module spawned that is still running. */
export async function killAllServers(): Promise<void> {
  const running = [...spawned];
  for (const proc of running) proc.kill("SIGKILL");
  await Promise.all(running.map((proc) => proc.exited));
  spawned.clear();
}

export interface ProcMemory {
  /** Peak resident set size (VmHWM), bytes. */
  peak: number;
  /** Current resident set size (VmRSS), bytes. */
  rss: number;
}

/** VmHWM and VmRSS of a process, from /proc/<pid>/status. */
export function procMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  };
  return { peak: kb("VmHWM"), rss: kb("VmRSS") };
}

/**
 * Resets the process's peak RSS (VmHWM) to its current RSS (Linux: "5" into clear_refs), so the
 * next peak measures one operation, not the largest one since the process started.
 */
export function resetPeak(pid: number): ProcMemory {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
  const memory = procMemory(pid);
  if (memory.peak > memory.rss + 16 * 1024 * 1024) throw new Error(`VmHWM was not reset: ${JSON.stringify(memory)}`);
  return memory;
}

export const MB = 1024 * 1024;

export function mb(bytes: number): string {
  return (bytes / MB).toFixed(1);
}

export interface RawResponse {
  status: number;
  headers: string;
  body: string;
}

/** Sends `request` (a complete HTTP/1.1 request text) over a plain socket and reads the answer. */
export function rawHttp(url: string, request: string, timeoutMs = 10_000): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(request));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("raw HTTP request timed out"));
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const bytes = Buffer.concat(chunks);
      const split = bytes.indexOf("\r\n\r\n");
      if (split < 0) return reject(new Error(`no HTTP answer: ${JSON.stringify(bytes.toString("utf8", 0, 200))}`));
      const headers = bytes.toString("latin1", 0, split);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headers)?.[1]);
      let body: Buffer = bytes.subarray(split + 4);
      if (/^transfer-encoding:\s*chunked/im.test(headers)) body = unchunk(body);
      resolve({ status, headers, body: body.toString("utf8") });
    });
  });
}

/** A chunked transfer-encoded body, decoded. */
export function unchunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const end = bytes.indexOf("\r\n", at);
    if (end < 0) break;
    const size = parseInt(bytes.toString("latin1", at, end), 16);
    if (!(size > 0)) break;
    parts.push(bytes.subarray(end + 2, end + 2 + size));
    at = end + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/**
 * One worker and its queue: requests go out with an id and come back answered, in order. The
 * queue is bounded (a full one refuses at once instead of growing); a worker that dies fails
 * every request it held (none hangs) and is replaced by a fresh one on the same database.
 */
import { StorageError } from "../domain/errors.ts";
import { closedError } from "../domain/store-view.ts";
import { deserializeError, unpackBars, unpackQuotes, type Answer, type HostEvent, type Role } from "./protocol.ts";

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface RestartEvent {
  role: Role;
  index: number;
  reason: string;
  failedRequests: number;
}

export class WorkerConnection {
  readonly role: Role;
  readonly index: number;
  #worker!: Worker;
  #ready!: Promise<void>;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #maxQueue: number;
  readonly #options: Record<string, unknown>;
  readonly #onRestart: (event: RestartEvent) => void;
  #closing = false;
  #restarts = 0;
  #generation = 0;
  /** Whether any worker of this connection has opened the database (the first open must succeed). */
  #everReady = false;
  /** Set while waiting to retry a worker that could not open the database after a restart. */
  #unavailable: StorageError | null = null;
  #settleReady: { resolve: () => void; reject: (error: unknown) => void } | null = null;

  constructor(role: Role, index: number, options: Record<string, unknown>, maxQueue: number, onRestart: (event: RestartEvent) => void) {
    this.role = role;
    this.index = index;
    this.#options = options;
    this.#maxQueue = maxQueue;
    this.#onRestart = onRestart;
    this.#start();
  }

  /** Resolves when the worker has opened its database (rejects with why it could not). */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** Requests sent and not yet answered. */
  get queued(): number {
    return this.#pending.size;
  }

  get restarts(): number {
    return this.#restarts;
  }

  /** Changes each time the worker is replaced: state a worker held (an iteration) is gone then. */
  get generation(): number {
    return this.#generation;
  }

  #start(): void {
    const worker = new Worker(new URL("./host.ts", import.meta.url).href);
    this.#worker = worker;
    let settle!: { resolve: () => void; reject: (error: unknown) => void };
    this.#ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.#settleReady = settle;
    // A caller that never awaits ready must not see an unhandled rejection; requests see it.
    this.#ready.catch(() => {});
    worker.onmessage = (event: MessageEvent<Answer | HostEvent>) => {
      const message = event.data;
      if ("type" in message) {
        this.#settleReady = null;
        if (message.type === "ready") {
          this.#everReady = true;
          settle.resolve();
        } else if (!this.#everReady) {
          settle.reject(deserializeError(message.error));
        } else {
          // A replacement that cannot open the file (moved away for a moment, say): requests
          // are refused while it waits, and it is tried again, less often each time.
          settle.reject(deserializeError(message.error));
          this.#retryLater(worker, deserializeError(message.error).message);
        }
        return;
      }
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      if (!message.ok) {
        pending.reject(deserializeError(message.error));
      } else if (message.packed === "bars") {
        const value = message.value as Float64Array | { packed: Float64Array; done: boolean };
        pending.resolve(value instanceof Float64Array ? unpackBars(value) : { page: unpackBars(value.packed), done: value.done });
      } else if (message.packed === "quotes") {
        pending.resolve(unpackQuotes(message.value as Float64Array));
      } else {
        pending.resolve(message.value);
      }
    };
    worker.addEventListener("close", () => {
      if (this.#worker !== worker) return;
      this.#died(worker, "the worker exited");
    });
    worker.addEventListener("error", (event) => {
      if (this.#worker !== worker) return;
      this.#died(worker, `the worker failed: ${(event as ErrorEvent).message ?? "error"}`);
    });
    worker.postMessage({ type: "init", role: this.role, options: this.#options });
  }

  #retryLater(worker: Worker, reason: string): void {
    if (this.#worker !== worker || this.#closing) return;
    const failed = [...this.#pending.values()];
    this.#pending.clear();
    this.#unavailable = new StorageError("WORKER_UNAVAILABLE", `the ${this.role} worker cannot open the database (${reason}); retrying`);
    for (const pending of failed) pending.reject(this.#unavailable);
    worker.terminate();
    const delay = Math.min(10_000, 250 * 2 ** Math.min(6, this.#restarts));
    setTimeout(() => {
      if (this.#closing) return;
      this.#unavailable = null;
      this.#restarts++;
      this.#generation++;
      this.#start();
    }, delay).unref?.();
  }

  #died(worker: Worker, reason: string): void {
    if (this.#unavailable) return;
    const failed = [...this.#pending.values()];
    this.#pending.clear();
    if (!this.#everReady) {
      // It never opened: the open fails (with this reason) rather than restarting in a loop.
      this.#closing = true;
      this.#settleReady?.reject(new StorageError("WORKER_DIED", `the ${this.role} worker stopped before opening the database (${reason})`));
      for (const pending of failed) pending.reject(new StorageError("WORKER_DIED", `the ${this.role} worker stopped (${reason})`));
      return;
    }
    const error = this.#closing
      ? new StorageError("CLOSED", "the store closed before this request was answered")
      : new StorageError("WORKER_DIED", `the ${this.role} worker stopped while handling this request (${reason}); it has been restarted`);
    for (const pending of failed) pending.reject(error);
    if (this.#closing) return;
    worker.terminate();
    this.#restarts++;
    this.#generation++;
    this.#start();
    this.#onRestart({ role: this.role, index: this.index, reason, failedRequests: failed.length });
  }

  /**
   * Sends one request; rejects at once with QUEUE_FULL when the queue is at its bound, unless
   * `admitted` (the later parts of an operation whose first part was admitted, and cleanups).
   */
  request<T>(op: string, args: unknown[], actor?: string, transfer: ArrayBuffer[] = [], admitted = false): Promise<T> {
    if (this.#closing) return Promise.reject(closedError());
    if (this.#unavailable) return Promise.reject(this.#unavailable);
    if (!admitted && this.#pending.size >= this.#maxQueue) {
      return Promise.reject(
        new StorageError("QUEUE_FULL", `the ${this.role} worker's queue is full (${this.#maxQueue} requests waiting); retry when some have finished`),
      );
    }
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      try {
        this.#worker.postMessage(actor === undefined ? { id, op, args } : { id, op, args, actor }, transfer);
      } catch (error) {
        this.#pending.delete(id);
        reject(error);
      }
    });
  }

  /** Terminates the worker for a fault test: what a crash does, without crashing anything else. */
  kill(): void {
    this.#worker.terminate();
  }

  /** Sends `close` (the database's clean close), then ends the worker. */
  async close(): Promise<void> {
    try {
      await this.#ready;
      // Admitted whatever the queue holds: a clean close (optimize, checkpoint) is never refused.
      await this.request("close", [], undefined, [], true);
    } catch {
      // A worker that never opened, or died, has nothing to close cleanly.
    } finally {
      this.#closing = true;
      this.#worker.terminate();
    }
  }
}

/**
 * One worker and its queue: requests go out with an id and come back answered, in order. The
 * queue is bounded (a full one refuses at once instead of growing); a worker that dies fails
 * every request it held (none hangs) and is replaced by a fresh one on the same database.
 *
 * The queue is kept here, on the caller's thread, and only DISPATCH_WINDOW requests are posted to
 * the worker at a time. A posted message cannot be taken back, so with every request posted at
 * once (as before) 2,500 abandoned resamples were all run, one after another, long after their
 * clients had gone. Here a request whose signal aborts while it waits is dropped at once, one
 * that waited past the deadline is refused (QUEUE_TIMEOUT) when the deadline passes, not when the
 * worker reaches it, and a posted one is told to stop through a flag in shared memory that the
 * worker reads at every page and resampling step (it runs synchronously and cannot receive a
 * message meanwhile). The worker claims a posted request's flag before it starts it (POSTED to
 * STARTED, atomically): one that this side claimed first (cancelled, or past the deadline) is
 * refused here at once, as a waiting one is, and skipped by the worker.
 */
import { StorageError } from "../domain/errors.ts";
import { closedError } from "../domain/store-view.ts";
import type { WorkerThread } from "./priority.ts";
import { deserializeError, SLOT_POSTED, SLOT_STOP, unpackBars, unpackQuotes, type Answer, type HostEvent, type InitMessage, type Role } from "./protocol.ts";

/**
 * Requests posted to a worker at once. With two (the one it runs and the next), a worker whose
 * caller's thread was busy writing answers ran dry after each request and slept: a wake-up on
 * both threads every request (bench:api, one-day reads: 31-45 us of a reader's CPU between two
 * requests, 20-25 with eight, and one eventfd write a request on the server's thread). A posted
 * request can still be cancelled or shed until the worker starts it (the flags below).
 */
export const DISPATCH_WINDOW = 8;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** A request on this side: waiting for a slot, then posted with one until it is answered. */
interface Queued extends Pending {
  id: number;
  message: { id: number; op: string; args: unknown[]; actor?: string; slot?: number };
  transfer: ArrayBuffer[];
  /** Admitted requests (the later parts of an operation, cleanups) have no deadline. */
  admitted: boolean;
  enqueuedAt: number;
  signal?: AbortSignal;
  onAbort?: () => void;
  /** The shared flag it was posted with; -1 while it waits. */
  slot: number;
  /**
   * Answered, refused or cancelled: a waiting entry left in the array is then skipped; a posted
   * one stays in #running, holding its slot, until the worker answers that it skipped it.
   */
  settled: boolean;
  /** Known to have been started by the worker (its flag was found STARTED). */
  started: boolean;
}

/** What a connection has done with its requests, for diagnostics and metrics. */
export interface QueueStats {
  /** Accepted and not yet posted to the worker. */
  waiting: number;
  /** Posted to the worker and not yet answered (at most DISPATCH_WINDOW), less those refused here before it started them. */
  running: number;
  /** Refused at once because the queue was full (QUEUE_FULL). */
  refused: number;
  /** Refused because they waited past the deadline (QUEUE_TIMEOUT). */
  shed: number;
  /** Ended CANCELLED: dropped while waiting, skipped by the worker, or stopped at a page boundary. */
  cancelled: number;
  /** Answered by the worker otherwise (a value or an error). */
  answered: number;
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
  /** Posted and not yet answered, by id. */
  readonly #running = new Map<number, Queued>();
  /** Of those, the ones refused here before the worker started them: they only hold a slot. */
  #skipped = 0;
  /** FIFO from #head; settled entries stay until passed over. */
  #waiting: Queued[] = [];
  #head = 0;
  #waitingCount = 0;
  /** One flag per dispatch slot, shared with the worker: 1 asks the request there to stop. */
  readonly #flags = new Int32Array(new SharedArrayBuffer(DISPATCH_WINDOW * Int32Array.BYTES_PER_ELEMENT));
  readonly #freeSlots: number[] = Array.from({ length: DISPATCH_WINDOW }, (_, slot) => slot);
  #deadlineTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #counts = { refused: 0, shed: 0, cancelled: 0, answered: 0 };
  readonly #maxQueue: number;
  /** How long a request may wait here before it starts; Infinity for no limit. */
  readonly #deadlineMs: number;
  /** How far below the caller's thread the worker runs (src/worker/priority.ts). */
  readonly #niceness: number;
  #thread: WorkerThread | null = null;
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

  constructor(
    role: Role,
    index: number,
    options: Record<string, unknown>,
    tuning: { maxQueue: number; deadlineMs: number; niceness: number },
    onRestart: (event: RestartEvent) => void,
  ) {
    this.role = role;
    this.index = index;
    this.#options = options;
    this.#maxQueue = tuning.maxQueue;
    this.#deadlineMs = tuning.deadlineMs;
    this.#niceness = tuning.niceness;
    this.#onRestart = onRestart;
    this.#start();
  }

  /** Resolves when the worker has opened its database (rejects with why it could not). */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** Requests accepted and not yet answered: waiting here plus running in the worker. */
  get queued(): number {
    return this.#waitingCount + this.#runningCount;
  }

  /** Posted and not yet answered, less those refused here before the worker started them. */
  get #runningCount(): number {
    return this.#running.size - this.#skipped;
  }

  /** Whether a request that is not admitted would be refused with QUEUE_FULL now. */
  get full(): boolean {
    return this.queued >= this.#maxQueue;
  }

  get stats(): QueueStats {
    return { waiting: this.#waitingCount, running: this.#runningCount, ...this.#counts };
  }

  /** The worker's thread: its id and nice value (null where threads have no nice of their own). */
  get thread(): WorkerThread | null {
    return this.#thread;
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
          this.#thread = message.thread;
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
      const pending = this.#running.get(message.id);
      if (!pending) return;
      const refusedHere = pending.settled;
      this.#running.delete(message.id);
      this.#finish(pending);
      this.#freeSlots.push(pending.slot);
      this.#pump();
      // Cancelled or shed before the worker started it: already refused and counted here.
      if (refusedHere) {
        this.#skipped--;
        return;
      }
      const error = message.ok ? undefined : deserializeError(message.error);
      if (error instanceof StorageError && error.code === "CANCELLED") this.#counts.cancelled++;
      else this.#counts.answered++;
      if (!message.ok) {
        pending.reject(error);
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
    worker.postMessage({ type: "init", role: this.role, options: this.#options, flags: this.#flags, niceness: this.#niceness } satisfies InitMessage);
  }

  #retryLater(worker: Worker, reason: string): void {
    if (this.#worker !== worker || this.#closing) return;
    const failed = this.#takeAll();
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
    const failed = this.#takeAll();
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
   * An unadmitted request that waits past the deadline is refused with QUEUE_TIMEOUT; one whose
   * `signal` aborts is dropped while it waits, or told to stop where it runs (CANCELLED).
   */
  request<T>(op: string, args: unknown[], options: { actor?: string; transfer?: ArrayBuffer[]; admitted?: boolean; signal?: AbortSignal } = {}): Promise<T> {
    const { actor, transfer = [], admitted = false, signal } = options;
    if (this.#closing) return Promise.reject(closedError());
    if (this.#unavailable) return Promise.reject(this.#unavailable);
    if (signal?.aborted) {
      this.#counts.cancelled++;
      return Promise.reject(cancelledError());
    }
    if (!admitted && this.full) {
      this.#counts.refused++;
      return Promise.reject(
        new StorageError("QUEUE_FULL", `the ${this.role} worker's queue is full (${this.#maxQueue} requests waiting); retry when some have finished`),
      );
    }
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const entry: Queued = {
        id,
        message: actor === undefined ? { id, op, args } : { id, op, args, actor },
        transfer,
        admitted,
        enqueuedAt: performance.now(),
        resolve: resolve as (value: unknown) => void,
        reject,
        slot: -1,
        settled: false,
        started: false,
      };
      // Anything with `aborted` is a signal to the in-thread store; only an event target can
      // reach a request once it is queued here.
      if (typeof signal?.addEventListener === "function") {
        entry.signal = signal;
        entry.onAbort = () => this.#cancel(entry);
        signal.addEventListener("abort", entry.onAbort, { once: true });
      }
      this.#waiting.push(entry);
      this.#waitingCount++;
      this.#pump();
      if (!admitted) this.#armDeadline();
    });
  }

  /** Posts waiting requests while a slot is free, refusing those already past the deadline. */
  #pump(): void {
    while (this.#freeSlots.length > 0 && this.#waitingCount > 0) {
      const entry = this.#waiting[this.#head++]!;
      if (entry.settled) continue;
      this.#waitingCount--;
      if (this.#expired(entry, performance.now())) {
        this.#shed(entry);
        continue;
      }
      const slot = this.#freeSlots.pop()!;
      Atomics.store(this.#flags, slot, SLOT_POSTED);
      entry.slot = slot;
      entry.message.slot = slot;
      this.#running.set(entry.id, entry);
      try {
        this.#worker.postMessage(entry.message, entry.transfer);
      } catch (error) {
        this.#running.delete(entry.id);
        this.#freeSlots.push(slot);
        this.#finish(entry);
        entry.reject(error);
      }
    }
    this.#compact();
  }

  #expired(entry: Queued, now: number): boolean {
    return !entry.admitted && now - entry.enqueuedAt >= this.#deadlineMs;
  }

  #shed(entry: Queued): void {
    this.#finish(entry);
    this.#counts.shed++;
    entry.reject(
      new StorageError("QUEUE_TIMEOUT", `the request waited ${Math.round(this.#deadlineMs)} ms in the ${this.role} worker's queue without starting; retry shortly`),
    );
  }

  /**
   * One timer for the oldest request not yet started: with one deadline for all and arrivals in
   * order, the requests it passes are a prefix of the unadmitted ones (the posted ones first), so
   * a firing refuses them and arms itself for the next.
   */
  #armDeadline(): void {
    if (this.#deadlineTimer !== null || !Number.isFinite(this.#deadlineMs)) return;
    const now = performance.now();
    let oldest: Queued | undefined;
    for (const entry of this.#running.values()) {
      if (entry.settled || entry.admitted || entry.started) continue;
      if (!this.#expired(entry, now)) {
        if (!oldest || entry.enqueuedAt < oldest.enqueuedAt) oldest = entry;
      } else if (this.#stopPosted(entry)) {
        this.#shed(entry);
      }
    }
    for (let i = this.#head; i < this.#waiting.length && !oldest; i++) {
      const entry = this.#waiting[i]!;
      if (entry.settled || entry.admitted) continue;
      if (!this.#expired(entry, now)) {
        oldest = entry;
        break;
      }
      this.#waitingCount--;
      this.#shed(entry);
    }
    this.#compact();
    if (!oldest) return;
    const timer = setTimeout(() => {
      this.#deadlineTimer = null;
      this.#armDeadline();
    }, Math.max(1, oldest.enqueuedAt + this.#deadlineMs - now));
    // A queue waiting on a worker never keeps the process alive by itself.
    timer.unref?.();
    this.#deadlineTimer = timer;
  }

  /**
   * The caller's signal aborted: drop the request if it waits or the worker has not started it
   * (refused at once), flag it to stop if the worker runs it.
   */
  #cancel(entry: Queued): void {
    if (entry.settled) return;
    if (entry.slot >= 0) {
      if (!this.#stopPosted(entry)) {
        Atomics.store(this.#flags, entry.slot, SLOT_STOP);
        return;
      }
    } else {
      this.#waitingCount--;
    }
    this.#finish(entry);
    this.#counts.cancelled++;
    entry.reject(cancelledError());
    this.#compact();
  }

  /**
   * Claims a posted request before the worker starts it (its flag POSTED to STOP): true when this
   * side got there first, and the worker will skip it; false once it has started.
   */
  #stopPosted(entry: Queued): boolean {
    if (entry.started) return false;
    if (Atomics.compareExchange(this.#flags, entry.slot, SLOT_POSTED, SLOT_STOP) === SLOT_POSTED) {
      this.#skipped++;
      return true;
    }
    entry.started = true;
    return false;
  }

  /** Settled. A posted entry keeps its place in #running (and its slot) until the worker answers. */
  #finish(entry: Queued): void {
    entry.settled = true;
    if (entry.onAbort) entry.signal!.removeEventListener("abort", entry.onAbort);
  }

  /** Drops the passed-over front of the waiting array once it is most of it. */
  #compact(): void {
    // The deadline's timer is left to fire: posted requests not yet started still have deadlines.
    if (this.#waitingCount === 0) {
      this.#waiting = [];
      this.#head = 0;
    } else if (this.#head > 1_024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Every request this connection holds, running or waiting, taken out to be failed. */
  #takeAll(): Pending[] {
    // Posted ones already refused here (cancelled, shed) only held their slots.
    const all: Queued[] = [...this.#running.values()].filter((entry) => !entry.settled);
    this.#running.clear();
    this.#skipped = 0;
    for (let i = this.#head; i < this.#waiting.length; i++) if (!this.#waiting[i]!.settled) all.push(this.#waiting[i]!);
    for (const entry of all) this.#finish(entry);
    this.#waitingCount = 0;
    this.#compact();
    if (this.#deadlineTimer !== null) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = null;
    this.#freeSlots.length = 0;
    for (let slot = 0; slot < DISPATCH_WINDOW; slot++) this.#freeSlots.push(slot);
    return all;
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
      await this.request("close", [], { admitted: true });
    } catch {
      // A worker that never opened, or died, has nothing to close cleanly.
    } finally {
      this.#closing = true;
      this.#worker.terminate();
    }
  }
}

function cancelledError(): StorageError {
  return new StorageError("CANCELLED", "the read was cancelled (its caller went away) before it started");
}

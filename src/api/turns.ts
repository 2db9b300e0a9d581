/**
 * Turns of the event loop for hang-ups. When thousands of clients hang up together (bench:abandon:
 * 2,000 abandoned weekly resamples), each hang-up sets off work on the server's thread: the
 * store's cancellation, the error answer nobody reads, its metrics and access entry. Run as the
 * hang-ups arrive, that is one block of hundreds of ms in which /health waits. `defer` hands the
 * store a signal that aborts on a later turn instead, a few hang-ups per loop iteration, so the
 * loop polls its sockets between them.
 *
 * Arrivals are not turned: measured under steady load (wrk, 32 connections), making requests
 * wait for a turn (setImmediate, or a MessageChannel) cut throughput by half, because Bun's loop
 * can idle in its poll while immediates are pending when timers exist (oven-sh/bun#17725). A
 * hang-up costs nothing to delay: its client is gone.
 */

/** Hang-ups let through in one loop iteration: each is tens of µs of work on the thread. */
export const HANG_UPS_PER_TURN = 32;

export interface Turns {
  /**
   * A signal that aborts, with the same reason, on a turn after `signal` aborts (at once when it
   * already has): what a hang-up sets off waits its turn.
   */
  defer(signal: AbortSignal): AbortSignal;
  /** How many hang-ups wait for their turn now. */
  readonly waiting: number;
}

export function createTurns(perTurn = HANG_UPS_PER_TURN): Turns {
  if (!(Number.isSafeInteger(perTurn) && perTurn > 0)) throw new TypeError(`perTurn must be a positive whole number, got ${perTurn}`);
  const queue: (() => void)[] = [];
  let head = 0;
  let pumping = false;

  function pump(): void {
    pumping = false;
    for (let i = 0; i < perTurn && head < queue.length; i++) queue[head++]!();
    if (head < queue.length) {
      schedule();
    } else {
      queue.length = 0;
      head = 0;
    }
  }

  function schedule(): void {
    if (pumping) return;
    pumping = true;
    setImmediate(pump);
  }

  return {
    defer(signal) {
      const controller = new AbortController();
      if (signal.aborted) {
        controller.abort(signal.reason);
      } else {
        signal.addEventListener(
          "abort",
          () => {
            queue.push(() => controller.abort(signal.reason));
            schedule();
          },
          { once: true },
        );
      }
      return controller.signal;
    },
    get waiting() {
      return queue.length - head;
    },
  };
}

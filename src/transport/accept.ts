/**
 * The accept loop of every listener Portal runs on a Deno socket. When the
 * process (EMFILE) or the system (ENFILE) is out of file descriptors, accept
 * fails while connections wait in the kernel's queue; the loop then pauses,
 * says so, and tries again on its own, so the listener resumes as soon as
 * descriptors are free. (node:net's server stops accepting for good after
 * such an error, without a word: measured on Deno 2.9.6.)
 */
import type { Clock, TimerHandle } from "../util/clock.ts";
import { errorText } from "../util/errors.ts";

/** Options of {@link acceptLoop}. */
export interface AcceptLoopOptions {
  readonly clock: Clock;
  /**
   * Accept failed for want of file descriptors; the loop waits `pauseMs`
   * before the next try. Called for each failure: rate-limit in the callee.
   */
  readonly onExhausted?: (reason: string, pauseMs: number) => void;
  /** Accepting works again after `failures` failed tries. */
  readonly onResumed?: (failures: number) => void;
  /** First pause after a failure; doubled up to `maxPauseMs` while failures go on. Default 50 ms. */
  readonly minPauseMs?: number;
  /** Default 1000 ms. */
  readonly maxPauseMs?: number;
  /**
   * Asked before each accept: a promise makes the loop wait for it first
   * (descriptors of connections just closed are still being released).
   * Default: never wait.
   */
  readonly beforeAccept?: () => Promise<void> | null;
  /**
   * A connection accepted just as the loop was stopped, which the loop closed
   * instead of handing over. Default: nothing more is done.
   */
  readonly onDiscarded?: (conn: Deno.Conn) => void;
}

/** A running accept loop. */
export interface AcceptLoop {
  /** Resolves when the listener is closed (the loop has ended). */
  readonly done: Promise<void>;
  /** Ends a pause at once; used when the listener closes. */
  stop(): void;
  /** Ends a pause at once because a descriptor was freed (a connection closed). */
  wake(): void;
}

/** Whether `e` is the kernel saying there are no file descriptors left. */
export function isOutOfDescriptors(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === "EMFILE" || code === "ENFILE") return true;
  return e instanceof Error && /os error (23|24)\b/.test(e.message);
}

/**
 * Accepts from `listener` until it is closed, handing each connection to
 * `onConn`; pauses and retries on descriptor exhaustion, skips connections
 * that failed between the kernel's accept and ours (ECONNABORTED).
 */
export function acceptLoop<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  onConn: (conn: C) => void,
  options: AcceptLoopOptions,
): AcceptLoop {
  const { clock } = options;
  const minPause = options.minPauseMs ?? 50;
  const maxPause = options.maxPauseMs ?? 1000;
  let stopped = false;
  let wake: (() => void) | null = null;
  let timer: TimerHandle | null = null;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      timer = clock.setTimeout(() => {
        timer = null;
        wake = null;
        resolve();
      }, ms);
    });
  const done = (async () => {
    let failures = 0;
    let pauseMs = minPause;
    while (!stopped) {
      const wait = options.beforeAccept?.();
      if (wait) await wait;
      if (stopped) return;
      let conn: C;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (
          stopped || e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted
        ) {
          return;
        }
        if (isOutOfDescriptors(e)) {
          failures++;
          options.onExhausted?.(errorText(e), pauseMs);
          await pause(pauseMs);
          pauseMs = Math.min(maxPause, pauseMs * 2);
          continue;
        }
        // A connection reset before we took it, or another passing error: never spin on it.
        await pause(minPause);
        continue;
      }
      if (failures > 0) {
        options.onResumed?.(failures);
        failures = 0;
        pauseMs = minPause;
      }
      if (stopped) {
        conn.close();
        options.onDiscarded?.(conn);
        return;
      }
      onConn(conn);
    }
  })();
  const endPause = () => {
    if (timer !== null) clock.clear(timer);
    timer = null;
    const w = wake;
    wake = null;
    w?.();
  };
  return {
    done,
    stop() {
      stopped = true;
      endPause();
    },
    wake: endPause,
  };
}

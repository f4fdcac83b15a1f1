/** Requests this node sent and still waits for (PORTAL02.md §8, §10). */
import { cryptoRandom, type RandomSource } from "../auth/primitives.ts";
import type { PathResponse } from "../paths/types.ts";
import type { Clock, TimerHandle } from "../util/clock.ts";
import { Status } from "../wire/constants.ts";
import type { ResponseMessage } from "../wire/messages.ts";

interface Entry {
  readonly dst: string;
  readonly linkId: number;
  readonly sentAt: number;
  readonly timer: TimerHandle;
  readonly resolve: (r: PathResponse) => void;
}

/** Ids, deadlines (504) and failure of everything pending on a lost link (502). */
export class PendingRequests {
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #entries = new Map<number, Entry>();
  /** Random ids drawn in batches: one system call per 256 requests. */
  readonly #pool = new Uint32Array(256);
  #poolAt = 256;

  /** `random` feeds the ids (§10: unpredictable, so nobody can answer for a guessed one). */
  constructor(clock: Clock, random: RandomSource = cryptoRandom) {
    this.#clock = clock;
    this.#random = random;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Registers a request; the promise settles with its response, 504 or 502. */
  open(
    dst: string,
    linkId: number,
    timeoutMs: number,
  ): { id: number; response: Promise<PathResponse> } {
    // Every id is drawn at random, so one seen on the wire says nothing of the
    // next; it stays unique among the pending ones.
    let id = this.#draw();
    while (id === 0 || this.#entries.has(id)) id = this.#draw();
    let resolve!: (r: PathResponse) => void;
    const response = new Promise<PathResponse>((r) => (resolve = r));
    const timer = this.#clock.setTimeout(() => {
      this.#settle(id, {
        status: Status.Timeout,
        error: `${dst} did not answer within ${timeoutMs / 1000}s`,
      });
    }, timeoutMs);
    this.#entries.set(id, { dst, linkId, sentAt: this.#clock.now(), timer, resolve });
    return { id, response };
  }

  #draw(): number {
    if (this.#poolAt >= this.#pool.length) {
      this.#pool.set(
        new Uint32Array(this.#random(new Uint8Array(this.#pool.byteLength)).slice().buffer),
      );
      this.#poolAt = 0;
    }
    return this.#pool[this.#poolAt++];
  }

  /** Destination and outgoing link of a pending request, or undefined. */
  get(id: number): { readonly dst: string; readonly linkId: number } | undefined {
    return this.#entries.get(id);
  }

  /** Settles request `id` with `response`; returns the round-trip ms, or null if unknown. */
  resolve(id: number, response: PathResponse): number | null {
    const e = this.#entries.get(id);
    if (!e) return null;
    this.#settle(id, response);
    return this.#clock.now() - e.sentAt;
  }

  /**
   * Settles a pending request with a RESPONSE that arrived on link `linkId`
   * from neighbour `neighbour` (§10): only on the link the request left on,
   * and only from its destination or, for a failure, from that link's own
   * neighbour speaking in its own name (a relay's 502/508). Returns the
   * destination and round trip when the answer came from the destination
   * itself, `relay` when a relay failed it, or null when it is not accepted.
   */
  answer(
    linkId: number,
    neighbour: string,
    res: ResponseMessage,
  ): { readonly from: "dst"; readonly dst: string; readonly rttMs: number } | {
    readonly from: "relay";
  } | null {
    const e = this.#entries.get(res.id);
    if (e === undefined || e.linkId !== linkId) return null;
    const fromDst = res.src === e.dst;
    if (!fromDst && !(res.src === neighbour && res.status >= 400)) return null;
    const ok = res.status >= 200 && res.status < 300;
    this.#settle(
      res.id,
      ok ? { status: res.status, body: res.body } : {
        status: res.status,
        error: res.error ?? `status ${res.status}`,
      },
    );
    return fromDst ? { from: "dst", dst: e.dst, rttMs: this.#clock.now() - e.sentAt } : {
      from: "relay",
    };
  }

  /** Fails at once every request that left on `linkId` (never re-sent: at-most-once). */
  failLink(linkId: number, error: string): number {
    let n = 0;
    for (const [id, e] of this.#entries) {
      if (e.linkId !== linkId) continue;
      this.#settle(id, { status: Status.Unreachable, error: error.replace("{dst}", e.dst) });
      n++;
    }
    return n;
  }

  /** Fails everything (node stopping). */
  failAll(error: string): void {
    for (const id of [...this.#entries.keys()]) {
      this.#settle(id, { status: Status.Unreachable, error });
    }
  }

  #settle(id: number, response: PathResponse): void {
    const e = this.#entries.get(id);
    if (!e) return;
    this.#entries.delete(id);
    this.#clock.clear(e.timer);
    e.resolve(response);
  }
}

/**
 * Runs the §3 handshake state machines over a framed connection: timers,
 * logging and the hand-over of an authenticated link. The hand-over happens
 * synchronously inside the frame that completed the handshake, so no later
 * frame can reach the connection before its new owner has set its handlers.
 */
import type { PeerConfig } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import { DialerHandshake, ListenerHandshake, type OutFrame, type Step } from "../auth/handshake.ts";
import { type CloseReason, describeClose, type FrameConnection } from "../transport/connection.ts";
import type { Clock, TimerHandle } from "../util/clock.ts";
import { errorText } from "../util/errors.ts";
import { MsgType } from "../wire/mod.ts";

/** What both sides of the handshake need. */
export interface AuthContext {
  /** This node's name. */
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** `auth_timeout`: how long the other side may take. */
  readonly authTimeoutMs: number;
  /** Whether this node speaks TLS (`tls`), for the hint when a dial hears nothing. Default true. */
  readonly tls?: boolean;
  /** The listener turned a dialer away: the refusal's code, or `auth_timeout` (metrics). */
  readonly onRefused?: (reason: string) => void;
}

/** What the listener decides about a dialer whose key is right. */
export type Admission =
  | { readonly kind: "accept" }
  | {
    readonly kind: "refuse";
    readonly code: "name_in_use" | "wrong_certificate";
    readonly reason: string;
  };

/** Callbacks of {@link authenticateInbound}. */
export interface InboundHandlers {
  /** The key expected from a dialer calling itself `peer`. */
  keyFor(peer: string): string;
  /**
   * Decides about a dialer that proved the key for `peer`: the name may be held
   * by a live link (§3, 409) or not match its certificate (§11, 401). May wait,
   * briefly (a probe of an older link); the dialer waits for the verdict meanwhile.
   */
  admit(peer: string): Admission | Promise<Admission>;
  /** Authenticated: the connection now belongs to `peer`; `rttMs` is challenge-to-answer. */
  onAccepted(peer: string, rttMs: number): void;
  /** The handshake is over, whichever way it ended. */
  onSettled(): void;
}

/** Listener side: challenge, verify, admit, then 200 — or 401/409 and close; closes after `auth_timeout`. */
export function authenticateInbound(
  conn: FrameConnection,
  remote: string,
  ctx: AuthContext,
  handlers: InboundHandlers,
): void {
  const { clock, logger: log } = ctx;
  const hs = new ListenerHandshake({ name: ctx.name, keyFor: handlers.keyFor });
  let timer: TimerHandle | null = clock.setTimeout(() => {
    timer = null;
    ctx.onRefused?.("auth_timeout");
    log.warn("auth refused", {
      remote,
      reason: `no valid auth response within ${ctx.authTimeoutMs / 1000}s`,
    });
    conn.close({ kind: "local", why: "auth timeout" });
  }, ctx.authTimeoutMs);
  let settled = false;
  const settle = () => {
    if (timer !== null) clock.clear(timer);
    timer = null;
    if (!settled) handlers.onSettled();
    settled = true;
  };
  const refused = (step: Step) => {
    settle();
    sendAll(conn, step.send);
    if (step.kind !== "refused") return;
    ctx.onRefused?.(step.code);
    // A refused name is logged by whoever decided it, with both names or addresses.
    if (step.code !== "name_in_use" && step.code !== "wrong_certificate") {
      log.warn("auth refused", { remote, code: step.code, reason: step.reason });
    }
    conn.flushAndClose({ kind: "local", why: `auth refused: ${step.reason}` });
  };
  const decide = (peer: string, admission: Admission, rttMs: number) => {
    if (!conn.isOpen) return;
    if (admission.kind === "refuse") {
      refused(hs.refuse(admission.code, admission.reason));
      return;
    }
    const step = hs.accept();
    settle();
    sendAll(conn, step.send);
    handlers.onAccepted(peer, rttMs);
  };
  conn.start({
    onFrame: (frame) => {
      const step = hs.receive(frame);
      if (step.kind === "refused") {
        refused(step);
        return;
      }
      if (step.kind !== "verified") return;
      // The dialer has done its part; from here only our own decision is pending.
      if (timer !== null) clock.clear(timer);
      timer = null;
      const rttMs = clock.now() - challengedAt;
      let admission: Admission | Promise<Admission>;
      try {
        admission = handlers.admit(step.peer);
      } catch (e) {
        conn.close({ kind: "local", why: `admission failed: ${errorText(e)}` });
        return;
      }
      if (admission instanceof Promise) {
        admission.then(
          (a) => decide(step.peer, a, rttMs),
          (e) => conn.close({ kind: "local", why: `admission failed: ${errorText(e)}` }),
        );
      } else {
        decide(step.peer, admission, rttMs);
      }
    },
    onClose: (reason: CloseReason) => {
      if (!settled && timer !== null) {
        log.info("connection closed before authentication", {
          remote,
          reason: describeClose(reason),
        });
      }
      settle();
    },
  });
  const challengedAt = clock.now();
  conn.send(MsgType.AuthChallenge, hs.start().body);
}

/** An authenticated outbound link, handed over inside the frame that completed it. */
export interface Authenticated {
  readonly conn: FrameConnection;
  readonly remote: string;
  /** Answer-to-verdict round trip: the link's first latency figure. */
  readonly rttMs: number;
}

/**
 * Dialer side: answer the challenge, wait for 200. Resolves after
 * `onAuthenticated` ran; rejects (and closes) on refusal, timeout, abort or close.
 */
export function authenticateOutbound(
  conn: FrameConnection,
  remote: string,
  peer: PeerConfig,
  ctx: AuthContext,
  signal: AbortSignal,
  onAuthenticated: (a: Authenticated) => void,
): Promise<void> {
  const { clock, logger: log } = ctx;
  return new Promise((resolve, reject) => {
    const hs = new DialerHandshake({ name: ctx.name, key: peer.key, expectedPeer: peer.name });
    let heard = false;
    // A plain dialer at a TLS listener hears nothing (no challenge) and is closed or left
    // waiting: say so, since the log of this side shows nothing else.
    const hint = () =>
      heard || ctx.tls !== false ? "" : " (no challenge came: this node has tls = false; " +
        "if the peer's listener uses TLS, set the same tls on both nodes)";
    const timer = clock.setTimeout(() => {
      conn.close({
        kind: "local",
        why: `no auth verdict within ${ctx.authTimeoutMs / 1000}s${hint()}`,
      });
    }, ctx.authTimeoutMs);
    const onAbort = () => conn.close({ kind: "local", why: "dial cancelled" });
    signal.addEventListener("abort", onAbort, { once: true });
    let answeredAt = clock.now();
    const finish = () => {
      clock.clear(timer);
      signal.removeEventListener("abort", onAbort);
    };
    conn.start({
      onFrame: (frame) => {
        heard = true;
        const step = hs.receive(frame);
        sendAll(conn, step.send);
        if (step.kind === "continue") answeredAt = clock.now();
        if (step.kind === "accepted") {
          finish();
          onAuthenticated({ conn, remote, rttMs: clock.now() - answeredAt });
          resolve();
        } else if (step.kind === "refused") {
          finish();
          log.warn("authentication failed", {
            peer: peer.name,
            code: step.code,
            reason: step.reason,
          });
          conn.close({ kind: "local", why: step.reason });
          reject(new Error(`authentication with ${peer.name} failed: ${step.reason}`));
        }
      },
      onClose: (reason) => {
        finish();
        reject(new Error(describeClose(reason) + (reason.kind === "local" ? "" : hint())));
      },
    });
  });
}

function sendAll(conn: FrameConnection, frames: readonly OutFrame[]): void {
  for (const f of frames) conn.send(f.type, f.body);
}

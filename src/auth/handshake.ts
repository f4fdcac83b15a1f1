/**
 * The challenge-response handshake (PORTAL02.md §3) as two pure state
 * machines, one per role. They take frames and return frames to send plus an
 * outcome; anything unexpected ends in `refused`: they fail closed.
 */
import {
  decodeAuthResponse,
  decodeChallenge,
  decodeResponse,
  encodeAuthResponse,
  encodeJson,
  type Frame,
  MsgType,
  Status,
  type WireError,
} from "../wire/mod.ts";
import {
  authDigest,
  cryptoRandom,
  isValidNodeName,
  newNonce,
  type RandomSource,
  verifyDigest,
} from "./primitives.ts";

/** A frame to send. */
export interface OutFrame {
  readonly type: MsgType;
  readonly body: Uint8Array;
}

/** Why a handshake failed. */
export type RefusalCode =
  | "unexpected_frame"
  | "malformed"
  | "bad_name"
  | "bad_digest"
  | "unauthorized"
  | "wrong_peer"
  /** §3: another live connection already holds the name (409). */
  | "name_in_use"
  /** §11: the name is not the one the client certificate gives. */
  | "wrong_certificate";

/** The result of feeding one frame. */
export type Step =
  | { readonly kind: "continue"; readonly send: readonly OutFrame[] }
  /** Listener only: the digest is right; the caller decides with `accept()` or `refuse()`. */
  | { readonly kind: "verified"; readonly peer: string; readonly send: readonly OutFrame[] }
  | { readonly kind: "accepted"; readonly peer: string; readonly send: readonly OutFrame[] }
  | {
    readonly kind: "refused";
    readonly code: RefusalCode;
    readonly reason: string;
    readonly send: readonly OutFrame[];
  };

type ListenerState =
  | { readonly kind: "new" }
  | { readonly kind: "awaiting_response"; readonly nonce: Uint8Array }
  | { readonly kind: "verified"; readonly peer: string }
  | { readonly kind: "accepted"; readonly peer: string }
  | { readonly kind: "refused"; readonly code: RefusalCode };

/** Options of {@link ListenerHandshake}. */
export interface ListenerHandshakeOptions {
  /** This node's name, sent in the 200 response. */
  readonly name: string;
  /** The key expected from a dialer calling itself `peer`. */
  readonly keyFor: (peer: string) => string;
  /** Nonce source; default crypto.getRandomValues. */
  readonly random?: RandomSource;
}

const UNAUTHORIZED: OutFrame = {
  type: MsgType.Response,
  body: encodeJson({ id: 0, status: Status.Unauthorized, message: "unauthorized" }),
};

const NAME_IN_USE: OutFrame = {
  type: MsgType.Response,
  body: encodeJson({ id: 0, status: Status.Conflict, message: "name in use" }),
};

/** The listening side: challenge, then check the digest and name. */
export class ListenerHandshake {
  #state: ListenerState = { kind: "new" };
  readonly #opts: ListenerHandshakeOptions;

  constructor(options: ListenerHandshakeOptions) {
    this.#opts = options;
  }

  get state(): ListenerState["kind"] {
    return this.#state.kind;
  }

  /** The challenge to send right after the TLS handshake. */
  start(): OutFrame {
    if (this.#state.kind !== "new") throw new Error("handshake already started");
    const nonce = newNonce(this.#opts.random ?? cryptoRandom);
    this.#state = { kind: "awaiting_response", nonce };
    return { type: MsgType.AuthChallenge, body: nonce };
  }

  /** Feeds one frame received before authentication. */
  receive(frame: Frame): Step {
    const state = this.#state;
    if (state.kind !== "awaiting_response") {
      return this.#refuse("unexpected_frame", `frame received in state ${state.kind}`, false);
    }
    if (frame.type !== MsgType.AuthResponse) {
      // §2: any other frame before authentication closes without an answer.
      return this.#refuse(
        "unexpected_frame",
        `frame type 0x${frame.type.toString(16)} before authentication`,
        false,
      );
    }
    let digest: Uint8Array;
    let name: string;
    try {
      ({ digest, name } = decodeAuthResponse(frame.body));
    } catch (e) {
      return this.#refuse("malformed", (e as WireError).message, true);
    }
    if (name === this.#opts.name) {
      return this.#refuse("bad_name", `remote node uses this node's own name '${name}'`, true);
    }
    if (!isValidNodeName(name)) {
      return this.#refuse(
        "bad_name",
        `invalid node name ${JSON.stringify(name.slice(0, 80))}`,
        true,
      );
    }
    if (!verifyDigest(state.nonce, this.#opts.keyFor(name), digest)) {
      return this.#refuse("bad_digest", `wrong key from a node calling itself '${name}'`, true);
    }
    this.#state = { kind: "verified", peer: name };
    return { kind: "verified", peer: name, send: [] };
  }

  /** After `verified`: admits the dialer with the 200 verdict. */
  accept(): Step {
    const state = this.#state;
    if (state.kind !== "verified") throw new Error(`accept() in state ${state.kind}`);
    this.#state = { kind: "accepted", peer: state.peer };
    const ok = encodeJson({ id: 0, status: Status.OK, message: "OK", node: this.#opts.name });
    return { kind: "accepted", peer: state.peer, send: [{ type: MsgType.Response, body: ok }] };
  }

  /** After `verified`: refuses a right key for another reason (401 or 409 "name in use"). */
  refuse(code: "name_in_use" | "wrong_certificate", reason: string): Step {
    if (this.#state.kind !== "verified") throw new Error(`refuse() in state ${this.#state.kind}`);
    this.#state = { kind: "refused", code };
    return {
      kind: "refused",
      code,
      reason,
      send: [code === "name_in_use" ? NAME_IN_USE : UNAUTHORIZED],
    };
  }

  #refuse(code: RefusalCode, reason: string, answer401: boolean): Step {
    this.#state = { kind: "refused", code };
    return { kind: "refused", code, reason, send: answer401 ? [UNAUTHORIZED] : [] };
  }
}

type DialerState =
  | { readonly kind: "awaiting_challenge" }
  | { readonly kind: "awaiting_verdict" }
  | { readonly kind: "accepted"; readonly peer: string }
  | { readonly kind: "refused"; readonly code: RefusalCode };

/** Options of {@link DialerHandshake}. */
export interface DialerHandshakeOptions {
  /** This node's name, sent after the digest. */
  readonly name: string;
  /** The key for the peer being dialed. */
  readonly key: string;
  /** The peer we meant to reach; a listener answering with another name is refused. */
  readonly expectedPeer: string;
}

/** The dialing side: answer the challenge, then wait for 200. */
export class DialerHandshake {
  #state: DialerState = { kind: "awaiting_challenge" };
  readonly #opts: DialerHandshakeOptions;

  constructor(options: DialerHandshakeOptions) {
    this.#opts = options;
  }

  get state(): DialerState["kind"] {
    return this.#state.kind;
  }

  /** Feeds one frame received before authentication. */
  receive(frame: Frame): Step {
    const state = this.#state;
    switch (state.kind) {
      case "awaiting_challenge": {
        if (frame.type !== MsgType.AuthChallenge) {
          return this.#refuse(
            "unexpected_frame",
            `expected a challenge, got type 0x${frame.type.toString(16)}`,
          );
        }
        let nonce: Uint8Array;
        try {
          nonce = decodeChallenge(frame.body);
        } catch (e) {
          return this.#refuse("malformed", (e as WireError).message);
        }
        this.#state = { kind: "awaiting_verdict" };
        const body = encodeAuthResponse(authDigest(nonce, this.#opts.key), this.#opts.name);
        return { kind: "continue", send: [{ type: MsgType.AuthResponse, body }] };
      }
      case "awaiting_verdict": {
        if (frame.type !== MsgType.Response) {
          return this.#refuse(
            "unexpected_frame",
            `expected the auth verdict, got type 0x${frame.type.toString(16)}`,
          );
        }
        let verdict;
        try {
          verdict = decodeResponse(frame.body);
        } catch (e) {
          return this.#refuse("malformed", (e as WireError).message);
        }
        if (verdict.status === Status.Unauthorized) {
          return this.#refuse("unauthorized", "the peer refused our key (401)");
        }
        if (verdict.status === Status.Conflict) {
          return this.#refuse(
            "name_in_use",
            `the peer already has a live connection from a node named '${this.#opts.name}' (409): ` +
              "two nodes share this name (a copied node.ini?)",
          );
        }
        if (verdict.status !== Status.OK || verdict.id !== 0) {
          return this.#refuse("malformed", `unexpected auth verdict status ${verdict.status}`);
        }
        if (verdict.node !== this.#opts.expectedPeer) {
          return this.#refuse(
            "wrong_peer",
            `dialed '${this.#opts.expectedPeer}' but the listener says it is '${
              String(verdict.node)
            }'`,
          );
        }
        this.#state = { kind: "accepted", peer: verdict.node };
        return { kind: "accepted", peer: verdict.node, send: [] };
      }
      default:
        return this.#refuse("unexpected_frame", `frame received in state ${state.kind}`);
    }
  }

  #refuse(code: RefusalCode, reason: string): Step {
    this.#state = { kind: "refused", code };
    return { kind: "refused", code, reason, send: [] };
  }
}

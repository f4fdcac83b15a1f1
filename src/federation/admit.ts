/**
 * What a node does with one REQUEST, RESPONSE or EVENT frame from an
 * authenticated neighbour, before routing: decode it (PORTAL02.md §2, §4) and
 * check that its sender may speak in the name it gives (§5). Pure: the caller
 * acts on the verdict.
 */
import { errorText } from "../util/errors.ts";
import {
  decodeEvent,
  decodeJsonObject,
  decodeRequest,
  decodeResponse,
  type EventMessage,
  type Frame,
  MsgType,
  type RequestMessage,
  type ResponseMessage,
  WireError,
} from "../wire/mod.ts";

/** A decoded message of the federation. */
export type Message = RequestMessage | ResponseMessage | EventMessage;

/** The verdict on one frame. */
export type Admission =
  /** Well-formed, and its sender may send it: route it. */
  | { readonly kind: "message"; readonly msg: Message; readonly src: string; readonly dst: string }
  /** A §2 violation: close the link without answering. */
  | { readonly kind: "close"; readonly error: WireError }
  /** A JSON object with a bad field: answer 400 to `answerTo` when set, else drop it. */
  | {
    readonly kind: "malformed";
    readonly error: WireError;
    readonly answerTo: { readonly src: string; readonly id: number } | null;
  }
  /** Well-formed but not acceptable from this neighbour: drop and count it. */
  | { readonly kind: "drop"; readonly why: string };

/** Who the frame came from. */
export interface AdmitContext {
  /** This node's name. */
  readonly localName: string;
  /** The neighbour's authenticated name. */
  readonly neighbour: string;
  /** Whether the neighbour has a [peer:NAME] section here (a relay this node trusts). */
  readonly trusted: boolean;
}

/** Decodes `frame` and applies §2/§5's rules for who may send what. */
export function admit(frame: Frame, ctx: AdmitContext): Admission {
  let msg: Message;
  try {
    msg = frame.type === MsgType.Request
      ? decodeRequest(frame.body)
      : frame.type === MsgType.Response
      ? decodeResponse(frame.body)
      : decodeEvent(frame.body);
  } catch (e) {
    const error = e instanceof WireError ? e : new WireError("bad_json", errorText(e));
    // §2 closes only for bodies that are not JSON objects; a well-formed
    // object with a bad field is answered (requests) or dropped.
    if (error.code !== "bad_field") return { kind: "close", error };
    return { kind: "malformed", error, answerTo: answerable(frame, ctx) };
  }
  const { src, dst } = msg;
  if (typeof src !== "string" || typeof dst !== "string" || src === "" || dst === "") {
    const error = new WireError(
      "bad_field",
      "message without 'src' and 'dst' after authentication",
    );
    return { kind: "close", error };
  }
  if (src === ctx.localName) return { kind: "drop", why: "message claims to come from this node" };
  if (src !== ctx.neighbour && !ctx.trusted) {
    return { kind: "drop", why: `forged src: '${ctx.neighbour}' may not speak for '${src}'` };
  }
  return { kind: "message", msg, src, dst };
}

/** A malformed REQUEST is answered when its id and src are usable and its sender may use that src. */
function answerable(frame: Frame, ctx: AdmitContext): { src: string; id: number } | null {
  if (frame.type !== MsgType.Request) return null;
  const { id, src } = decodeJsonObject(frame.body);
  const ok = typeof id === "number" && Number.isSafeInteger(id) && id >= 0 &&
    typeof src === "string" && src !== "" && (src === ctx.neighbour || ctx.trusted);
  return ok ? { src: src as string, id: id as number } : null;
}

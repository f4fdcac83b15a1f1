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
  Methods,
  MsgType,
  type RequestMessage,
  type ResponseMessage,
  WireError,
} from "../wire/mod.ts";
import {
  scanFields,
  type ScannedFields,
  scannedNumber,
  scannedString,
  type ScanValue,
} from "../wire/scan.ts";

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

/** A message read by the scanner: what relaying it needs, and where its fields lie. */
export interface ScannedMessage {
  readonly src: string;
  readonly dst: string;
  /** The request or response id; -1 for an EVENT. */
  readonly id: number;
  /** A REQUEST's ttl as sent (undefined: the default). */
  readonly ttl: number | undefined;
  /** A REQUEST's timeout_ms (undefined: not sent). */
  readonly timeoutMs: number | undefined;
  /** A RESPONSE's status (0 otherwise). */
  readonly status: number;
  readonly fields: ScannedFields;
}

/**
 * The relay's fast path: reads `frame` with the scanner and returns it when
 * it is well-formed (§2, §4), addressed to another node, and sent by a
 * neighbour that may speak for its `src` (§5). Null means "decode it with
 * {@link admit}": a message for this node, anything the scanner does not
 * read, and every refusal, which the full path words and counts.
 */
export function scanForRelay(frame: Frame, ctx: AdmitContext): ScannedMessage | null {
  const f = scanFields(frame.body);
  if (f === null) return null;
  const body = frame.body;
  const src = nonEmpty(body, f.src);
  const dst = nonEmpty(body, f.dst);
  if (src === null || dst === null || dst === ctx.localName || src === ctx.localName) return null;
  if (src !== ctx.neighbour && !ctx.trusted) return null;
  let id = -1;
  let ttl: number | undefined;
  let timeoutMs: number | undefined;
  let status = 0;
  if (frame.type === MsgType.Request) {
    const idv = uintOf(body, f.id);
    const t = f.ttl === undefined ? undefined : uintOf(body, f.ttl);
    const tm = f.timeout_ms === undefined ? undefined : uintOf(body, f.timeout_ms);
    if (idv === null || t === null || tm === null) return null;
    if (!isMethod(body, f.method) || !startsWithSlash(body, f.path)) return null;
    if (f.args !== undefined && f.args.kind !== "object") return null;
    id = idv;
    ttl = t;
    timeoutMs = tm;
  } else if (frame.type === MsgType.Response) {
    const idv = uintOf(body, f.id);
    const st = uintOf(body, f.status);
    if (idv === null || st === null || st < 100 || st > 599) return null;
    if (f.error !== undefined && f.error.kind !== "string") return null;
    id = idv;
    status = st;
  } else if (nonEmpty(body, f.topic) === null) return null;
  return { src, dst, id, ttl, timeoutMs, status, fields: f };
}

function nonEmpty(body: Uint8Array, v: ScanValue | undefined): string | null {
  if (v === undefined || v.kind !== "string" || v.end - v.start <= 2) return null;
  return scannedString(body, v);
}

function uintOf(body: Uint8Array, v: ScanValue | undefined): number | null {
  if (v === undefined || v.kind !== "number") return null;
  const n = scannedNumber(body, v);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

const METHOD_BYTES = Methods.map((m) => `"${m}"`);

function isMethod(body: Uint8Array, v: ScanValue | undefined): boolean {
  if (v === undefined || v.kind !== "string") return false;
  // An escaped method (legal, never sent by Portal) goes the full way.
  for (const m of METHOD_BYTES) {
    if (m.length !== v.end - v.start) continue;
    let i = 0;
    while (i < m.length && body[v.start + i] === m.charCodeAt(i)) i++;
    if (i === m.length) return true;
  }
  return false;
}

function startsWithSlash(body: Uint8Array, v: ScanValue | undefined): boolean {
  return v !== undefined && v.kind === "string" && body[v.start + 1] === 0x2f;
}

/** How far into a body the "addressed here" hint looks (Portal writes `dst` third). */
const DST_HINT_BYTES = 160;

/** {@link scanForRelay} for one node, skipping the scan for messages plainly addressed to it. */
export class RelayScanner {
  readonly #dstHere: Uint8Array;

  constructor(localName: string) {
    this.#dstHere = new TextEncoder().encode(`"dst":${JSON.stringify(localName)}`);
  }

  /** The message to relay from its bytes, or null: decode it with {@link admit}. */
  scan(frame: Frame, ctx: AdmitContext): ScannedMessage | null {
    return this.#addressedHere(frame.body) ? null : scanForRelay(frame, ctx);
  }

  /**
   * Whether the body's first bytes say `"dst":"<this node>"`, as Portal writes
   * it. A hint only: the full decode decides, so a body that merely contains
   * the text costs a scan less.
   */
  #addressedHere(body: Uint8Array): boolean {
    const p = this.#dstHere;
    const last = Math.min(body.byteLength, DST_HINT_BYTES) - p.byteLength;
    outer: for (let i = 0; i <= last; i++) {
      for (let k = 0; k < p.byteLength; k++) if (body[i + k] !== p[k]) continue outer;
      return true;
    }
    return false;
  }
}

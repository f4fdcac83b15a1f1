/** Body codecs for each frame type, with validation (PORTAL02.md §2–§4). */
import { DIGEST_BYTES, MAX_PING_BYTES, Methods, NONCE_BYTES } from "./constants.ts";
import { WireError } from "./errors.ts";
import type { EventMessage, JsonObject, RequestMessage, ResponseMessage } from "./messages.ts";

const encoder = new TextEncoder();
// ignoreBOM keeps a leading BOM in the text, so a name "\uFEFFoffice" fails the name rule.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Serialises a REQUEST, RESPONSE or EVENT body as UTF-8 JSON. */
export function encodeJson(message: RequestMessage | ResponseMessage | EventMessage): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

/** Parses a JSON body that must be an object (§2). */
export function decodeJsonObject(body: Uint8Array): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(body));
  } catch (e) {
    throw new WireError("bad_json", `body is not UTF-8 JSON: ${(e as Error).message}`);
  }
  if (!isObject(value)) throw new WireError("not_an_object", "JSON body is not an object");
  return value;
}

/** Decodes and validates a REQUEST body. */
export function decodeRequest(body: Uint8Array): RequestMessage {
  const o = decodeJsonObject(body);
  const method = o.method;
  if (typeof method !== "string" || !(Methods as readonly string[]).includes(method)) {
    throw field("method", "GET, LIST or CALL");
  }
  if (typeof o.path !== "string" || !o.path.startsWith("/")) {
    throw field("path", "an absolute path");
  }
  if (o.args !== undefined && !isObject(o.args)) throw field("args", "an object");
  if (o.ttl !== undefined && !isUint(o.ttl)) throw field("ttl", "an unsigned integer");
  if (o.timeout_ms !== undefined && !isUint(o.timeout_ms)) {
    throw field("timeout_ms", "an unsigned integer");
  }
  return { ...o, id: uint(o, "id"), src: str(o, "src"), dst: str(o, "dst") } as RequestMessage;
}

/** Decodes and validates a RESPONSE body. `src`/`dst` are absent only on the auth reply. */
export function decodeResponse(body: Uint8Array): ResponseMessage {
  const o = decodeJsonObject(body);
  const status = o.status;
  if (!isUint(status) || status < 100 || status > 599) throw field("status", "an HTTP status");
  if (o.src !== undefined && typeof o.src !== "string") throw field("src", "a string");
  if (o.dst !== undefined && typeof o.dst !== "string") throw field("dst", "a string");
  if (o.error !== undefined && typeof o.error !== "string") throw field("error", "a string");
  return { ...o, id: uint(o, "id"), status } as ResponseMessage;
}

/** Decodes and validates an EVENT body. */
export function decodeEvent(body: Uint8Array): EventMessage {
  const o = decodeJsonObject(body);
  return { ...o, src: str(o, "src"), dst: str(o, "dst"), topic: str(o, "topic") } as EventMessage;
}

/** Checks an AUTH_CHALLENGE body: exactly 32 bytes. */
export function decodeChallenge(body: Uint8Array): Uint8Array {
  if (body.byteLength !== NONCE_BYTES) {
    throw new WireError(
      "bad_auth_body",
      `challenge must be ${NONCE_BYTES} bytes, got ${body.byteLength}`,
    );
  }
  return body.slice();
}

/** Builds an AUTH_RESPONSE body: the digest, then the node name in UTF-8. */
export function encodeAuthResponse(digest: Uint8Array, name: string): Uint8Array {
  const nameBytes = encoder.encode(name);
  const out = new Uint8Array(DIGEST_BYTES + nameBytes.byteLength);
  out.set(digest.subarray(0, DIGEST_BYTES));
  out.set(nameBytes, DIGEST_BYTES);
  return out;
}

/** Splits an AUTH_RESPONSE body; the name's rule is checked by auth, not here. */
export function decodeAuthResponse(body: Uint8Array): { digest: Uint8Array; name: string } {
  if (body.byteLength <= DIGEST_BYTES) {
    throw new WireError("bad_auth_body", "auth response too short: no node name after the digest");
  }
  let name: string;
  try {
    name = decoder.decode(body.subarray(DIGEST_BYTES));
  } catch {
    throw new WireError("bad_auth_body", "node name in auth response is not UTF-8");
  }
  return { digest: body.slice(0, DIGEST_BYTES), name };
}

/** Checks a PING/PONG body: 0 to 64 opaque bytes. */
export function checkPingBody(body: Uint8Array): Uint8Array {
  if (body.byteLength > MAX_PING_BYTES) {
    throw new WireError(
      "bad_ping_body",
      `ping body of ${body.byteLength} bytes exceeds ${MAX_PING_BYTES}`,
    );
  }
  return body.slice();
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isUint(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function uint(o: JsonObject, key: string): number {
  const v = o[key];
  if (!isUint(v)) throw field(key, "an unsigned integer");
  return v;
}

function str(o: JsonObject, key: string): string {
  const v = o[key];
  if (typeof v !== "string" || v.length === 0) throw field(key, "a non-empty string");
  return v;
}

function field(key: string, want: string): WireError {
  return new WireError("bad_field", `field '${key}' must be ${want}`);
}

/**
 * Reading what routing needs from a REQUEST, RESPONSE or EVENT body without
 * building the object (PORTAL02.md §4, §5): a relay learns `dst`, `src`,
 * `id`, `ttl` and the few fields it validates, checks that the whole body is
 * a well-formed JSON object, and forwards the bytes as they came, with `ttl`
 * rewritten in place. Pure: no I/O.
 *
 * The scanner is a fast path, never a second opinion: it answers only when
 * its reading is exactly what `JSON.parse` would give (the last of duplicate
 * keys wins, escapes decoded), and returns null for anything it does not
 * read itself — a syntax error, a byte outside ASCII, nesting deeper than
 * {@link MAX_SCAN_DEPTH} — so the caller decodes those the full way, with
 * the full way's verdicts and error messages.
 */

/** The JSON type of a top-level value. */
export type ScanKind = "string" | "number" | "object" | "array" | "true" | "false" | "null";

/** Where one top-level value lies in the body, and what it is. */
export interface ScanValue {
  readonly kind: ScanKind;
  /** First byte of the value. */
  readonly start: number;
  /** One past its last byte. */
  readonly end: number;
}

/** The routing fields of a body, as JSON.parse would read them; absent keys are undefined. */
export interface ScannedFields {
  readonly id?: ScanValue;
  readonly src?: ScanValue;
  readonly dst?: ScanValue;
  readonly ttl?: ScanValue;
  readonly timeout_ms?: ScanValue;
  readonly method?: ScanValue;
  readonly path?: ScanValue;
  readonly args?: ScanValue;
  readonly status?: ScanValue;
  readonly error?: ScanValue;
  readonly topic?: ScanValue;
}

/** Nesting the scanner follows; a deeper body goes the full way (JSON.parse has its own bound). */
export const MAX_SCAN_DEPTH = 64;

/** The fields the scanner reports, by the length of their name. */
const FIELDS_BY_LENGTH: ReadonlyMap<number, readonly (keyof ScannedFields)[]> = new Map(
  [
    [2, ["id"]],
    [3, ["src", "dst", "ttl"]],
    [4, ["path", "args"]],
    [5, ["error", "topic"]],
    [6, ["method", "status"]],
    [10, ["timeout_ms"]],
  ] as const,
);
const FIELDS: ReadonlySet<string> = new Set([...FIELDS_BY_LENGTH.values()].flat());

// Byte values, named for the grammar below.
const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a;
const LBRACE = 0x7b, RBRACE = 0x7d, LBRACKET = 0x5b, RBRACKET = 0x5d;
const MINUS = 0x2d, PLUS = 0x2b, DOT = 0x2e, ZERO = 0x30, NINE = 0x39;

/**
 * Scans `body` as one JSON object; returns its routing fields, or null when
 * the scanner does not read it (see the module comment: decode it fully).
 */
export function scanFields(body: Uint8Array): ScannedFields | null {
  const s = new Scanner(body);
  return s.top();
}

/** The text of a string value (escapes decoded), as JSON.parse gives it. */
export function scannedString(body: Uint8Array, v: ScanValue): string {
  let plain = true;
  for (let i = v.start + 1; i < v.end - 1; i++) {
    if (body[i] === BACKSLASH) {
      plain = false;
      break;
    }
  }
  // The scanner admits only ASCII, so a string without escapes is its bytes.
  if (plain) return latin1(body, v.start + 1, v.end - 1);
  return JSON.parse(latin1(body, v.start, v.end)) as string;
}

/** The value of a number, as JSON.parse gives it. */
export function scannedNumber(body: Uint8Array, v: ScanValue): number {
  // Plain digits (every id, ttl and status Portal sends) without building a string.
  if (v.end - v.start <= 15) {
    let n = 0;
    let i = v.start;
    for (; i < v.end; i++) {
      const c = body[i];
      if (c < ZERO || c > NINE) break;
      n = n * 10 + (c - ZERO);
    }
    if (i === v.end) return n;
  }
  return Number(latin1(body, v.start, v.end));
}

/**
 * `body` with the number at `v` replaced by `value` (a non-negative integer).
 * In place, padded with spaces (JSON whitespace), when the digits fit the
 * old number's bytes; otherwise in a new buffer.
 */
export function patchNumber(body: Uint8Array, v: ScanValue, value: number): Uint8Array {
  const text = String(value);
  const room = v.end - v.start;
  if (text.length <= room) {
    for (let i = 0; i < room; i++) body[v.start + i] = i < text.length ? text.charCodeAt(i) : 0x20;
    return body;
  }
  return splice(body, v.start, v.end, text);
}

/** `body` (a scanned object) with `"key":value` added as its last member, in a new buffer. */
export function appendMember(body: Uint8Array, key: string, json: string): Uint8Array {
  let close = body.byteLength - 1;
  while (body[close] !== RBRACE) close--;
  let before = close - 1;
  while (before >= 0 && isSpace(body[before])) before--;
  const empty = body[before] === LBRACE;
  return splice(body, close, close, `${empty ? "" : ","}"${key}":${json}`);
}

function splice(body: Uint8Array, from: number, to: number, text: string): Uint8Array {
  const out = new Uint8Array(body.byteLength - (to - from) + text.length);
  out.set(body.subarray(0, from));
  for (let i = 0; i < text.length; i++) out[from + i] = text.charCodeAt(i);
  out.set(body.subarray(to), from + text.length);
  return out;
}

function latin1(b: Uint8Array, from: number, to: number): string {
  // Short spans (names, numbers) are cheaper by hand than through a decoder.
  if (to - from <= 256) return String.fromCharCode.apply(null, b.subarray(from, to) as never);
  let out = "";
  for (let i = from; i < to; i++) out += String.fromCharCode(b[i]);
  return out;
}

/** The routing field named by the unescaped key bytes `[from, to)`, or null; no string built. */
function fieldAt(b: Uint8Array, from: number, to: number): string | null {
  const names = FIELDS_BY_LENGTH.get(to - from);
  if (names === undefined) return null;
  next: for (const name of names) {
    for (let i = 0; i < name.length; i++) {
      if (b[from + i] !== name.charCodeAt(i)) continue next;
    }
    return name;
  }
  return null;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

const KINDS: readonly ScanKind[] = ["string", "number", "object", "array", "true", "false", "null"];

/** The fields of one scan: every property present from the start, so all scans share one shape. */
class Fields {
  id = undefined;
  src = undefined;
  dst = undefined;
  ttl = undefined;
  timeout_ms = undefined;
  method = undefined;
  path = undefined;
  args = undefined;
  status = undefined;
  error = undefined;
  topic = undefined;
}

/** Thrown inside the scanner to give up; never escapes it. */
const GIVE_UP = Symbol("give up");

class Scanner {
  readonly #b: Uint8Array;
  #i = 0;

  constructor(body: Uint8Array) {
    this.#b = body;
  }

  top(): ScannedFields | null {
    try {
      this.#space();
      if (this.#b[this.#i] !== LBRACE) return null;
      const fields = this.#object(0, true) as Record<string, ScanValue>;
      this.#space();
      return this.#i === this.#b.byteLength ? fields : null;
    } catch (e) {
      if (e === GIVE_UP) return null;
      throw e;
    }
  }

  #space(): void {
    const b = this.#b;
    while (this.#i < b.byteLength && isSpace(b[this.#i])) this.#i++;
  }

  /** An object at `#i`; at the top, the routing fields it holds. */
  #object(depth: number, top: boolean): Record<string, ScanValue> | null {
    const b = this.#b;
    if (depth >= MAX_SCAN_DEPTH) throw GIVE_UP;
    const fields = top ? new Fields() as unknown as Record<string, ScanValue> : null;
    this.#i++; // {
    this.#space();
    if (b[this.#i] === RBRACE) {
      this.#i++;
      return fields;
    }
    for (;;) {
      if (b[this.#i] !== QUOTE) throw GIVE_UP;
      const keyStart = this.#i;
      const escaped = this.#string();
      const keyEnd = this.#i;
      this.#space();
      if (b[this.#i] !== COLON) throw GIVE_UP;
      this.#i++;
      this.#space();
      const start = this.#i;
      const kind = this.#value(depth + 1);
      if (fields !== null) {
        const key = escaped
          ? JSON.parse(latin1(b, keyStart, keyEnd)) as string
          : fieldAt(b, keyStart + 1, keyEnd - 1);
        // The last of duplicate keys wins, as in JSON.parse.
        if (key !== null && FIELDS.has(key)) {
          fields[key] = { kind: KINDS[kind], start, end: this.#i };
        }
      }
      this.#space();
      const c = b[this.#i];
      this.#i++;
      if (c === RBRACE) return fields;
      if (c !== COMMA) throw GIVE_UP;
      this.#space();
    }
  }

  #array(depth: number): void {
    const b = this.#b;
    if (depth >= MAX_SCAN_DEPTH) throw GIVE_UP;
    this.#i++; // [
    this.#space();
    if (b[this.#i] === RBRACKET) {
      this.#i++;
      return;
    }
    for (;;) {
      this.#value(depth + 1);
      this.#space();
      const c = b[this.#i];
      this.#i++;
      if (c === RBRACKET) return;
      if (c !== COMMA) throw GIVE_UP;
      this.#space();
    }
  }

  /** A value at `#i`; returns its index in {@link KINDS}. */
  #value(depth: number): number {
    const c = this.#b[this.#i];
    if (c === QUOTE) {
      this.#string();
      return 0;
    }
    if (c === MINUS || (c >= ZERO && c <= NINE)) {
      this.#number();
      return 1;
    }
    if (c === LBRACE) {
      this.#object(depth, false);
      return 2;
    }
    if (c === LBRACKET) {
      this.#array(depth);
      return 3;
    }
    if (this.#word("true")) return 4;
    if (this.#word("false")) return 5;
    if (this.#word("null")) return 6;
    throw GIVE_UP;
  }

  #word(w: string): boolean {
    const b = this.#b;
    for (let k = 0; k < w.length; k++) if (b[this.#i + k] !== w.charCodeAt(k)) return false;
    this.#i += w.length;
    return true;
  }

  /** A string at `#i` (ASCII only); true when it holds an escape. */
  #string(): boolean {
    const b = this.#b;
    let escaped = false;
    this.#i++; // opening quote
    for (;;) {
      if (this.#i >= b.byteLength) throw GIVE_UP;
      const c = b[this.#i++];
      if (c === QUOTE) return escaped;
      // Control characters are not allowed raw; non-ASCII goes the full way (UTF-8 checks).
      if (c < 0x20 || c >= 0x80) throw GIVE_UP;
      if (c !== BACKSLASH) continue;
      escaped = true;
      const e = b[this.#i++];
      if (e === 0x75) { // \uXXXX
        for (let k = 0; k < 4; k++) if (!isHex(b[this.#i++])) throw GIVE_UP;
      } else if (
        e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 &&
        e !== 0x6e && e !== 0x72 && e !== 0x74
      ) throw GIVE_UP;
    }
  }

  #number(): void {
    const b = this.#b;
    if (b[this.#i] === MINUS) this.#i++;
    if (b[this.#i] === ZERO) this.#i++;
    else if (!this.#digits()) throw GIVE_UP;
    if (b[this.#i] === DOT) {
      this.#i++;
      if (!this.#digits()) throw GIVE_UP;
    }
    if (b[this.#i] === 0x65 || b[this.#i] === 0x45) { // e E
      this.#i++;
      if (b[this.#i] === PLUS || b[this.#i] === MINUS) this.#i++;
      if (!this.#digits()) throw GIVE_UP;
    }
  }

  #digits(): boolean {
    const b = this.#b;
    const from = this.#i;
    while (this.#i < b.byteLength && b[this.#i] >= ZERO && b[this.#i] <= NINE) this.#i++;
    return this.#i > from;
  }
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

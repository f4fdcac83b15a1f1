/**
 * Authorization of requests from other nodes by `[acl]` (PORTAL02 §11, CONFIG.md): the origin's
 * own entry, else the `*` entry; within it the first rule whose METHOD and PATTERN match allows.
 * Pure; requests from this node's own API or shell are governed by its tokens instead.
 */
import { clip } from "../util/format.ts";

/** A METHOD of an [acl] rule; `*` is any method. */
export type AclMethod = "GET" | "LIST" | "CALL" | "*";

/** One `METHOD PATTERN` rule of an [acl] entry. */
export interface AclRule {
  readonly method: AclMethod;
  /** A path where `*` matches any run of characters. */
  readonly pattern: string;
  /** The rule as written, for 403 sentences and audit lines (`CALL /iot/devices/plug-*`). */
  readonly text: string;
}

/** One [acl] key: an origin node name, or `*` for any other authenticated node. */
export interface AclEntry {
  readonly origin: string;
  readonly rules: readonly AclRule[];
  /** Line in the config file, for messages. */
  readonly line: number;
}

/** [acl]: who may do what on this node (PORTAL02.md §11). */
export interface AclConfig {
  /** In file order. */
  readonly entries: readonly AclEntry[];
}

/** The verdict on one request; `entry` is the [acl] key used (null without [acl]). */
export type AccessDecision =
  | { readonly allowed: true; readonly entry: string | null; readonly rule: string | null }
  | { readonly allowed: false; readonly entry: string | null; readonly reason: string };

/** Options of {@link AccessPolicy}. */
export interface AccessPolicyOptions {
  /** This node's name, for the 403 sentence. Default "this node". */
  readonly node?: string;
}

/**
 * A PATTERN split at its `*`s. Matching walks the literal parts with indexOf: linear, with no
 * regular expression to escape and no backtracking for a pattern with many `*`s.
 */
interface CompiledRule {
  readonly method: AclMethod;
  readonly text: string;
  readonly parts: readonly string[];
}

interface CompiledEntry {
  readonly origin: string;
  readonly rules: readonly CompiledRule[];
  /** `office = GET *, LIST *` as written, for sentences. */
  readonly listing: string;
}

/** The `*` key: any other authenticated node. */
const ANY = "*";
const MAX_PATH_IN_REASON = 120;
const MAX_LISTING_IN_REASON = 300;

/** Decides requests by `[acl]`, with every pattern compiled once. */
export class AccessPolicy {
  /** null: no [acl] section, everything allowed. */
  readonly #entries: ReadonlyMap<string, CompiledEntry> | null;
  readonly #node: string;

  constructor(config: AclConfig | null, opts: AccessPolicyOptions = {}) {
    this.#node = opts.node ?? "this node";
    this.#entries = config === null ? null : new Map(
      config.entries.map((e) => [e.origin, {
        origin: e.origin,
        rules: e.rules.map((r) => ({
          method: r.method,
          text: r.text,
          parts: normalizePattern(r.pattern).split("*"),
        })),
        listing: `${e.origin} = ${e.rules.map((r) => r.text).join(", ")}`,
      }]),
    );
  }

  /** Whether an [acl] section is in force (false: every request is allowed). */
  get enabled(): boolean {
    return this.#entries !== null;
  }

  /** Whether `origin` may `method` `path` here, naming the rule that allowed it or why not. */
  decide(origin: string, method: string, path: string): AccessDecision {
    if (this.#entries === null) return { allowed: true, entry: null, rule: null };
    const own = this.#entries.get(origin);
    const entry = own ?? this.#entries.get(ANY);
    const denied = `${origin} may not ${method} ${clip(path, MAX_PATH_IN_REASON)} on ${this.#node}`;
    if (entry === undefined) {
      return {
        allowed: false,
        entry: null,
        reason: `${denied}: [acl] has no entry for ${origin} and no '*' entry`,
      };
    }
    const target = normalizePath(path);
    for (const rule of entry.rules) {
      if ((rule.method === ANY || rule.method === method) && matches(rule.parts, target)) {
        return { allowed: true, entry: entry.origin, rule: rule.text };
      }
    }
    const fallback = own === undefined ? `[acl] has no entry for ${origin}, and ` : "";
    const listing = entry.rules.length === 0
      ? `[acl] ${entry.origin} lists no rules`
      : clip(entry.listing, MAX_LISTING_IN_REASON);
    return {
      allowed: false,
      entry: entry.origin,
      reason: `${denied}: ${fallback}no rule of [acl] ${entry.origin} matches (${listing})`,
    };
  }
}

/**
 * The path as the router sees it: empty segments dropped (`//iot/devices/` is `/iot/devices`),
 * nothing else changed (no `..` resolution, no %-decoding), so a rule matches exactly what runs.
 * Rules only allow, so any request this leaves unmatched is denied, never let through.
 */
function normalizePath(path: string): string {
  return `/${path.split("/").filter((s) => s.length > 0).join("/")}`;
}

/** A PATTERN normalised like a path: runs of `/` as one, no trailing `/` (`/iot/` is `/iot`). */
function normalizePattern(pattern: string): string {
  return pattern.replace(/\/+/g, "/").replace(/(.)\/$/, "$1");
}

/** Whether `text` matches the pattern split at its `*`s (`*` matches any run, `/` included). */
function matches(parts: readonly string[], text: string): boolean {
  const first = parts[0];
  if (parts.length === 1) return text === first;
  const last = parts[parts.length - 1];
  if (text.length < first.length + last.length) return false;
  if (!text.startsWith(first) || !text.endsWith(last)) return false;
  // Leftmost placement of each middle part leaves the most room for the rest: greedy is exact.
  let at = first.length;
  const end = text.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = text.indexOf(parts[i], at);
    if (found < 0 || found + parts[i].length > end) return false;
    at = found + parts[i].length;
  }
  return true;
}

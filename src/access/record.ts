/**
 * The audit trail's format (CONFIG.md `audit_log`): two kinds of JSON line per CALL and the
 * merged record `/node/audit` shows. A CALL this node runs gets a `decision` line, on disk
 * before the device is touched, and an `outcome` line once it has answered; a CALL refused
 * here gets one `decision` line that already holds its status. Pure: no I/O.
 */
import type { CallerRole } from "../paths/types.ts";
import { clip } from "../util/format.ts";

/** How the CALL was decided. */
export type AuditVerdict =
  /** Signature (when needed) and [acl] (or the local token) let it run. */
  | "allowed"
  /** [acl] has no rule for it, or the local caller holds the read-only token: 403. */
  | "denied"
  /** require_signed asks for a signature and it has none: 401. */
  | "unsigned"
  /** It carries a signature that does not verify (altered, replayed, wrong name, ...): 401. */
  | "bad_signature";

/** What this node found about the request's signature. */
export type SignatureState =
  /** Chain, name, time, nonce and signature all checked. */
  | "verified"
  /** Signed, but this node has no tls_ca to check it against (require_signed is none). */
  | "unchecked"
  /** Signed, and the signature was refused (see `reason`). */
  | "invalid"
  /** Not signed (always so for this node's own API and shell). */
  | "none";

/** The `decision` line: who asked for what, and what this node decided. */
export interface DecisionLine {
  /** Wall-clock time of the decision, ISO 8601 UTC. */
  readonly time: string;
  /** Ties the decision to its outcome line: a per-run prefix and a counter. */
  readonly record: string;
  readonly event: "decision";
  /** This node. */
  readonly node: string;
  /** The node that sent the CALL; null for this node's own API or shell. */
  readonly origin: string | null;
  /** The neighbour it arrived through when that is not the origin; null when direct or local. */
  readonly relay: string | null;
  /** The origin's request id; null for local calls. */
  readonly request_id: number | null;
  /** Which token a local caller presented (`full` or `read`); null for other nodes. */
  readonly role: CallerRole | null;
  readonly method: string;
  readonly path: string;
  /** The arguments; null when they were too long to keep (see `args_clipped`). */
  readonly args: unknown;
  /** The start of the arguments' JSON when they were longer than {@link MAX_ARGS_CHARS}. */
  readonly args_clipped?: string;
  readonly verdict: AuditVerdict;
  /** The [acl] entry consulted (`office`, `*`); null without [acl] or for local calls. */
  readonly acl_entry: string | null;
  /** The rule that allowed it (`CALL /iot/devices/plug-*`); null when none did. */
  readonly rule: string | null;
  readonly signature: SignatureState;
  /** SHA-256 fingerprint of the certificate that signed it, when verified. */
  readonly signer: string | null;
  /** Why it was refused, as answered to the caller; null when allowed. */
  readonly reason: string | null;
  /** The status answered for a refused CALL; null while an allowed one runs. */
  readonly status: number | null;
  /** For a refused CALL, how long deciding took; null while an allowed one runs. */
  readonly duration_ms: number | null;
}

/** The `outcome` line of an allowed CALL, written once it has answered. */
export interface OutcomeLine {
  readonly time: string;
  readonly record: string;
  readonly event: "outcome";
  readonly status: number;
  /** From arrival at this node to the answer, in milliseconds. */
  readonly duration_ms: number;
  /** The answer's error sentence when the status is not 2xx. */
  readonly error: string | null;
}

/** One line of the audit file. */
export type AuditLine = DecisionLine | OutcomeLine;

/** Where a CALL stands. */
export type AuditState =
  /** Allowed and running now. */
  | "pending"
  /** Answered (or refused). */
  | "done"
  /** Allowed, but the node stopped before an outcome was written: it may or may not have run. */
  | "unknown";

/** One CALL as `/node/audit` shows it: the decision with its outcome merged in. */
export interface AuditEntry extends Omit<DecisionLine, "event"> {
  readonly state: AuditState;
  readonly error: string | null;
}

/** Arguments whose JSON is longer are not kept whole; the line stays bounded. */
export const MAX_ARGS_CHARS = 4096;
/** Characters of over-long arguments kept in `args_clipped`. */
export const CLIPPED_ARGS_CHARS = 1024;
/** Paths are cut to this length in audit lines. */
export const MAX_AUDIT_PATH_CHARS = 2048;

/** `args` as kept in a decision line: whole, or clipped when its JSON is too long. */
export function auditArgs(args: unknown): { args: unknown; args_clipped?: string } {
  let json: string;
  try {
    json = JSON.stringify(args ?? {});
  } catch {
    return { args: null, args_clipped: "(not JSON)" };
  }
  if (json.length <= MAX_ARGS_CHARS) return { args: args ?? {} };
  return { args: null, args_clipped: clip(json, CLIPPED_ARGS_CHARS) };
}

/** A path as kept in a decision line. */
export function auditPath(path: string): string {
  return clip(path, MAX_AUDIT_PATH_CHARS);
}

/** The entry a decision line starts. */
export function entryOf(line: DecisionLine): AuditEntry {
  const { event: _event, ...rest } = line;
  return {
    ...rest,
    state: line.status === null ? "pending" : "done",
    error: line.verdict === "allowed" ? null : line.reason,
  };
}

/** `entry` completed by its outcome. */
export function withOutcome(entry: AuditEntry, outcome: OutcomeLine): AuditEntry {
  return {
    ...entry,
    state: "done",
    status: outcome.status,
    duration_ms: outcome.duration_ms,
    error: outcome.error,
  };
}

/** Reads one line of an audit file; null for anything else (a torn or foreign line). */
export function parseAuditLine(text: string): AuditLine | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.record !== "string" || typeof o.time !== "string") return null;
  if (o.event === "decision" && typeof o.path === "string" && typeof o.verdict === "string") {
    return o as unknown as DecisionLine;
  }
  if (o.event === "outcome" && typeof o.status === "number") return o as unknown as OutcomeLine;
  return null;
}

/**
 * Merges lines (oldest first) into entries (oldest first), keeping the last `max`. A decision
 * read back from an earlier run that has no outcome is `unknown`: the node stopped first.
 */
export function mergeLines(lines: Iterable<AuditLine>, max: number): AuditEntry[] {
  const entries = new Map<string, AuditEntry>();
  for (const line of lines) {
    if (line.event === "decision") {
      entries.delete(line.record);
      entries.set(line.record, entryOf(line));
      if (entries.size > max) entries.delete(entries.keys().next().value!);
    } else {
      const entry = entries.get(line.record);
      if (entry !== undefined) entries.set(line.record, withOutcome(entry, line));
    }
  }
  return [...entries.values()].map((e) =>
    e.state === "pending"
      ? { ...e, state: "unknown" as const, error: "the node stopped before the CALL answered" }
      : e
  );
}

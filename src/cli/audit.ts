/**
 * The shell's `audit [N]`: the latest CALLs the node decided (`/node/audit`), newest first,
 * one line each, with the rule that allowed a CALL or the reason it was refused.
 */
import { clip } from "../util/format.ts";
import { formatJson, formatTable } from "./format.ts";

/** The node path the command reads. */
export const AUDIT_PATH = "/node/audit";
/** CALLs shown when `audit` is given no count. */
export const DEFAULT_AUDIT_COUNT = 20;
/** The most a node keeps in memory, so the most one `audit` can show. */
export const MAX_AUDIT_COUNT = 1000;

export const AUDIT_USAGE = "audit [N]";

/** The count of `audit [N]`; throws with the usage when it is not a whole number in range. */
export function auditCount(args: readonly string[]): number {
  if (args.length === 0) return DEFAULT_AUDIT_COUNT;
  const n = args.length === 1 && /^[0-9]{1,4}$/.test(args[0]) ? Number(args[0]) : NaN;
  if (!(n >= 1 && n <= MAX_AUDIT_COUNT)) {
    throw new Error(
      `usage: ${AUDIT_USAGE} (N from 1 to ${MAX_AUDIT_COUNT}, default ${DEFAULT_AUDIT_COUNT})`,
    );
  }
  return n;
}

type Obj = Record<string, unknown>;

const text = (v: unknown): string =>
  v === null || v === undefined || v === "" ? "-" : typeof v === "string" ? v : String(v);

/** Who asked: `office`, `office via hub`, `local (read)`. */
function from(r: Obj): string {
  if (typeof r.origin !== "string") return r.role ? `local (${text(r.role)})` : "local";
  return typeof r.relay === "string" ? `${r.origin} via ${r.relay}` : r.origin;
}

/** `200`, `403`, `running` or `unknown`. */
function status(r: Obj): string {
  if (typeof r.status === "number") return String(r.status);
  return r.state === "pending" ? "running" : "unknown";
}

/** What decided it: the rule, `no [acl]`, the token, or why it was refused. */
function why(r: Obj): string {
  if (r.verdict !== "allowed") return clip(text(r.reason), 160);
  if (typeof r.origin !== "string") return "local API";
  const rule = typeof r.rule === "string" ? `[acl] ${text(r.acl_entry)}: ${r.rule}` : "no [acl]";
  const signed = r.signature === "verified" ? "signed" : text(r.signature);
  return `${rule}; ${signed}`;
}

/** `/node/audit`'s records as a table, at most `n` of them; other shapes as JSON. */
export function formatAudit(value: unknown, n: number): string {
  if (!Array.isArray(value) || !value.every((r) => typeof r === "object" && r !== null)) {
    return formatJson(value);
  }
  const records = (value as Obj[]).slice(0, n);
  if (records.length === 0) return "no CALL audited yet";
  const rows = records.map((r) => [
    text(r.time),
    from(r),
    text(r.path),
    text(r.verdict),
    status(r),
    typeof r.duration_ms === "number" ? `${r.duration_ms}ms` : "-",
    why(r),
  ]);
  return formatTable([["TIME", "FROM", "PATH", "VERDICT", "STATUS", "TOOK", "WHY"], ...rows]);
}

/**
 * The access gate (PORTAL02.md §11): every way into this node's paths — requests from other
 * nodes, the federation's hops to this node itself, the HTTP API and shell — passes here before
 * the router. A request from another node has its signature checked (`require_signed`, and any
 * signature it carries) and is decided by `[acl]`; a local one by the token its caller holds.
 * Every CALL decided here is audited, and the decision is on disk before the CALL runs.
 */
import type { RequireSigned } from "../config/types.ts";
import type { AccessDecision } from "../auth/acl.ts";
import type { SignedRequest, VerifyResult } from "../auth/verify.ts";
import { LogLimiter } from "../log/limiter.ts";
import type { Logger } from "../log/logger.ts";
import type { PathRequest, PathResponse, PathService } from "../paths/types.ts";
import type { Clock } from "../util/clock.ts";
import { errorText } from "../util/errors.ts";
import { clip } from "../util/format.ts";
import { Status } from "../wire/constants.ts";
import type { AuditLog } from "./audit_log.ts";
import {
  auditArgs,
  auditPath,
  type AuditVerdict,
  type DecisionLine,
  type SignatureState,
} from "./record.ts";

/** Options of {@link AccessGate}. */
export interface AccessGateOptions {
  /** This node's name, for sentences and audit lines. */
  readonly node: string;
  /** Serves what the gate lets through. */
  readonly router: PathService;
  /** `[mod_node] require_signed`. */
  readonly requireSigned: RequireSigned;
  /** Checks signatures against tls_ca; null when this node has none (signatures unchecked). */
  readonly verifier: { verify(req: SignedRequest): VerifyResult } | null;
  /** `[acl]`. */
  readonly policy: { decide(origin: string, method: string, path: string): AccessDecision };
  /** `audit_log`; null: CALLs are decided but not recorded. */
  readonly audit: AuditLog | null;
  readonly logger: Logger;
  /** For durations. */
  readonly clock: Clock;
  /** Wall clock in unix ms, for audit times. Default Date.now. */
  readonly now?: () => number;
  /** Prefix of audit record ids, unique per run. Default from the wall clock and a random. */
  readonly runId?: string;
}

/** What the gate decided about one request. */
type Decision =
  & {
    readonly origin: string | null;
    readonly signature: SignatureState;
    readonly signer: string | null;
    readonly entry: string | null;
  }
  & (
    | { readonly verdict: "allowed"; readonly rule: string | null }
    | {
      readonly verdict: Exclude<AuditVerdict, "allowed">;
      readonly status: number;
      readonly reason: string;
    }
  );

/** Counts of what the gate decided since start. */
export interface GateCounters {
  allowed: number;
  refused: number;
}

/** The PathService every way in goes through. */
export class AccessGate implements PathService {
  readonly counters: GateCounters = { allowed: 0, refused: 0 };
  #o: AccessGateOptions;
  readonly #now: () => number;
  readonly #runId: string;
  readonly #limiter: LogLimiter;
  /**
   * Signals of requests decided here and running now. A hop to this node itself carries its
   * request's signal: it was decided (and audited) on the way in, so it passes straight on.
   */
  readonly #running = new WeakSet<AbortSignal>();
  #seq = 0;

  constructor(options: AccessGateOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#runId = options.runId ??
      `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
    this.#limiter = new LogLimiter({
      logger: options.logger.with({ component: "access" }),
      clock: options.clock,
    });
  }

  /** A reload: new signature rules and `[acl]` apply to the next request. */
  reconfigure(
    changes: Pick<AccessGateOptions, "requireSigned" | "verifier" | "policy">,
  ): void {
    this.#o = { ...this.#o, ...changes };
  }

  /** Decides `req`, records it when it is a CALL, and serves it when allowed. */
  async handle(req: PathRequest): Promise<PathResponse> {
    const signal = req.signal;
    if (signal !== undefined && req.envelope === undefined && this.#running.has(signal)) {
      return await this.#o.router.handle(req);
    }
    const started = this.#o.clock.now();
    const decision = this.#decide(req);
    const audit = req.method === "CALL" ? this.#o.audit : null;
    const record = audit === null ? "" : `${this.#runId}-${++this.#seq}`;

    if (decision.verdict !== "allowed") {
      this.counters.refused++;
      this.#limiter.log(
        "warn",
        "request refused",
        decision.origin ?? "local",
        "request refused",
        {
          origin: decision.origin ?? "local",
          method: req.method,
          path: clip(req.path, 200),
          status: decision.status,
          verdict: decision.verdict,
          reason: decision.reason,
        },
      );
      if (audit !== null) {
        const line = this.#decisionLine(record, req, decision, started);
        await audit.append(line).catch((e) => this.#auditFailed(e, req));
      }
      return { status: decision.status, error: decision.reason };
    }

    this.counters.allowed++;
    if (audit !== null) {
      try {
        await audit.append(this.#decisionLine(record, req, decision, started));
      } catch (e) {
        this.#auditFailed(e, req);
        return {
          status: Status.Overloaded,
          error: `${this.#o.node} did not run CALL ${clip(req.path, 200)}: the audit log ` +
            `cannot record it (${errorText(e)})`,
        };
      }
    }
    let res: PathResponse;
    if (signal?.aborted) {
      res = {
        status: Status.Timeout,
        error: `the caller stopped waiting before CALL ${clip(req.path, 200)} ran; not run`,
      };
    } else {
      if (signal !== undefined) this.#running.add(signal);
      try {
        res = await this.#o.router.handle(req);
      } catch (e) {
        res = {
          status: Status.Internal,
          error: `${req.method} ${req.path} failed on ${this.#o.node}: ${errorText(e)}`,
        };
      } finally {
        if (signal !== undefined) this.#running.delete(signal);
      }
    }
    if (audit !== null) {
      const ok = res.status >= 200 && res.status < 300;
      await audit.append({
        time: new Date(this.#now()).toISOString(),
        record,
        event: "outcome",
        status: res.status,
        duration_ms: this.#elapsed(started),
        error: ok ? null : (res.error ?? `status ${res.status}`),
      }).catch((e) => this.#auditFailed(e, req));
    }
    return res;
  }

  /** Writes the summary of log lines held back (node stopping). */
  stop(): void {
    this.#limiter.stop();
  }

  #decide(req: PathRequest): Decision {
    const env = req.envelope;
    // Without an envelope but with an origin: a hop to this node made for another node's
    // request whose signal did not come along. Decided as that node's, without a signature.
    const origin = env?.src ?? req.origin;
    if (origin === null) return this.#decideLocal(req);

    const { requireSigned, verifier, node } = this.#o;
    const what = `${req.method} ${clip(req.path, 120)} from ${origin}`;
    let signature: SignatureState = "none";
    let signer: string | null = null;
    const sig = env?.sig;
    if (env !== undefined && sig !== undefined && sig !== null) {
      if (verifier === null) {
        signature = "unchecked";
      } else {
        const signed: SignedRequest = {
          src: env.src,
          dst: env.dst,
          id: env.id,
          method: req.method,
          path: req.path,
          args: req.args,
          sig,
        };
        const r = verifier.verify(signed);
        if (!r.ok) {
          return {
            origin,
            signature: "invalid",
            signer: null,
            entry: null,
            verdict: "bad_signature",
            status: r.code === "overloaded" ? Status.Overloaded : Status.Unauthorized,
            reason: `the signature of ${what} is refused (${r.code}): ${r.reason}`,
          };
        }
        signature = "verified";
        signer = r.fingerprint;
      }
    }
    const required = requireSigned === "all" ||
      (requireSigned === "call" && req.method === "CALL");
    if (required && signature !== "verified") {
      return {
        origin,
        signature,
        signer,
        entry: null,
        verdict: "unsigned",
        status: Status.Unauthorized,
        reason: `${what} must be signed: ${node} has require_signed = ${requireSigned}, and ` +
          `the request carries no signature (${origin} signs with its tls_cert and tls_key ` +
          `unless its sign = off)`,
      };
    }
    const d = this.#o.policy.decide(origin, req.method, req.path);
    if (!d.allowed) {
      return {
        origin,
        signature,
        signer,
        entry: d.entry,
        verdict: "denied",
        status: Status.Forbidden,
        reason: d.reason,
      };
    }
    return { origin, signature, signer, entry: d.entry, verdict: "allowed", rule: d.rule };
  }

  /** This node's own API and shell: governed by the caller's token, not by [acl]. */
  #decideLocal(req: PathRequest): Decision {
    const base = { origin: null, signature: "none", signer: null, entry: null } as const;
    if (req.role === "read" && req.method !== "GET" && req.method !== "LIST") {
      return {
        ...base,
        verdict: "denied",
        status: Status.Forbidden,
        reason: `the read-only token ([mod_http] read_token) may only GET and LIST; ` +
          `${req.method} ${clip(req.path, 120)} needs the full token ([mod_http] token)`,
      };
    }
    return { ...base, verdict: "allowed", rule: null };
  }

  #decisionLine(
    record: string,
    req: PathRequest,
    d: Decision,
    started: number,
  ): DecisionLine {
    const env = req.envelope;
    const refused = d.verdict !== "allowed";
    return {
      time: new Date(this.#now()).toISOString(),
      record,
      event: "decision",
      node: this.#o.node,
      origin: d.origin,
      relay: env?.relay ?? null,
      request_id: env?.id ?? null,
      role: d.origin === null ? (req.role ?? null) : null,
      method: req.method,
      path: auditPath(req.path),
      ...auditArgs(req.args),
      verdict: d.verdict,
      acl_entry: d.entry,
      rule: d.verdict === "allowed" ? d.rule : null,
      signature: d.signature,
      signer: d.signer,
      reason: refused ? d.reason : null,
      status: refused ? d.status : null,
      duration_ms: refused ? this.#elapsed(started) : null,
    };
  }

  #elapsed(started: number): number {
    return Math.round((this.#o.clock.now() - started) * 1000) / 1000;
  }

  #auditFailed(e: unknown, req: PathRequest): void {
    this.#limiter.log("error", "audit write failed", "audit", "audit line not written", {
      method: req.method,
      path: clip(req.path, 200),
      reason: errorText(e),
    });
  }
}

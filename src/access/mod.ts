/**
 * The access layer of a node (PORTAL02.md §11): who this node is to others (its request
 * signer) and who may do what here (signature checks, `[acl]`, tokens' roles, the audit trail).
 * `createAccess` builds it from the config; the runtime puts `gate` in front of the router for
 * the federation and the HTTP API, and hands `sign` to the federation.
 */
import { AccessPolicy } from "../auth/acl.ts";
import { RequestSigner, SignatureError } from "../auth/signature.ts";
import { RequestVerifier } from "../auth/verify.ts";
import type { Config } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import type { PathRouter } from "../paths/mod.ts";
import type { Clock } from "../util/clock.ts";
import type { JsonObject, RequestMessage } from "../wire/mod.ts";
import { AuditError, AuditLog, type AuditLogOptions } from "./audit_log.ts";
import { AccessGate } from "./gate.ts";
import { registerAuditPath } from "./paths.ts";

export { AuditError, AuditLog, type AuditLogOptions } from "./audit_log.ts";
export { AccessGate, type AccessGateOptions, type GateCounters } from "./gate.ts";
export { DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT, registerAuditPath } from "./paths.ts";
export type { AuditEntry, AuditLine, AuditState, AuditVerdict, SignatureState } from "./record.ts";

/** The PEM texts the access layer uses (read once by the runtime). */
export interface AccessPems {
  /** `tls_cert`, or null when unset (or tls = false). */
  readonly cert: string | null;
  /** `tls_key`, or null. */
  readonly key: string | null;
  /** `tls_ca`, or null. */
  readonly ca: string | null;
}

/** What {@link createAccess} needs besides the config. */
export interface AccessDeps {
  /** The router the gate guards; `/node/audit` is registered on it. */
  readonly router: PathRouter;
  readonly pems: AccessPems;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Wall clock in unix ms (signatures, audit times). Default Date.now. */
  readonly now?: () => number;
  /** Overrides of the audit file's bounds (tests). Default the AuditLog defaults. */
  readonly audit?: Omit<AuditLogOptions, "path" | "onError">;
}

/** A node's access layer. */
export interface Access {
  /** Put in front of the router for every way in. */
  readonly gate: AccessGate;
  /** The federation's signing hook: the `sig` of a request, or null when it is not signed. */
  readonly sign: (req: RequestMessage) => JsonObject | null;
  /** The audit file, or null without `audit_log`. */
  readonly audit: AuditLog | null;
  /** Whether another node may read `path` here ([acl] GET): what events it may receive. */
  mayRead(origin: string, path: string): boolean;
  /**
   * A reload: the signer, the signature checks and `[acl]` follow the new
   * config and PEMs at once. The audit file stays (its path needs a restart:
   * returned as `["audit_log"]` when it changed).
   */
  reconfigure(config: Config, pems: AccessPems): string[];
  /** Writes the audit lines still queued and closes the file. */
  close(): Promise<void>;
}

/** Why the access layer cannot start; the message says what to change. */
export class AccessError extends Error {
  override readonly name = "AccessError";
  constructor(readonly code: "signer" | "verifier" | "audit", message: string) {
    super(message);
  }
}

/** The signer of `config`'s node, or null when it signs nothing; throws AccessError. */
function makeSigner(config: Config, pems: AccessPems, now: () => number): RequestSigner | null {
  const node = config.node;
  if (node.sign === "off" || pems.cert === null || pems.key === null) return null;
  try {
    return new RequestSigner({ certPem: pems.cert, keyPem: pems.key, now });
  } catch (e) {
    if (!(e instanceof SignatureError)) throw e;
    throw new AccessError(
      "signer",
      `cannot sign requests with tls_cert ${node.tlsCert} and tls_key ${node.tlsKey}: ` +
        `${e.message} (or set sign = off in [mod_node])`,
    );
  }
}

/** The verifier of signatures arriving here, or null without a usable tls_ca; throws AccessError. */
function makeVerifier(
  config: Config,
  pems: AccessPems,
  now: () => number,
  log: Logger,
): RequestVerifier | null {
  const node = config.node;
  if (pems.ca === null) return null;
  try {
    return new RequestVerifier({ caPem: pems.ca, now });
  } catch (e) {
    if (!(e instanceof SignatureError)) throw e;
    if (node.requireSigned !== "none") {
      throw new AccessError(
        "verifier",
        `require_signed = ${node.requireSigned} needs tls_ca ${node.tlsCa} to hold the CA ` +
          `that signed the nodes' certificates: ${e.message}`,
      );
    }
    log.warn(`signed requests are not checked: ${e.message} (tls_ca ${node.tlsCa})`);
    return null;
  }
}

/** Builds the signer, verifier, policy, audit log and gate of `config`'s node. */
export async function createAccess(config: Config, deps: AccessDeps): Promise<Access> {
  const node = config.node;
  const log = deps.logger.with({ component: "access" });
  const now = deps.now ?? Date.now;
  const { pems } = deps;
  let current = { config, signer: makeSigner(config, pems, now) };
  const verifier = makeVerifier(config, pems, now, log);

  let audit: AuditLog | null = null;
  if (node.auditLog !== null) {
    try {
      audit = await AuditLog.open({
        ...deps.audit,
        path: node.auditLog,
        onError: (message) => log.error(message),
      });
    } catch (e) {
      if (!(e instanceof AuditError)) throw e;
      throw new AccessError("audit", `${e.message} (check [mod_node] audit_log)`);
    }
  }

  let policy = new AccessPolicy(config.acl, { node: node.name });
  const gate = new AccessGate({
    node: node.name,
    router: deps.router,
    requireSigned: node.requireSigned,
    verifier,
    policy,
    audit,
    logger: deps.logger,
    clock: deps.clock,
    now,
  });
  registerAuditPath(deps.router, { node: node.name, audit });
  const sayAcl = (c: Config) => {
    if (c.acl === null) log.info("no [acl]: every node may do everything here");
  };
  sayAcl(config);
  return {
    gate,
    sign: (req) => {
      const { signer, config: c } = current;
      if (signer === null || (c.node.sign !== "all" && req.method !== "CALL")) return null;
      return signer.sign(req) as unknown as JsonObject;
    },
    audit,
    mayRead: (origin, path) => policy.decide(origin, "GET", path).allowed,
    reconfigure(next, nextPems) {
      const signer = makeSigner(next, nextPems, now);
      const nextVerifier = makeVerifier(next, nextPems, now, log);
      policy = new AccessPolicy(next.acl, { node: next.node.name });
      gate.reconfigure({ requireSigned: next.node.requireSigned, verifier: nextVerifier, policy });
      current = { config: next, signer };
      sayAcl(next);
      return next.node.auditLog === node.auditLog ? [] : ["audit_log"];
    },
    async close() {
      gate.stop();
      await audit?.close();
    },
  };
}

/**
 * A reload (SIGHUP, `portal reload`, CALL /node/reload): the node reads its
 * node.ini again with the loader it started with and applies what changed,
 * or refuses the file and keeps running exactly as it was. Reloads run one at
 * a time; asking again while one runs gets the next one, which reads the file
 * as it is by then.
 */
import type { Access } from "../access/mod.ts";
import { AccessError } from "../access/mod.ts";
import { ConfigError, formatWarning, loadConfig } from "../config/mod.ts";
import type { Config } from "../config/types.ts";
import type { Federation } from "../federation/federation.ts";
import { settle } from "../federation/reload.ts";
import { RELOAD_PATH } from "../federation/paths.ts";
import type { ReloadedPeers } from "../federation/registry.ts";
import type { HttpApi } from "../http/mod.ts";
import type { Logger, LogLevelSwitch } from "../log/logger.ts";
import type { IotModule, IotReload } from "../modules/iot/mod.ts";
import { fail, ok, type PathRouter } from "../paths/mod.ts";
import { errorText } from "../util/errors.ts";
import { Status } from "../wire/mod.ts";
import {
  accessPems,
  checkTlsMaterial,
  type NodeCredentials,
  readTlsMaterial,
  TlsFilesError,
  type TlsMaterial,
} from "./tls_files.ts";

/** What a reload applied; the body of CALL /node/reload. */
export interface ReloadReport {
  readonly file: string;
  readonly peers: ReloadedPeers;
  readonly devices: IotReload;
  /** Whether the re-read tls_cert, tls_key or tls_ca differ from those in use. */
  readonly certificates: "replaced" | "unchanged";
  readonly log_level: string;
  /** Keys whose new value needs a restart; their running value stays. */
  readonly needs_restart: string[];
}

/** How a reload ended: applied, or refused with the reasons (FILE:LINE lines for the file). */
export type ReloadOutcome =
  | { readonly kind: "applied"; readonly report: ReloadReport }
  | { readonly kind: "refused"; readonly errors: readonly string[] }
  | { readonly kind: "stopping" };

/** The running parts a reload changes. */
export interface ReloadParts {
  readonly federation: Federation;
  readonly iot: IotModule | null;
  readonly access: Access;
  readonly http: HttpApi | null;
  /** The log level of every line; null when the caller owns the logger's level. */
  readonly level: LogLevelSwitch | null;
  readonly credentials: NodeCredentials;
  /** Told the certificates in use after each reload (metrics, the expiry warning). */
  readonly onCertificates: (m: TlsMaterial, certPath: string | null) => void;
}

/** Options of {@link Reloader}. */
export interface ReloaderOptions {
  readonly config: Config;
  readonly parts: ReloadParts;
  readonly logger: Logger;
  /** Reads and checks the file. Default `loadConfig`. */
  readonly load?: (file: string) => Promise<Config>;
}

/** Runs reloads one after the other and keeps the config in force. */
export class Reloader {
  #config: Config;
  readonly #o: ReloaderOptions;
  #running: Promise<ReloadOutcome> | null = null;
  #next: Promise<ReloadOutcome> | null = null;
  #closed = false;

  constructor(options: ReloaderOptions) {
    this.#o = options;
    this.#config = options.config;
  }

  /** The config in force: the last one applied (keys that need a restart keep their first value). */
  get config(): Config {
    return this.#config;
  }

  /** No reload starts after this (the node is stopping); one running finishes. */
  close(): void {
    this.#closed = true;
  }

  /**
   * Reads the file again and applies it; `source` (SIGHUP, api) goes in the
   * log. While one runs, callers share the single reload queued after it.
   */
  reload(source: string): Promise<ReloadOutcome> {
    if (this.#closed) {
      return Promise.resolve({ kind: "stopping" });
    }
    if (this.#running === null) return this.#start(source);
    this.#next ??= this.#running.then(() => {
      this.#next = null;
      return this.#start(source);
    });
    return this.#next;
  }

  #start(source: string): Promise<ReloadOutcome> {
    const run = this.#run(source).finally(() => {
      if (this.#running === run) this.#running = null;
    });
    this.#running = run;
    return run;
  }

  async #run(source: string): Promise<ReloadOutcome> {
    const log = this.#o.logger;
    const file = this.#config.file;
    log.info("reloading the configuration", { source, config: file });
    let next: Config;
    let node: Config["node"];
    let material: TlsMaterial;
    let accessNeeds: string[];
    const refuse = (errors: string[]): ReloadOutcome => {
      log.error("reload refused: the node keeps running as it was", { config: file });
      for (const line of errors) log.error(line);
      return { kind: "refused", errors };
    };
    try {
      next = await (this.#o.load ?? loadConfig)(file);
      // The keys a reload cannot change (the node's name, its TLS mode) keep their running value.
      node = settle(this.#config, next).config.node;
      material = await readTlsMaterial(node);
      checkTlsMaterial(node, material);
      // The last check that can fail, and the first change: nothing else fails after it.
      accessNeeds = this.#o.parts.access.reconfigure({ ...next, node }, accessPems(material));
    } catch (e) {
      if (e instanceof ConfigError) return refuse(e.message.split("\n"));
      if (e instanceof TlsFilesError || e instanceof AccessError) return refuse([e.message]);
      return refuse([`cannot reload: ${errorText(e)}`]);
    }
    // The expiry watch checks the new certificate itself.
    for (const w of next.warnings) if (w.code !== "cert_expiring") log.warn(formatWarning(w));
    const report = this.#apply(next, node, material, accessNeeds);
    log.info("configuration reloaded", summary(report));
    for (const key of report.needs_restart) {
      log.warn(`reload cannot change ${key}: the running value stays until portal restarts`, {
        key,
      });
    }
    return { kind: "applied", report };
  }

  /**
   * Applies a checked config to every part (the access layer has it already and said what
   * of it waits for a restart); `node` is its [mod_node] settled against the running one.
   * Nothing here fails.
   */
  #apply(
    next: Config,
    node: Config["node"],
    material: TlsMaterial,
    accessNeeds: string[],
  ): ReloadReport {
    const parts = this.#o.parts;
    const before = this.#config;
    const fed = parts.federation.reconfigure({ node: next.node, peers: next.peers });
    const needs = [...fed.needsRestart, ...accessNeeds];
    let devices: IotReload = { added: [], removed: [], changed: [] };
    if (parts.iot !== null && next.iot !== null) devices = parts.iot.reconfigure(next.iot);
    else if ((parts.iot === null) !== (next.iot === null)) needs.push("[mod_iot]");
    if (parts.http !== null) {
      needs.push(...parts.http.reconfigure(next.http).map((k) => `[mod_http] ${k}`));
    } else if (next.http.listen !== null) needs.push("[mod_http] listen");
    if (parts.level !== null) parts.level.level = next.portal.logLevel;
    if (before.portal.logFormat !== next.portal.logFormat) needs.push("log_format");
    const replaced = parts.credentials.install(
      material,
      node.tls && node.tlsClientAuth === "require",
    );
    parts.onCertificates(material, node.tlsCert);
    this.#config = {
      ...next,
      node: { ...node, auditLog: before.node.auditLog },
      iot: parts.iot === null ? null : next.iot,
      http: parts.http === null ? before.http : { ...next.http, listen: before.http.listen },
      portal: { ...next.portal, logFormat: before.portal.logFormat },
    };
    return {
      file: next.file,
      peers: {
        added: fed.added,
        removed: fed.removed,
        redialed: fed.redialed,
        updated: fed.updated,
      },
      devices,
      certificates: replaced ? "replaced" : "unchanged",
      log_level: next.portal.logLevel,
      needs_restart: needs,
    };
  }
}

/** The fields of the one INFO line a reload writes. */
function summary(r: ReloadReport): Record<string, string> {
  const list = (names: readonly string[]) => names.length === 0 ? "-" : names.join(",");
  return {
    peers_added: list(r.peers.added),
    peers_removed: list(r.peers.removed),
    peers_redialed: list(r.peers.redialed),
    peers_updated: list(r.peers.updated),
    devices_added: list(r.devices.added),
    devices_removed: list(r.devices.removed),
    devices_changed: list(r.devices.changed),
    certificates: r.certificates,
    log_level: r.log_level,
    needs_restart: list(r.needs_restart),
  };
}

/**
 * `CALL /node/reload`: for this node's own API with full access only (the
 * token, not read_token); other nodes get 403 whatever [acl] says. Answers
 * what was applied, or 400 with the file's mistakes.
 */
export function registerReloadPath(router: PathRouter, reloader: Reloader): void {
  router.on("CALL", RELOAD_PATH, async (req) => {
    if (req.origin !== null) {
      return fail(
        Status.Forbidden,
        `/node/reload is local: ${req.origin} may not reload this node`,
      );
    }
    if (req.role !== "full") {
      return fail(
        Status.Forbidden,
        "reloading needs full access ([mod_http] token, not read_token)",
      );
    }
    const outcome = await reloader.reload("api");
    if (outcome.kind === "applied") return ok(outcome.report);
    if (outcome.kind === "stopping") {
      return fail(Status.Overloaded, "the node is stopping: there is nothing left to reload");
    }
    return fail(
      Status.BadRequest,
      `the node keeps running as it was; ${outcome.errors.join("\n")}`,
    );
  });
}

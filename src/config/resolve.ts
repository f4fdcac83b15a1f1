/**
 * Resolution: raw INI sections sorted by kind, then each resolved by its own section module
 * (sections/), collecting every issue and warning rather than stopping at the first.
 */
import { isAbsolute, resolve } from "node:path";
import { type ConfigSource, ResolveContext } from "./context.ts";
import { type ConfigIssue, IssueCode } from "./errors.ts";
import {
  DEVICE_FIELDS,
  HTTP_FIELDS,
  IOT_FIELDS,
  NODE_FIELDS,
  PEER_FIELDS,
  PORTAL_FIELDS,
  type Table,
} from "./fields.ts";
import type { RawIni, RawSection } from "./ini.ts";
import { readSection } from "./read_section.ts";
import { resolveAcl } from "./sections/acl.ts";
import { resolveHttp } from "./sections/http.ts";
import { resolveIot } from "./sections/iot.ts";
import { type ReferencedFile, resolveNode } from "./sections/node.ts";
import { resolvePeers } from "./sections/peer.ts";
import { resolvePortal } from "./sections/portal.ts";
import { closest } from "./suggest.ts";
import type { Config } from "./types.ts";

export type { ConfigSource } from "./context.ts";
export type { ReferencedFile } from "./sections/node.ts";

/**
 * The resolved config, every issue found, and the files to check. When `issues` is not empty,
 * `config` is a best effort (defaults in place of bad values) that must not be used to run anything.
 */
export interface Resolution {
  readonly config: Config;
  readonly issues: readonly ConfigIssue[];
  /** Files the node will use with these settings: to check before it starts. */
  readonly files: readonly ReferencedFile[];
}

const SINGLE_SECTIONS = ["mod_node", "mod_http", "mod_iot", "portal", "acl"] as const;
type SingleSection = typeof SINGLE_SECTIONS[number];
const NAMED_SECTIONS = ["peer", "device"] as const;
type NamedSection = typeof NAMED_SECTIONS[number];
/** Tables of sections with fixed keys, to check a duplicate section's keys too. */
const TABLES: Readonly<Record<SingleSection | NamedSection, Table | null>> = {
  mod_node: NODE_FIELDS,
  mod_http: HTTP_FIELDS,
  mod_iot: IOT_FIELDS,
  portal: PORTAL_FIELDS,
  acl: null,
  peer: PEER_FIELDS,
  device: DEVICE_FIELDS,
};

type Classified =
  | { readonly kind: "single"; readonly id: SingleSection }
  | { readonly kind: NamedSection; readonly id: string }
  | { readonly kind: "unknown"; readonly hint: string };

/** Resolves raw INI into Config. */
export function resolveConfig(ini: RawIni, source: ConfigSource): Resolution {
  const ctx = new ResolveContext(source);
  const singles = new Map<string, RawSection>();
  const named: Record<NamedSection, Map<string, RawSection>> = {
    peer: new Map(),
    device: new Map(),
  };
  for (const section of ini.sections) {
    const c = classify(section.name);
    if (c.kind === "unknown") {
      ctx.issue(
        IssueCode.UnknownSection,
        section.line,
        `unknown section [${section.name}]${c.hint}`,
        { section: section.name },
      );
      continue;
    }
    const seen = c.kind === "single" ? singles : named[c.kind];
    const first = seen.get(c.id);
    if (!first) {
      seen.set(c.id, section);
      continue;
    }
    ctx.issue(
      IssueCode.DuplicateSection,
      section.line,
      `duplicate section [${section.name}] (first on line ${first.line})`,
      { section: section.name },
    );
    // Its keys are still checked, so one run reports everything; missing ones would be noise.
    const table = TABLES[c.kind === "single" ? c.id : c.kind];
    if (table) readSection(section, table, ctx, { requireKeys: false });
  }

  const n = resolveNode(singles.get("mod_node") ?? null, ctx);
  const { node } = n;
  const peers = resolvePeers(named.peer, node, n.present, ctx);
  const http = resolveHttp(singles.get("mod_http") ?? null, node, n.lines.listen_port, ctx);
  const iot = resolveIot(singles.get("mod_iot") ?? null, named.device, ctx);
  const portal = resolvePortal(singles.get("portal") ?? null, ctx);
  const acl = resolveAcl(singles.get("acl") ?? null, n.present ? node.name : null, ctx);

  const warnings = [...ctx.warnings].sort((a, b) => a.line - b.line);
  return {
    config: { file: source.absolutePath, node, peers, http, iot, portal, acl, warnings },
    issues: ctx.issues,
    files: n.files,
  };
}

function classify(name: string): Classified {
  const colon = name.indexOf(":");
  if (colon < 0) {
    const single = SINGLE_SECTIONS.find((s) => s === name);
    if (single) return { kind: "single", id: single };
    if ((NAMED_SECTIONS as readonly string[]).includes(name)) {
      return { kind: "unknown", hint: ` (it needs a name, as in [${name}:NAME])` };
    }
    const spaced = /^(peer|device)[\s._-]+(.+)$/i.exec(name);
    if (spaced) {
      return {
        kind: "unknown",
        hint: ` (did you mean [${spaced[1].toLowerCase()}:${spaced[2]}]?)`,
      };
    }
    const near = closest(name, SINGLE_SECTIONS);
    return { kind: "unknown", hint: near ? ` (did you mean [${near}]?)` : "" };
  }
  const prefix = name.slice(0, colon).trim();
  const id = name.slice(colon + 1).trim();
  if (prefix === "peer" || prefix === "device") return { kind: prefix, id };
  const near = closest(prefix, NAMED_SECTIONS);
  if (near) return { kind: "unknown", hint: ` (did you mean [${near}:${id}]?)` };
  const single = closest(name, SINGLE_SECTIONS);
  return { kind: "unknown", hint: single ? ` (did you mean [${single}]?)` : "" };
}

/** Absolute form of `file`, against `cwd` when relative. */
export function absolutePath(file: string, cwd: string): string {
  return isAbsolute(file) ? resolve(file) : resolve(cwd, file);
}

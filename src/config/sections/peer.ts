/** [peer:NAME]: the nodes this one knows, and the hubs through which they are reached. */
import type { ResolveContext } from "../context.ts";
import { IssueCode } from "../errors.ts";
import { PEER_FIELDS } from "../fields.ts";
import type { RawSection } from "../ini.ts";
import { readSection } from "../read_section.ts";
import { closest } from "../suggest.ts";
import type { NodeConfig, PeerConfig } from "../types.ts";
import { nodeNameProblem } from "../values.ts";
import { keyWeakness } from "./node.ts";

/** Resolves every [peer:NAME] section, by name, in file order. */
export function resolvePeers(
  sections: ReadonlyMap<string, RawSection>,
  node: NodeConfig,
  nodePresent: boolean,
  ctx: ResolveContext,
): PeerConfig[] {
  const names = [...sections.keys()];
  const out: PeerConfig[] = [];
  for (const [name, section] of sections) {
    const { values: v, lines } = readSection(section, PEER_FIELDS, ctx);
    const label = `[${section.name}]`;
    const where = { section: section.name };
    const problem = nodeNameProblem(name);
    if (problem !== null) {
      ctx.issue(
        IssueCode.BadName,
        section.line,
        `invalid peer name '${name}' in ${label}: ${problem}`,
        where,
      );
    } else if (nodePresent && name === node.name) {
      ctx.issue(
        IssueCode.BadName,
        section.line,
        `${label} names this node itself ([mod_node] name = ${node.name}); ` +
          `a node does not peer with itself`,
        where,
      );
    }
    const hubWhere = { ...where, key: "hub" };
    for (const hub of v.hub) {
      if (hub === name) {
        ctx.issue(
          IssueCode.BadValue,
          lines.hub!,
          `${label} names itself as its hub; name another [peer:...]`,
          hubWhere,
        );
      } else if (!sections.has(hub)) {
        const near = closest(hub, names.filter((k) => k !== name));
        ctx.issue(
          IssueCode.UnknownHub,
          lines.hub!,
          `hub '${hub}' in ${label} names no [peer:${hub}] section` +
            (nodePresent && hub === node.name
              ? ` ('${hub}' is this node)`
              : near
              ? ` (did you mean '${near}'?)`
              : `; add one with the hub's host and port`),
          hubWhere,
        );
      }
    }
    // A host that is present but bad was reported already; "needs host" would only repeat it.
    if (v.auto_connect && lines.host === undefined && lines.auto_connect !== undefined) {
      ctx.issue(
        IssueCode.Conflict,
        lines.auto_connect,
        `auto_connect = true in ${label} needs 'host' to dial`,
        { ...where, key: "auto_connect" },
      );
    }
    const weak = v.key === null ? null : keyWeakness(v.key);
    if (weak && v.key !== node.federationKey) {
      ctx.warn(lines.key!, `key in ${label} ${weak}`, { ...where, key: "key" });
    }
    out.push({
      name,
      host: v.host,
      port: v.port,
      autoConnect: v.auto_connect,
      hubs: v.hub,
      key: v.key ?? node.federationKey,
      workers: v.workers ?? node.workers,
      queueLimit: v.queue_limit ?? node.queueLimit,
      tlsServerName: v.tls_server_name ?? v.host,
      tlsVerify: v.tls_verify,
    });
  }
  return out;
}

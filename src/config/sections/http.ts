/** [mod_http]: the HTTP API, its tokens, and its place next to the federation listener. */
import { hostPortText } from "../../util/host.ts";
import type { ResolveContext } from "../context.ts";
import { IssueCode } from "../errors.ts";
import { HTTP_FIELDS } from "../fields.ts";
import type { RawSection } from "../ini.ts";
import { readSection } from "../read_section.ts";
import type { HttpConfig, NodeConfig } from "../types.ts";

/** Resolves [mod_http] (absent: the API is on with its defaults). */
export function resolveHttp(
  section: RawSection | null,
  node: NodeConfig,
  nodeListenPortLine: number | undefined,
  ctx: ResolveContext,
): HttpConfig {
  const { values: v, lines } = readSection(section, HTTP_FIELDS, ctx);
  const label = section?.name ?? "mod_http";
  const where = (key: string) => ({ section: label, key });
  const http: HttpConfig = {
    listen: v.listen,
    token: v.token,
    readToken: v.read_token,
    allowedHosts: v.allowed_hosts,
  };

  if (v.read_token !== null) {
    if (v.token === null) {
      ctx.issue(
        IssueCode.Conflict,
        lines.read_token!,
        `read_token in [${label}] needs token: without token every request has full access, ` +
          "so a read-only token would restrict nothing",
        where("read_token"),
      );
    } else if (v.read_token === v.token) {
      ctx.issue(
        IssueCode.Conflict,
        lines.read_token!,
        `read_token in [${label}] is the same as token; give the read-only token its own value`,
        where("read_token"),
      );
    }
  }
  if (v.allowed_hosts !== null && v.token !== null) {
    ctx.warn(
      lines.allowed_hosts!,
      `allowed_hosts in [${label}] has no effect while token is set ` +
        "(the token already keeps other web pages out)",
      where("allowed_hosts"),
    );
  }

  const clash = portClash(node, http);
  if (clash) {
    const inHttp = lines.listen !== undefined;
    ctx.issue(
      IssueCode.Conflict,
      (inHttp ? lines.listen : nodeListenPortLine) ?? 1,
      `the HTTP API (${clash}) and the federation listener (listen_port = ${node.listenPort}) ` +
        `would use the same port; change one of them`,
      inHttp ? where("listen") : { section: "mod_node", key: "listen_port" },
    );
  }
  return http;
}

/** The HTTP listen address when it would bind the federation listener's port, else null. */
function portClash(node: NodeConfig, http: HttpConfig): string | null {
  if (!http.listen || node.listenPort === null || node.listenPort === 0) return null;
  if (http.listen.port !== node.listenPort) return null;
  const wildcard = (h: string) => h === "0.0.0.0" || h === "::";
  const a = http.listen.hostname;
  const b = node.listenHost;
  if (a !== b && !wildcard(a) && !wildcard(b)) return null;
  return hostPortText(a, http.listen.port);
}

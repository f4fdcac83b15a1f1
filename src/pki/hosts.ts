/**
 * `--host` entries as subjectAltNames, by the project's one host rule (util/host.ts) with
 * wildcards allowed: IPv4 and IPv6 literals become IP names, everything else DNS names.
 */
import { parseHost } from "../util/host.ts";
import { CertError } from "./errors.ts";

/** One subjectAltName entry. */
export type SubjectAltName =
  | { readonly kind: "dns"; readonly value: string }
  | { readonly kind: "ip"; readonly value: string };

/** One `--host` entry as a subjectAltName; a usage error naming the entry otherwise. */
export function hostSan(input: string): SubjectAltName {
  if (input.trim() === "") throw new CertError("usage", "empty host name in --host");
  const host = parseHost(input, { wildcard: true, strict: true });
  if (!host.ok) throw new CertError("usage", `host '${input}': ${host.message}`);
  const { kind, value } = host.value;
  return kind === "dns" ? { kind, value } : { kind: "ip", value };
}

/** Every host (comma-separated lists allowed), dropping duplicates; at least one. */
export function parseHosts(hosts: readonly string[]): SubjectAltName[] {
  const out: SubjectAltName[] = [];
  const seen = new Set<string>();
  for (const entry of hosts) {
    for (const part of entry.split(",")) addSan(out, seen, hostSan(part));
  }
  if (out.length === 0) throw new CertError("usage", "at least one --host is required");
  return out;
}

/**
 * The subjectAltNames of a node certificate: the node name as a DNS name (so a name-checking
 * peer finds it in the SAN as well as in the CN), then every host. A name that cannot be a DNS
 * name (an IP-like `10.0.0.7`, or one with `_`) stays in the CN only.
 */
export function nodeSans(name: string, hosts: readonly string[]): SubjectAltName[] {
  const out: SubjectAltName[] = [];
  const seen = new Set<string>();
  const asHost = parseHost(name, { strict: true });
  if (asHost.ok && asHost.value.kind === "dns") addSan(out, seen, { kind: "dns", value: name });
  for (const san of parseHosts(hosts)) addSan(out, seen, san);
  return out;
}

function addSan(out: SubjectAltName[], seen: Set<string>, san: SubjectAltName): void {
  // DNS names compare case-insensitively: `Hub` and `hub` are one entry.
  const key = `${san.kind}:${san.value.toLowerCase()}`;
  if (seen.has(key)) return;
  seen.add(key);
  out.push(san);
}

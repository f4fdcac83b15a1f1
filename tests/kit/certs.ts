/** Certificates for local clusters: one CA and a leaf per node, valid for localhost and 127.0.0.1. */
import { genCerts } from "../../src/pki/mod.ts";

/**
 * Writes `ca.pem` and `NAME.pem`/`NAME.key` for each name into `dir` (default: a new temporary
 * directory, which the caller removes); returns the directory.
 */
export async function makeCertDir(names: readonly string[], dir?: string): Promise<string> {
  const into = dir ?? await Deno.makeTempDir({ prefix: "portal-test-" });
  for (const node of names) await genCerts({ dir: into, node, hosts: ["localhost", "127.0.0.1"] });
  return into;
}

/**
 * Which TLS listener the federation gets. Deno's own TLS (native_tls.ts) is
 * the lighter one; node:tls (node_tls.ts) serves where it cannot: client
 * certificates asked for, no ffi permission, not Linux, or its socket calls
 * failing at start (no /proc, say). A node always starts with one of them.
 */
import type { Logger } from "../log/logger.ts";
import type { TlsListenOptions } from "../transport/admission.ts";
import { nativeListenerUnavailable, openNativeTlsListener } from "../transport/native_tls.ts";
import { openNodeTlsListener } from "../transport/node_tls.ts";
import { type NodeTlsListener, TransportError } from "../transport/types.ts";

/** The two listeners and the check between them; injected in tests. */
export interface TlsListenerKinds {
  readonly native: (o: TlsListenOptions) => Promise<NodeTlsListener>;
  readonly node: (o: TlsListenOptions) => Promise<NodeTlsListener>;
  /** Why the native listener cannot serve `o` here, or null. */
  readonly unavailable: (o: TlsListenOptions) => string | null;
}

const KINDS: TlsListenerKinds = {
  native: openNativeTlsListener,
  node: openNodeTlsListener,
  unavailable: nativeListenerUnavailable,
};

/**
 * Opens the federation's TLS listener: the native one where it can serve,
 * else node:tls, saying why at info level (expected: client certificates, no
 * permission) or warning level (the native one failed to start).
 */
export async function openTlsListener(
  options: TlsListenOptions,
  log: Logger,
  kinds: TlsListenerKinds = KINDS,
): Promise<NodeTlsListener> {
  const why = kinds.unavailable(options);
  if (why !== null) {
    log.info("federation listener runs on node:tls", { reason: why });
    return kinds.node(options);
  }
  try {
    return await kinds.native(options);
  } catch (e) {
    if (!(e instanceof TransportError && e.code === "native_unavailable")) throw e;
    log.warn("federation listener runs on node:tls", { reason: e.message });
    return kinds.node(options);
  }
}

/**
 * Ports without races. A port is never picked ahead and handed to someone else to bind: either
 * we listen on port 0 and pass the listener (or its port) on while it stays open, or a child
 * node listens on port 0 and reports the real port in its log (see `nodeReady` in child.ts).
 */

/** The port of a listener's (or connection's) network address. */
export function portOf(holder: { readonly addr: Deno.Addr }): number {
  const addr = holder.addr;
  if (addr.transport !== "tcp" && addr.transport !== "udp") {
    throw new Error(`not a network address: ${addr.transport}`);
  }
  return addr.port;
}

/** The port of a `HOST:PORT` text (as in log fields); throws when there is none or it is 0. */
export function addressPort(address: string, what = "address"): number {
  const m = /:(\d+)$/.exec(address);
  const port = m ? Number(m[1]) : 0;
  // Port 0 would be a report made before binding: nothing to dial.
  if (!(port > 0 && port < 65536)) throw new Error(`no port in ${what} '${address}'`);
  return port;
}

/** A TCP listener on 127.0.0.1 at a port the kernel picked; hold it while its port is in use. */
export function listenLocal(): Deno.TcpListener {
  return Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
}

/**
 * A port on 127.0.0.1 with nothing listening, for "connection refused". It is bound and
 * released, unlike every other port here: nothing may listen there, so no listener can be held
 * for it (a connect to a held listener succeeds). The race left is the harmless one: nobody of
 * ours binds this port later, so nothing of ours can fail to start (the danger of picking a
 * port to bind later); at worst an unrelated process takes it meanwhile and a dial there finds
 * something that does not speak PORTAL02 or HTTP instead of a refusal.
 */
export function deadPort(): number {
  const l = listenLocal();
  const port = portOf(l);
  l.close();
  return port;
}

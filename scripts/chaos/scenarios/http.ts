/**
 * The HTTP API under a slow-client flood (1,500 idle or half-sent connections from one address)
 * while a client on another address keeps asking; DNS rebinding (a foreign Host without a
 * token); HEAD; and a health check without the token.
 */
import type net from "node:net";
import {
  api,
  beforeAfter,
  type Lab,
  ms,
  outcome,
  procFigures,
  rawHttp,
  type Scenario,
  sleep,
  steadyLoad,
  watchedConnect,
} from "../lab.ts";
import { FACTORY_HEALTH, startTrio } from "./trio.ts";

/** The API's header timeout (src/http/listen.ts default). */
const HEADER_TIMEOUT_MS = 10_000;

export const httpFlood: Scenario = {
  name: "HTTP slow-client flood",
  what: "1,500 idle or half-sent HTTP connections; Host rebinding; HEAD; health without token",
  async run(lab: Lab) {
    const { hub, office } = await startTrio(lab);
    const port = office.apiPort!;
    const before = procFigures(office.child.pid);
    const load = steadyLoad(port, FACTORY_HEALTH, 50);
    // 1,000 a second: faster, the kernel's accept queue overflows and drops connections
    // before the node ever sees them (idle ones then look open to the client for minutes).
    const conns: { socket: net.Socket; closed: Promise<number>; opened: number }[] = [];
    for (let i = 0; i < 1500; i++) {
      const c = watchedConnect(port, "127.0.0.2");
      // Half of them send most of a request head and stop there.
      if (i % 2 === 0) c.socket.write("GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
      conns.push({ ...c, opened: performance.now() });
      if (i % 100 === 99) await sleep(100);
    }
    const sockets = conns.map((c) => c.socket);
    const deadline = sleep(HEADER_TIMEOUT_MS + 5000).then(() => Infinity);
    const lifetimes = await Promise.all(
      conns.map((c) => Promise.race([c.closed.then((t) => t - c.opened), deadline])),
    );
    const tally = await load.stop();
    const stuck = conns.filter((_, i) => lifetimes[i] === Infinity);
    const stuckText = stuck.slice(0, 3).map((c) =>
      `${c.socket.localPort ?? "?"}:${c.socket.readyState}:${c.socket.bytesWritten}`
    ).join(", ");
    for (const s of sockets) s.destroy();
    const atOnce = lifetimes.filter((t) => t < 2000).length;
    const held = lifetimes.filter((t) => t >= HEADER_TIMEOUT_MS - 500);
    const last = lifetimes.length ? Math.max(...lifetimes) : Infinity;
    const evil = await rawHttp(
      port,
      "GET /api/node/peers HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    );
    const head = await api(port, "/api/health", { method: "HEAD" });
    const anonymousHealth = await api(hub.apiPort!, "/api/health");
    const anonymousStatus = await api(hub.apiPort!, "/api/node/status");
    await sleep(200);
    const after = procFigures(office.child.pid);
    return outcome([
      `${sockets.length} opened from 127.0.0.2: ${atOnce} refused within 2 s, ${held.length} ` +
      `held until the header timeout (${ms(HEADER_TIMEOUT_MS)}) and closed by ${ms(last)}`,
      `127.0.0.1 meanwhile ${tally}`,
      `Host evil.example → ${evil}`,
      `HEAD /api/health → ${head.status}`,
      `hub with a token: /api/health without it → ${anonymousHealth.status} ` +
      `${JSON.stringify(anonymousHealth.body)}, /api/node/status → ${anonymousStatus.status}`,
      `office ${beforeAfter(before, after)}`,
      ...(stuck.length ? [`${stuck.length} still open (${stuckText})`] : []),
    ], {
      "every connection closed within the header timeout": last < HEADER_TIMEOUT_MS + 1000,
      "the other address was served (only 200)": tally.only(200) && tally.total > 0,
      "a foreign Host is refused without a token": evil === 403,
      "HEAD answers": head.status === 200 && head.body === "",
      "health check without token: the status only": anonymousHealth.status === 200 &&
        JSON.stringify(anonymousHealth.body) === '{"status":"ok"}' &&
        anonymousStatus.status === 401,
      "no descriptors leaked": after.fds <= before.fds + 4,
    });
  },
};

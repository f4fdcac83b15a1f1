/** systemd's readiness protocol: a datagram such as READY=1 to $NOTIFY_SOCKET. */
import type { Logger } from "../log/logger.ts";

/** Sends `state` to systemd when run under Type=notify; does nothing otherwise. */
export async function notifySystemd(state: string, logger: Logger): Promise<boolean> {
  const target = Deno.env.get("NOTIFY_SOCKET");
  if (!target) return false;
  if (target.startsWith("@")) {
    logger.warn(
      "NOTIFY_SOCKET is an abstract socket, which this runtime cannot reach; use Type=exec",
    );
    return false;
  }
  // deno-lint-ignore no-explicit-any
  const listenDatagram = (Deno as any).listenDatagram as
    | ((o: { transport: "unixpacket"; path: string }) => Deno.DatagramConn)
    | undefined;
  if (!listenDatagram) {
    logger.warn(
      'cannot notify systemd: Deno.listenDatagram is missing (deno.json enables it with "unstable": ["net"])',
    );
    return false;
  }
  // A unix datagram needs a bound sender; PrivateTmp gives each service its own /tmp.
  const own = `${Deno.env.get("TMPDIR") ?? "/tmp"}/portal-notify-${Deno.pid}.sock`;
  let conn: Deno.DatagramConn | null = null;
  try {
    await Deno.remove(own).catch(() => {});
    conn = listenDatagram({ transport: "unixpacket", path: own });
    await conn.send(new TextEncoder().encode(state), { transport: "unixpacket", path: target });
    return true;
  } catch (e) {
    logger.warn("cannot notify systemd", { socket: target, reason: (e as Error).message });
    return false;
  } finally {
    conn?.close();
    await Deno.remove(own).catch(() => {});
  }
}

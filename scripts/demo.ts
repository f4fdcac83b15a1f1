/**
 * `npx -y deno@2.9.6 task demo [--keep]`: three real Portal nodes on this machine and a short tour.
 *
 * In a fresh temporary directory it makes a CA and node certificates, writes node.ini files for
 * a hub, an office and a factory "behind NAT" (the office's direct address for it is a dead port,
 * so the office reaches it through the hub; the factory only dials out, to the hub), starts the
 * three as child processes of main.ts with their logs in files there, waits until the office
 * reaches the factory through the hub, and prints the real output of `portal shell` and of the
 * HTTP API on the office. With a terminal it then opens `portal shell` on the office, and the
 * demo ends when the shell does (`exit` or Ctrl-D; Ctrl-C in the shell only clears the line, as
 * in any shell); without one it stops after the tour.
 *
 * On its end, on Ctrl-C before the shell opens, on SIGTERM and on SIGHUP (the terminal closed)
 * every node is stopped (SIGTERM, SIGKILL after 5 s) and the directory removed. `--keep` leaves
 * both, and prints the PIDs and how to stop them.
 *
 * Exit status: 0 done, 1 something failed (the node concerned and the tail of its log are
 * printed), 2 bad arguments, 129/130/143 interrupted by SIGHUP/SIGINT/SIGTERM.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { makeCertDir } from "../tests/kit/certs.ts";
import { type Child, type NodePorts, readyPorts } from "../tests/kit/child.ts";
import { deadPort } from "../tests/kit/ports.ts";
import { factoryIni, hubIni, officeIni } from "./demo/configs.ts";
import { type Deadline, deadlineIn, DemoError, Interrupted, Session } from "./demo/session.ts";
import { runTour } from "./demo/tour.ts";

/** Exit statuses of this script. */
export const EXIT = { ok: 0, failed: 1, usage: 2, sighup: 129, sigint: 130, sigterm: 143 } as const;

/** How long the three nodes get to start and find each other. */
export const START_DEADLINE_MS = 15_000;

/** The commands of the tour, run in one shell session so `cd` carries over. */
export const TOUR: readonly string[] = [
  "node peers",
  "node status",
  "cd /node/factory",
  "ls /iot/devices",
  "iot on plug-001",
];

const USAGE = `usage: deno task demo [--keep]

Starts three Portal nodes on this machine (hub, office, and a factory behind NAT reached through
the hub), shows the shell and the HTTP API on the office, then opens the shell (with a terminal).
  --keep   leave the nodes running and their directory in place, and print how to stop them
Everything lives in a temporary directory that is removed when the demo stops.`;

const NODES = ["hub", "office", "factory"] as const;
const READY = /\bnode ready\b/;
const SIGNALS = { SIGHUP: EXIT.sighup, SIGINT: EXIT.sigint, SIGTERM: EXIT.sigterm } as const;
type DemoSignal = keyof typeof SIGNALS;

/** A node's port that its `node ready` line must have reported. */
function port(node: Child, ports: NodePorts, which: keyof NodePorts): number {
  const p = ports[which];
  if (p === null) throw new DemoError("setup", `${node.name} reported no ${which} address`, node);
  return p;
}

/** The tour; returns once it is over (and the interactive shell, if any, has ended). */
async function tour(session: Session, keep: boolean, startedAt: number): Promise<number> {
  const dir = session.dir;
  console.log(`Portal demo: hub, office and a factory behind NAT, on this machine.`);
  console.log(`  directory: ${dir} (certificates, node.ini files, logs)`);
  console.log(`  logs: ${NODES.map((n) => `${dir}/${n}.log`).join(", ")}`);
  await makeCertDir(NODES, dir);
  const deadline: Deadline = deadlineIn(START_DEADLINE_MS);
  const ready = async (node: Child, also: readonly Promise<never>[]) =>
    readyPorts((await session.expect(node, READY, "start", deadline, also)).input, node.name)!;

  // The hub first, on a port of its choosing, so the others are written with the real one.
  await Deno.writeTextFile(`${dir}/hub.ini`, hubIni());
  const hub = session.startNode("hub");
  const hubAt = await ready(hub, []);
  const hubPort = port(hub, hubAt, "federation");
  const dead = deadPort();
  await Deno.writeTextFile(`${dir}/office.ini`, officeIni(hubPort, dead));
  await Deno.writeTextFile(`${dir}/factory.ini`, factoryIni(hubPort));
  const office = session.startNode("office");
  const factory = session.startNode("factory");
  console.log(`nodes: hub=${hub.pid} office=${office.pid} factory=${factory.pid}`);
  const everyone = [hub.died, office.died, factory.died];

  const [officeAt, factoryAt] = await Promise.all([
    ready(office, everyone),
    ready(factory, everyone),
  ]);
  const authenticated = (peer: string) => new RegExp(`\\bauthenticated\\b.*\\bpeer=${peer}\\b`);
  await Promise.all([
    session.expect(factory, authenticated("hub"), "connect to the hub", deadline, everyone),
    session.expect(office, authenticated("hub"), "connect to the hub", deadline, everyone),
    session.expect(hub, authenticated("factory"), "accept factory", deadline, everyone),
    session.expect(hub, authenticated("office"), "accept office", deadline, everyone),
  ]);
  // The hub announces who is connected to it (PORTAL02 §9); office logs when factory is there.
  await session.expect(
    office,
    /factory is reachable via hub/,
    "hear from the hub that factory is there",
    deadline,
    everyone,
  );
  const officeUrl = `http://127.0.0.1:${port(office, officeAt, "api")}`;
  await checkViaHub(session, office, officeUrl, everyone);
  console.log(
    `  hub      federation 127.0.0.1:${hubPort}, API http://127.0.0.1:${port(hub, hubAt, "api")}`,
  );
  console.log(
    `  office   federation 127.0.0.1:${port(office, officeAt, "federation")}, API ${officeUrl}; ` +
      `factory's direct address 127.0.0.1:${dead} is dead, so it goes via the hub`,
  );
  console.log(
    `  factory  no listener (behind NAT), dials the hub; ` +
      `API http://127.0.0.1:${port(factory, factoryAt, "api")}`,
  );
  console.log(
    `office reaches factory through the hub (${((Date.now() - startedAt) / 1000).toFixed(1)} s).`,
  );

  console.log(`\nThe shell on office (portal shell --url ${officeUrl}):\n`);
  await runTour(session, office, officeUrl, TOUR, everyone);

  const curlUrl = `${officeUrl}/api/node/factory/health`;
  console.log(`\nThe same route over HTTP:\n`);
  console.log(`$ curl ${curlUrl}`);
  console.log(await session.fetchText(office, curlUrl, everyone));
  console.log();

  if (keep) {
    session.keep();
    const pids = session.nodes.map((n) => n.pid).join(" ");
    console.log(`--keep: the nodes keep running and ${dir} stays.`);
    // The URL, not office.ini: its [mod_http] says port 0, which the shell cannot call.
    console.log(`  shell:  npx -y deno@2.9.6 task start shell --url ${officeUrl}`);
    console.log(`  logs:   tail -f ${dir}/*.log`);
    console.log(`  stop:   kill ${pids} && rm -rf ${dir}`);
  } else if (Deno.stdin.isTerminal()) {
    console.log(
      "Opening portal shell on office. 'exit' or Ctrl-D ends the demo (the nodes stop and the " +
        "directory goes); Ctrl-C in the shell only clears the line.",
    );
    await session.interactive(officeUrl);
  } else {
    console.log("No terminal: not opening the interactive shell.");
  }
  return EXIT.ok;
}

/** office's /api/node/peers must show factory via the hub. */
async function checkViaHub(
  session: Session,
  office: Child,
  url: string,
  also: readonly Promise<never>[],
): Promise<void> {
  const text = await session.fetchText(office, `${url}/api/node/peers`, also);
  let peers: unknown;
  try {
    peers = JSON.parse(text);
  } catch {
    throw new DemoError("tour", `office's /api/node/peers is not JSON: ${text}`, office);
  }
  const factory = Array.isArray(peers)
    ? peers.find((p) => typeof p === "object" && p !== null && p.name === "factory")
    : undefined;
  if (factory?.status !== "via-hub" || factory?.via !== "hub") {
    throw new DemoError(
      "tour",
      `office does not list factory as reached via the hub: ${JSON.stringify(factory ?? peers)}`,
      office,
    );
  }
}

/** Runs the demo with `args`; resolves to the exit status once everything is stopped (or kept). */
export async function demo(args: string[]): Promise<number> {
  const startedAt = Date.now();
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { keep: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`demo: ${(e as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const session = await Session.open();
  let signalled: DemoSignal | null = null;
  const handlers = (Object.keys(SIGNALS) as DemoSignal[]).map((sig) => {
    const h = () => {
      signalled ??= sig;
      session.interrupt(sig);
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  let code: number;
  try {
    code = await tour(session, values.keep === true, startedAt);
  } catch (e) {
    // After a signal, whatever broke in the middle is a consequence of stopping, not news.
    if (signalled === null && !(e instanceof Interrupted)) await session.report(e);
    code = EXIT.failed;
  }
  if (signalled !== null) code = SIGNALS[signalled];
  if (!session.kept) {
    await session.shutdown();
    await session.removeDir();
    await session.restoreTerminal();
  }
  for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  return code;
}

if (import.meta.main) {
  Deno.exit(await demo(Deno.args));
}

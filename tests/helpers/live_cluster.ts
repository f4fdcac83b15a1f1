/**
 * Three main.ts processes over TLS for the "see the federation live" tests: a hub, factory
 * (dial-only, behind the hub, two simulated devices, an API for looking inside) and office
 * (dial-only, reaching factory through the hub, its API behind a token).
 */
import {
  type Child,
  deadPort,
  device,
  http,
  iot,
  makeCertDir,
  modNode,
  nodeReady,
  peer,
  startNode,
  stopAll,
  writeIni,
} from "../kit/mod.ts";

/** Office's API token. */
export const OFFICE_TOKEN = "office-dashboard-token-0123456789";

/** A running cluster; `stop` ends every process and removes the directory. */
export interface LiveCluster {
  readonly dir: string;
  readonly hub: Child;
  readonly factory: Child;
  readonly office: Child;
  /** API base URLs (`http://127.0.0.1:PORT`). */
  readonly hubUrl: string;
  readonly factoryUrl: string;
  readonly officeUrl: string;
  stop(): Promise<void>;
}

/** Starts hub, factory and office and waits until office reaches factory through the hub. */
export async function startLiveCluster(): Promise<LiveCluster> {
  const dir = await makeCertDir(["hub", "office", "factory"]);
  const nodes: Child[] = [];
  const stop = async () => {
    await stopAll(nodes);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const hub = startNode(
      "hub",
      await writeIni(dir, "hub", modNode("hub", { extra: { ping_interval: "1s" } }), http()),
    );
    nodes.push(hub);
    const hubAt = await nodeReady(hub);
    const factory = startNode(
      "factory",
      await writeIni(
        dir,
        "factory",
        modNode("factory", {
          listenPort: "off",
          extra: { reconnect_initial: "200ms", reconnect_max: "1s" },
        }),
        peer("hub", { port: hubAt.federation! }),
        http(),
        iot({ poll_interval: "1h" }),
        device("plug-001", { driver: "sim", label: "Press line plug" }),
        device("valve-001", { driver: "sim", label: "Coolant valve", kind: "valve" }),
      ),
    );
    nodes.push(factory);
    const office = startNode(
      "office",
      await writeIni(
        dir,
        "office",
        modNode("office", { listenPort: "off" }),
        peer("hub", { port: hubAt.federation! }),
        peer("factory", { port: deadPort(), hub: "hub", autoConnect: false }),
        http("127.0.0.1:0", { token: OFFICE_TOKEN }),
      ),
    );
    nodes.push(office);
    const [factoryAt, officeAt] = await Promise.all([nodeReady(factory), nodeReady(office)]);
    await office.waitFor(/factory is reachable via hub/, "office to hear factory is at the hub");
    return {
      dir,
      hub,
      factory,
      office,
      hubUrl: `http://127.0.0.1:${hubAt.api}`,
      factoryUrl: `http://127.0.0.1:${factoryAt.api}`,
      officeUrl: `http://127.0.0.1:${officeAt.api}`,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Office's API headers. */
export const officeAuth = { authorization: `Bearer ${OFFICE_TOKEN}` } as const;

/** GETs `url` and parses JSON; throws with the body on a non-2xx answer. */
export async function getJson(url: string, headers: HeadersInit = {}): Promise<unknown> {
  const r = await fetch(url, { headers });
  const text = await r.text();
  if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${text}`);
  return JSON.parse(text);
}

/** The value of one sample in an exposition (`name{a="b",…}`), or null when absent. */
export function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | null {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((
        x,
      ) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return null;
}

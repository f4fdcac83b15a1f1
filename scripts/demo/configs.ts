/**
 * The demo's three node.ini files. The hub is written first and listens on a port of its
 * choosing; office and factory are written once its real port is known.
 */
import {
  comment,
  device,
  http,
  iniText,
  iot,
  modNode,
  type ModNodeOptions,
  peer,
} from "../../tests/kit/ini.ts";

/** The demo federation's shared key. */
export const DEMO_KEY = "portal-demo-key-0123456789abcdef";

function node(name: string, listenPort: number | "off"): string {
  const options: ModNodeOptions = { listenPort, key: DEMO_KEY };
  return modNode(name, options);
}

/** The hub: listens, knows nobody in advance, relays between whoever dials in. */
export function hubIni(): string {
  return iniText(
    comment("Portal demo: the hub. It has no [peer:...] sections: office and factory dial in."),
    node("hub", 0),
    http(),
  );
}

/** The office: dials the hub; its direct address for the factory is dead, so the hub relays. */
export function officeIni(hubPort: number, deadPort: number): string {
  return iniText(
    comment(
      "Portal demo: the office. The factory is behind NAT: its direct address below goes\n" +
        "nowhere, so requests to it go through the hub.",
    ),
    node("office", 0),
    peer("hub", { port: hubPort }),
    peer("factory", { port: deadPort, hub: "hub" }),
    http(),
  );
}

/** The factory: behind NAT, so no listener; it dials the hub and drives two (simulated) plugs. */
export function factoryIni(hubPort: number): string {
  return iniText(
    comment("Portal demo: the factory, behind NAT. It listens on nothing and dials the hub."),
    node("factory", "off"),
    peer("hub", { port: hubPort }),
    http(),
    iot(),
    device("plug-001", { driver: "sim", kind: "plug", label: "Press line plug" }),
    device("plug-002", { driver: "sim", kind: "plug", label: "Conveyor plug" }),
  );
}

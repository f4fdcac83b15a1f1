/** The lab's usual federation: a hub with office and factory dialing in, factory reached via the hub. */
import { device, type IniFields, iot, peer } from "../../../tests/kit/ini.ts";
import { FAST, type Lab, type LabNode, logged, TOKEN } from "../lab.ts";

/** Hub, factory and office, each link up and office's route to factory through the hub. */
export interface Trio {
  readonly hub: LabNode;
  readonly factory: LabNode;
  readonly office: LabNode;
  /** The configs of factory and office, for restarts. */
  readonly factorySpec: Parameters<Lab["start"]>[0];
}

/** The header that opens the hub's API (it has a token). */
export const HUB_AUTH = { authorization: `Bearer ${TOKEN}` };

/** Starts hub, factory and office; resolves when office reaches factory via the hub. */
export async function startTrio(lab: Lab, hubExtra: IniFields = {}): Promise<Trio> {
  const hub = await lab.start({ name: "hub", api: "token", extra: { ...FAST, ...hubExtra } });
  const hubAt = { port: hub.fedPort! };
  const factorySpec = {
    name: "factory",
    listen: "off" as const,
    extra: FAST,
    peers: [peer("hub", hubAt), iot(), device("plug-001", { driver: "sim" })],
  };
  const factory = await lab.start(factorySpec);
  const office = await lab.start({
    name: "office",
    listen: "off",
    api: "open",
    extra: FAST,
    peers: [peer("hub", hubAt), peer("factory", { hub: "hub" })],
  });
  await logged(office, "factory is reachable via hub");
  return { hub, factory, office, factorySpec };
}

/** The path office asks for factory's health. */
export const FACTORY_HEALTH = "/api/node/factory/health";

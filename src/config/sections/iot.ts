/** [mod_iot] and its [device:ID] sections: the devices this node drives. */
import type { ResolveContext } from "../context.ts";
import { IssueCode } from "../errors.ts";
import { DEVICE_FIELDS, DRIVER_ONLY_KEYS, IOT_FIELDS, NETWORK_DRIVERS } from "../fields.ts";
import type { RawSection } from "../ini.ts";
import { readSection, type SectionValues } from "../read_section.ts";
import type { DeviceConfig, IotConfig } from "../types.ts";
import { deviceIdProblem } from "../values.ts";

/** Resolves [mod_iot] and every [device:ID]; null when there is no [mod_iot]. */
export function resolveIot(
  iotSection: RawSection | null,
  devices: ReadonlyMap<string, RawSection>,
  ctx: ResolveContext,
): IotConfig | null {
  const resolved: DeviceConfig[] = [];
  for (const [id, section] of devices) {
    const d = readSection(section, DEVICE_FIELDS, ctx);
    resolved.push(resolveDevice(id, section, d, iotSection !== null, ctx));
  }
  if (!iotSection) return null;
  const { values } = readSection(iotSection, IOT_FIELDS, ctx);
  return { pollIntervalMs: values.poll_interval, devices: resolved };
}

function resolveDevice(
  id: string,
  section: RawSection,
  d: SectionValues<typeof DEVICE_FIELDS>,
  hasIot: boolean,
  ctx: ResolveContext,
): DeviceConfig {
  const v = d.values;
  const label = `[${section.name}]`;
  const where = { section: section.name };
  if (!hasIot) {
    ctx.issue(
      IssueCode.MissingSection,
      section.line,
      `${label} needs a [mod_iot] section (it may be empty)`,
      where,
    );
  }
  const problem = deviceIdProblem(id);
  if (problem !== null) {
    ctx.issue(
      IssueCode.BadName,
      section.line,
      `invalid device id '${id}' in ${label}: ${problem}`,
      where,
    );
  }
  // Driver-specific rules only make sense once the driver itself is known to be right.
  if (d.valid.has("driver")) {
    // A host that is present but bad was reported already; "missing" would only repeat it.
    if (NETWORK_DRIVERS.includes(v.driver) && d.lines.host === undefined) {
      ctx.issue(
        IssueCode.MissingKey,
        section.line,
        `missing 'host' in ${label}: driver '${v.driver}' reaches the device over the network`,
        { ...where, key: "host" },
      );
    }
    for (const [key, drivers] of Object.entries(DRIVER_ONLY_KEYS)) {
      const line = d.lines[key as keyof typeof DEVICE_FIELDS];
      if (line === undefined || drivers.includes(v.driver)) continue;
      ctx.issue(
        IssueCode.Conflict,
        line,
        `'${key}' in ${label} is not used by driver '${v.driver}' ` +
          `(only by ${drivers.join(", ")}); remove it`,
        { ...where, key },
      );
    }
    if (
      v.driver === "tasmota" && (d.lines.user === undefined) !== (d.lines.password === undefined)
    ) {
      const key = d.lines.user === undefined ? "password" : "user";
      ctx.issue(
        IssueCode.Conflict,
        d.lines[key] ?? section.line,
        `${label} sets '${key}' without '${key === "user" ? "password" : "user"}'; ` +
          `Tasmota web auth needs both (its default user is 'admin')`,
        { ...where, key },
      );
    }
  }
  return {
    id,
    driver: v.driver,
    host: v.host,
    kind: v.kind,
    label: v.label ?? id,
    user: v.user,
    password: v.password,
    channel: v.channel,
    timeoutMs: v.timeout,
  };
}

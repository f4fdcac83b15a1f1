/**
 * mod_iot: the devices this node drives, served as paths (PATHS.md):
 * GET/LIST `/iot/devices`, GET `/iot/devices/<id>`, CALL `/iot/devices/<id>/on|off|toggle`.
 * Network devices are polled every `pollIntervalMs`; a change becomes a log
 * line, a counter and an event on `/iot/devices/<id>`.
 */
import type { DeviceConfig, DriverName, IotConfig } from "../../config/types.ts";
import type { Logger } from "../../log/logger.ts";
import type { Clock, TimerHandle } from "../../util/clock.ts";
import { Status } from "../../wire/constants.ts";
import { fail, ok } from "../../paths/mod.ts";
import type { PathRequest, PathResponse, PathRouter } from "../../paths/mod.ts";
import type { DeviceDriver } from "./driver.ts";
import { createDriver } from "./registry.ts";
import { DeviceError, IotConfigError } from "./errors.ts";
import { isValidHost } from "./http.ts";
import { DeviceLock } from "./lock.ts";

/** What the module needs from the node. */
export interface IotDeps {
  /** Schedules polls and times out device calls. */
  readonly clock: Clock;
  readonly logger: Logger;
  /** Used for every device call. Default: the global fetch. */
  readonly fetch?: typeof fetch;
  /** Called with (`/iot/devices/<id>`, device object) whenever a device's on/online changes. */
  readonly onEvent?: (topic: string, data: unknown) => void;
}

/** One device as every way in sees it. */
export interface DeviceView {
  readonly id: string;
  readonly kind: string;
  readonly label: string;
  readonly driver: DriverName;
  /** null while unknown: before the first answer, and while the device is offline. */
  readonly on: boolean | null;
  /** Whether the last exchange with the device succeeded. */
  readonly online: boolean;
  /** Why the device is offline (one sentence); null when online or not yet contacted. */
  readonly error: string | null;
}

/** Running totals since the module was created. */
export interface IotCounters {
  /** State reads sent by the poller. */
  readonly polls: number;
  /** on/online changes observed (by polls and by commands). */
  readonly changes: number;
  /** Exchanges the device failed (timeouts, refusals, bad answers), polls and commands alike. */
  readonly failures: number;
  /** on/off/toggle commands carried out or attempted. */
  readonly commands: number;
}

/** The CALL actions under `/iot/devices/<id>/`. */
export const DeviceAction = { On: "on", Off: "off", Toggle: "toggle" } as const;
export type DeviceAction = typeof DeviceAction[keyof typeof DeviceAction];
const ACTIONS: readonly DeviceAction[] = [DeviceAction.Off, DeviceAction.On, DeviceAction.Toggle];

/** Commands that may wait for one busy device; more answer 503 at once. */
export const MAX_WAITING_COMMANDS = 8;

/** The module's surface, for the node's startup and status reporting. */
export interface IotModule {
  /** Adds the `/iot/...` routes. */
  register(router: PathRouter): void;
  /** Reads every network device now, then every `pollIntervalMs` (0: only now). */
  start(): void;
  /** Cancels timers, queued commands and in-flight device calls; resolves when nothing is left. */
  stop(): Promise<void>;
  /** Resolves once no poll or command is in flight (a hanging device holds it up to its timeout). */
  idle(): Promise<void>;
  /** All devices, in config order. */
  devices(): DeviceView[];
  /** One device, or null when no device has that id. */
  device(id: string): DeviceView | null;
  /** A snapshot of the counters. */
  readonly counters: IotCounters;
}

/** How the link to a device stands; `unknown` until the first exchange. */
type Link =
  | { readonly kind: "unknown" }
  | { readonly kind: "online" }
  | { readonly kind: "offline"; readonly error: string };

type Lifecycle = { readonly kind: "created" } | { readonly kind: "running" } | {
  readonly kind: "stopped";
};

const ONLINE: Link = { kind: "online" };
const UNKNOWN: Link = { kind: "unknown" };

/** Everything the module tracks about one device. */
class Device {
  on: boolean | null;
  link: Link;
  pollTimer: TimerHandle | null = null;
  readonly lock = new DeviceLock(MAX_WAITING_COMMANDS);

  constructor(readonly config: DeviceConfig, readonly driver: DeviceDriver) {
    // A sim switch is known from the start: it is off and always reachable.
    this.on = driver.networked ? null : false;
    this.link = driver.networked ? UNKNOWN : ONLINE;
  }

  view(): DeviceView {
    return {
      id: this.config.id,
      kind: this.config.kind,
      label: this.config.label,
      driver: this.config.driver,
      on: this.on,
      online: this.link.kind === "online",
      error: this.link.kind === "offline" ? this.link.error : null,
    };
  }
}

/** Checks what the config parser cannot know matters here; throws IotConfigError. */
function validate(config: IotConfig): void {
  if (!Number.isFinite(config.pollIntervalMs) || config.pollIntervalMs < 0) {
    throw new IotConfigError(
      "bad_value",
      `[mod_iot] poll_interval must be a duration of 0 or more, not ${config.pollIntervalMs}ms`,
    );
  }
  const seen = new Set<string>();
  for (const d of config.devices) {
    if (seen.has(d.id)) {
      throw new IotConfigError("duplicate_device", `[device:${d.id}] is defined twice`);
    }
    seen.add(d.id);
    if (d.driver !== "sim") {
      if (d.host === null || d.host === "") {
        throw new IotConfigError(
          "missing_host",
          `[device:${d.id}] uses driver ${d.driver} but has no host (add host = <address>[:port])`,
        );
      }
      if (!isValidHost(d.host)) {
        throw new IotConfigError(
          "bad_host",
          `[device:${d.id}] host ${JSON.stringify(d.host)} is not an address with an ` +
            `optional port (write e.g. 10.0.0.5 or plug.local:8080, without http://)`,
        );
      }
    }
    if (!Number.isFinite(d.timeoutMs) || d.timeoutMs <= 0) {
      throw new IotConfigError(
        "bad_value",
        `[device:${d.id}] timeout must be more than 0, not ${d.timeoutMs}ms`,
      );
    }
    if (!Number.isInteger(d.channel) || d.channel < 0) {
      throw new IotConfigError(
        "bad_value",
        `[device:${d.id}] channel must be a whole number of 0 or more, not ${d.channel}`,
      );
    }
  }
}

class Iot implements IotModule {
  readonly #config: IotConfig;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #onEvent: ((topic: string, data: unknown) => void) | null;
  readonly #devices = new Map<string, Device>();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #stopper = new AbortController();
  #lifecycle: Lifecycle = { kind: "created" };
  #polls = 0;
  #changes = 0;
  #failures = 0;
  #commands = 0;

  constructor(config: IotConfig, deps: IotDeps) {
    validate(config);
    this.#config = config;
    this.#clock = deps.clock;
    this.#log = deps.logger.with({ module: "iot" });
    this.#onEvent = deps.onEvent ?? null;
    const http = { fetch: deps.fetch ?? fetch, clock: deps.clock };
    for (const d of config.devices) {
      this.#devices.set(d.id, new Device(d, createDriver(d, http)));
      if (d.driver === "shelly" && (d.user !== null || d.password !== null)) {
        this.#log.warn(
          `[device:${d.id}] user and password are ignored: Portal does not support Shelly ` +
            `authentication, so turn it off on the device`,
          { device: d.id },
        );
      }
    }
  }

  get counters(): IotCounters {
    return {
      polls: this.#polls,
      changes: this.#changes,
      failures: this.#failures,
      commands: this.#commands,
    };
  }

  devices(): DeviceView[] {
    return [...this.#devices.values()].map((d) => d.view());
  }

  device(id: string): DeviceView | null {
    return this.#devices.get(id)?.view() ?? null;
  }

  register(router: PathRouter): void {
    router.on("GET", "/iot/devices", () => ok(this.devices()));
    router.on("LIST", "/iot/devices", () => ok(this.devices()));
    router.on("GET", "/iot/devices/:id", (_req, p) => {
      const d = this.#devices.get(p.id);
      return d ? ok(d.view()) : this.#unknownDevice(p.id);
    });
    router.on("LIST", "/iot/devices/:id", (_req, p) => {
      return this.#devices.has(p.id) ? ok([...ACTIONS]) : this.#unknownDevice(p.id);
    });
    for (const action of ACTIONS) {
      router.on("CALL", `/iot/devices/:id/${action}`, (req, p) => this.#command(req, p.id, action));
    }
    router.on("CALL", "/iot/devices/:id/:action", (_req, p) => {
      if (!this.#devices.has(p.id)) return this.#unknownDevice(p.id);
      return fail(
        Status.NotFound,
        `device ${p.id} has no action ${JSON.stringify(p.action)} (use on, off or toggle)`,
      );
    });
  }

  start(): void {
    switch (this.#lifecycle.kind) {
      case "running":
        return;
      case "stopped":
        throw new Error("the iot module was stopped and cannot be started again");
      case "created":
        break;
    }
    this.#lifecycle = { kind: "running" };
    const networked = [...this.#devices.values()].filter((d) => d.driver.networked);
    this.#log.info(`polling ${networked.length} network device(s)`, {
      devices: this.#devices.size,
      poll_interval_ms: this.#config.pollIntervalMs,
    });
    for (const d of networked) this.#poll(d);
  }

  async stop(): Promise<void> {
    if (this.#lifecycle.kind !== "stopped") {
      this.#lifecycle = { kind: "stopped" };
      for (const d of this.#devices.values()) {
        if (d.pollTimer !== null) this.#clock.clear(d.pollTimer);
        d.pollTimer = null;
      }
      this.#stopper.abort();
    }
    await this.idle();
  }

  async idle(): Promise<void> {
    while (this.#inflight.size > 0) {
      await Promise.allSettled([...this.#inflight]);
    }
  }

  #unknownDevice(id: string): PathResponse {
    const known = [...this.#devices.keys()];
    const list = known.length === 0
      ? "this node has no devices"
      : `known: ${known.slice(0, 10).join(", ")}${known.length > 10 ? ", …" : ""}`;
    return fail(Status.NotFound, `no device ${JSON.stringify(id)} on this node (${list})`);
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    const done = () => this.#inflight.delete(p);
    p.then(done, done);
    return p;
  }

  #command(
    req: PathRequest,
    id: string,
    action: DeviceAction,
  ): Promise<PathResponse> | PathResponse {
    const d = this.#devices.get(id);
    if (!d) return this.#unknownDevice(id);
    if (this.#lifecycle.kind === "stopped") {
      return fail(Status.Overloaded, `device ${id} was not switched: the node is shutting down`);
    }
    const signal = req.signal
      ? AbortSignal.any([req.signal, this.#stopper.signal])
      : this.#stopper.signal;
    return this.#track(this.#runCommand(d, action, signal, req.origin ?? "local"));
  }

  async #runCommand(
    d: Device,
    action: DeviceAction,
    signal: AbortSignal,
    by: string,
  ): Promise<PathResponse> {
    const id = d.config.id;
    try {
      await d.lock.acquire(
        signal,
        () =>
          new DeviceError(
            "busy",
            `device ${id} already has ${MAX_WAITING_COMMANDS} commands waiting; try again shortly`,
          ),
        () => new DeviceError("cancelled", `the ${action} command for device ${id} was cancelled`),
      );
    } catch (e) {
      return this.#failure(d, e, by);
    }
    try {
      this.#commands++;
      const on = action === DeviceAction.Toggle
        ? await d.driver.toggle(signal)
        : await d.driver.set(action === DeviceAction.On, signal);
      this.#observe(d, on, ONLINE, by);
      return ok(d.view());
    } catch (e) {
      return this.#failure(d, e, by);
    } finally {
      d.lock.release();
    }
  }

  /** Maps a failed command to its response; device faults also mark the device offline. */
  #failure(d: Device, e: unknown, by: string): PathResponse {
    if (!(e instanceof DeviceError)) throw e;
    if (e.deviceFault) {
      this.#failures++;
      this.#observe(d, null, { kind: "offline", error: e.message }, by);
      return fail(Status.Unreachable, e.message);
    }
    if (e.code === "busy") return fail(Status.Overloaded, e.message);
    if (this.#stopper.signal.aborted) {
      return fail(Status.Overloaded, `${e.message}: the node is shutting down`);
    }
    return fail(Status.Timeout, e.message);
  }

  /** Reads one device unless it is busy, then schedules the next read; never overlaps itself. */
  #poll(d: Device): void {
    if (this.#lifecycle.kind !== "running") return;
    if (!d.lock.tryAcquire()) {
      // A command is talking to the device right now; its answer refreshes the state.
      this.#schedulePoll(d);
      return;
    }
    this.#track((async () => {
      try {
        this.#polls++;
        const on = await d.driver.read(this.#stopper.signal);
        this.#observe(d, on, ONLINE, "poll");
      } catch (e) {
        if (!(e instanceof DeviceError)) {
          this.#log.error(`polling device ${d.config.id} failed unexpectedly: ${String(e)}`, {
            device: d.config.id,
          });
        } else if (e.deviceFault) {
          this.#failures++;
          this.#observe(d, null, { kind: "offline", error: e.message }, "poll");
        }
      } finally {
        d.lock.release();
        this.#schedulePoll(d);
      }
    })());
  }

  #schedulePoll(d: Device): void {
    if (this.#lifecycle.kind !== "running" || this.#config.pollIntervalMs === 0) return;
    d.pollTimer = this.#clock.setTimeout(() => {
      d.pollTimer = null;
      this.#poll(d);
    }, this.#config.pollIntervalMs);
  }

  /** Records a device's new state; a change of on/online is logged, counted and published. */
  #observe(d: Device, on: boolean | null, link: Link, by: string): void {
    const id = d.config.id;
    const before = d.link;
    const changed = d.on !== on || before.kind !== link.kind;
    d.on = on;
    d.link = link;
    if (!changed) {
      if (link.kind === "offline") this.#log.debug(link.error, { device: id, by });
      return;
    }
    this.#changes++;
    if (link.kind === "offline") {
      this.#log.warn(link.error, { device: id, online: false, by });
    } else {
      const state = on ? "on" : "off";
      const message = before.kind === "online"
        ? `device ${id} is ${state}`
        : `device ${id} is online and ${state}`;
      this.#log.info(message, { device: id, on, online: link.kind === "online", by });
    }
    if (this.#onEvent) {
      try {
        this.#onEvent(`/iot/devices/${id}`, d.view());
      } catch (e) {
        this.#log.error(`event listener failed for device ${id}: ${String(e)}`, { device: id });
      }
    }
  }
}

/** Creates mod_iot for `config` ([mod_iot] and its [device:ID] sections); throws IotConfigError. */
export function createIotModule(config: IotConfig, deps: IotDeps): IotModule {
  return new Iot(config, deps);
}

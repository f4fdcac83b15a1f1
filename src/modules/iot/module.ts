/**
 * mod_iot: the devices this node drives, served as paths (PATHS.md):
 * GET/LIST `/iot/devices`, GET `/iot/devices/<id>`, CALL `/iot/devices/<id>/on|off|toggle`.
 * Network devices are polled every `pollIntervalMs`; a change becomes a log
 * line, a counter and an event on `/iot/devices/<id>`. The config is trusted:
 * every rule about it is checked once, by src/config.
 */
import type { IotConfig } from "../../config/types.ts";
import type { Logger } from "../../log/logger.ts";
import type { Clock } from "../../util/clock.ts";
import { Status } from "../../wire/constants.ts";
import { fail, ok } from "../../paths/mod.ts";
import type { PathRequest, PathResponse, PathRouter } from "../../paths/mod.ts";
import { Device, type DeviceView, type Link, MAX_WAITING_COMMANDS, ONLINE } from "./device.ts";
import { DeviceError } from "./errors.ts";
import { createDriver } from "./registry.ts";

/** What the module needs from the node. */
export interface IotDeps {
  /** This node's name, for sentences such as `no device "x" on factory`. */
  readonly node: string;
  /** Schedules polls and bounds device work. */
  readonly clock: Clock;
  /** Lines get `component=iot` added. */
  readonly logger: Logger;
  /** Used for every device call. Default: the global fetch. */
  readonly fetch?: typeof fetch;
  /** Called with (`/iot/devices/<id>`, device object) whenever a device's on/online changes. */
  readonly onEvent?: (topic: string, data: unknown) => void;
}

/** Running totals since the module was created. */
export interface IotCounters {
  /** State reads sent by the poller. */
  readonly polls: number;
  /** on/online changes observed (by polls and by commands). */
  readonly changes: number;
  /** Exchanges the device failed (timeouts, refusals, bad answers), polls and commands alike. */
  readonly failures: number;
  /** on/off/toggle commands sent to a device. */
  readonly commands: number;
}

/** The CALL actions under `/iot/devices/<id>/`. */
export const DeviceAction = { On: "on", Off: "off", Toggle: "toggle" } as const;
export type DeviceAction = typeof DeviceAction[keyof typeof DeviceAction];
const ACTIONS: readonly DeviceAction[] = [DeviceAction.Off, DeviceAction.On, DeviceAction.Toggle];

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
  /**
   * A reload: devices added start (and are polled), devices removed stop
   * being polled (commands in flight finish), devices whose section changed
   * start over with the new one; the others keep their state.
   */
  reconfigure(config: IotConfig): IotReload;
}

/** What a reload did to the devices, by id. */
export interface IotReload {
  readonly added: string[];
  readonly removed: string[];
  readonly changed: string[];
}

type Lifecycle = { readonly kind: "created" } | { readonly kind: "running" } | {
  readonly kind: "stopped";
};

/** How a command ended without an answer from the device, for choosing its response. */
interface CommandEnd {
  /** The command's time (the device's timeout from its arrival) ran out. */
  readonly deadline: boolean;
  /** It was talking to the device, not waiting for it. */
  readonly calling: boolean;
}

class Iot implements IotModule {
  #config: IotConfig;
  readonly #http: { readonly fetch: typeof fetch; readonly clock: Clock };
  readonly #node: string;
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
    this.#config = config;
    this.#node = deps.node;
    this.#clock = deps.clock;
    this.#log = deps.logger.with({ component: "iot" });
    this.#onEvent = deps.onEvent ?? null;
    this.#http = { fetch: deps.fetch ?? fetch, clock: deps.clock };
    for (const d of config.devices) {
      this.#devices.set(d.id, new Device(d, createDriver(d, this.#http)));
    }
  }

  reconfigure(config: IotConfig): IotReload {
    const out: IotReload = { added: [], removed: [], changed: [] };
    this.#config = config;
    const next = new Map(config.devices.map((d) => [d.id, d] as const));
    for (const [id, d] of [...this.#devices]) {
      const fresh = next.get(id);
      if (fresh !== undefined && JSON.stringify(fresh) === JSON.stringify(d.config)) continue;
      this.#devices.delete(id);
      if (d.pollTimer !== null) this.#clock.clear(d.pollTimer);
      d.pollTimer = null;
      (fresh === undefined ? out.removed : out.changed).push(id);
    }
    // Rebuilt in config order, so listings follow the file.
    const kept = new Map(this.#devices);
    this.#devices.clear();
    for (const c of config.devices) {
      const d = kept.get(c.id) ?? new Device(c, createDriver(c, this.#http));
      this.#devices.set(c.id, d);
      if (kept.has(c.id)) continue;
      if (!out.changed.includes(c.id)) out.added.push(c.id);
      if (this.#lifecycle.kind === "running" && d.driver.networked) this.#poll(d);
    }
    return out;
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
      ? `${this.#node} has no devices`
      : `known: ${known.slice(0, 10).join(", ")}${known.length > 10 ? ", …" : ""}`;
    return fail(Status.NotFound, `no device ${JSON.stringify(id)} on ${this.#node} (${list})`);
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
    // From here the device's own queue and timeout bound the wait (PORTAL02 §10): the
    // worker this request holds goes back to its origin's other requests.
    req.detach?.();
    return this.#track(this.#runCommand(d, action, req.signal, req.origin ?? "local"));
  }

  /**
   * Waits for the device, then switches it; the whole of it ends within the device's timeout
   * from now, so a device that hangs costs its callers that timeout and nothing more.
   */
  async #runCommand(
    d: Device,
    action: DeviceAction,
    callerSignal: AbortSignal | undefined,
    by: string,
  ): Promise<PathResponse> {
    const deadline = new AbortController();
    const timer = this.#clock.setTimeout(() => deadline.abort(), d.config.timeoutMs);
    const signal = AbortSignal.any([
      ...(callerSignal ? [callerSignal] : []),
      this.#stopper.signal,
      deadline.signal,
    ]);
    let holding = false;
    let calling = false;
    const cancelled = () =>
      new DeviceError("cancelled", `the ${action} command for device ${d.id} was cancelled`);
    try {
      await d.lock.acquire(
        signal,
        () =>
          new DeviceError(
            "busy",
            `device busy: ${d.id} already has ${MAX_WAITING_COMMANDS} commands waiting; ` +
              "try again shortly",
          ),
        cancelled,
      );
      holding = true;
      // Granted in the same turn as its time ran out: the device was never asked.
      if (signal.aborted) throw cancelled();
      calling = true;
      this.#commands++;
      const on = action === DeviceAction.Toggle
        ? await d.driver.toggle(signal)
        : await d.driver.set(action === DeviceAction.On, signal);
      this.#observe(d, on, ONLINE, by);
      return ok(d.view());
    } catch (e) {
      return this.#failure(d, e, by, { deadline: deadline.signal.aborted, calling });
    } finally {
      this.#clock.clear(timer);
      if (holding) d.lock.release();
    }
  }

  /** Maps a failed command to its response; device faults also mark the device offline. */
  #failure(d: Device, e: unknown, by: string, end: CommandEnd): PathResponse {
    if (!(e instanceof DeviceError)) throw e;
    if (e.code === "busy") return fail(Status.Overloaded, e.message);
    if (!e.deviceFault && this.#stopper.signal.aborted) {
      return fail(Status.Overloaded, `${e.message}: the node is shutting down`);
    }
    let error = e;
    if (!e.deviceFault && end.deadline) {
      if (!end.calling) {
        // Not this device's answer that is late but the one before it: leave the state alone.
        return fail(
          Status.Timeout,
          `${d.named} did not answer within ${d.timeoutText}: it was still busy with an ` +
            "earlier command",
        );
      }
      error = new DeviceError("timeout", `${d.named} did not answer within ${d.timeoutText}`);
    }
    if (!error.deviceFault) return fail(Status.Timeout, error.message);
    this.#failures++;
    this.#observe(d, null, { kind: "offline", error: error.message }, by);
    return fail(error.code === "timeout" ? Status.Timeout : Status.Unreachable, error.message);
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
          this.#log.error(`polling device ${d.id} failed unexpectedly: ${String(e)}`, {
            device: d.id,
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
    // A device removed or replaced by a reload is no longer polled.
    if (this.#devices.get(d.id) !== d) return;
    d.pollTimer = this.#clock.setTimeout(() => {
      d.pollTimer = null;
      this.#poll(d);
    }, this.#config.pollIntervalMs);
  }

  /** Records a device's new state; a change of on/online is logged, counted and published. */
  #observe(d: Device, on: boolean | null, link: Link, by: string): void {
    const id = d.id;
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

/** Creates mod_iot for `config` ([mod_iot] and its [device:ID] sections, as src/config resolved them). */
export function createIotModule(config: IotConfig, deps: IotDeps): IotModule {
  return new Iot(config, deps);
}

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The Portal dashboard: this node, its peers (status and latency), the
 * devices of every reachable node with on/off buttons, and a live event feed.
 * Live figures come from one event stream (peer rows and device changes);
 * peers and status are read again every few seconds for latency and counters.
 * Everything shown is set with textContent: labels from other nodes are text.
 */
import { Api, ApiError, type StreamEvent } from "./api.ts";

interface PeerRow {
  readonly name: string;
  readonly status: string;
  readonly latency_ms?: number | null;
  readonly via?: string | null;
}

interface DeviceRow {
  readonly id: string;
  readonly label?: string;
  readonly kind?: string;
  readonly on: boolean | null;
  readonly online: boolean;
  readonly error?: string | null;
}

const TOKEN_KEY = "portal.token";
const REFRESH_MS = 5000;
/** Device lists are read again this often too: events missed while a peer was away are caught up. */
const DEVICES_EVERY = 6;
const FEED_LIMIT = 200;
/** Paths one event stream may follow (the node's bound); nodes beyond it are only polled. */
const MAX_STREAM_PATHS = 64;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const state = {
  api: new Api(null),
  node: "",
  role: "full",
  peers: new Map<string, PeerRow>(),
  /** Devices by node; null for a node without devices (404), absent while unknown. */
  devices: new Map<string, Map<string, DeviceRow> | null>(),
  streamKey: "",
  stream: null as AbortController | null,
  retryMs: 1000,
  timer: undefined as ReturnType<typeof setTimeout> | undefined,
  events: 0,
  refreshes: 0,
};

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  className?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className !== undefined) e.className = className;
  return e;
}

function reachable(p: PeerRow | undefined): boolean {
  return p !== undefined && (p.status === "connected" || p.status === "via-hub");
}

/** The path of a node's devices from this node. */
function devicesPath(node: string): string {
  return node === state.node ? "/iot/devices" : `/node/${encodeURIComponent(node)}/iot/devices`;
}

// ---- sign-in ------------------------------------------------------------------------

async function boot(): Promise<void> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void signIn(($("token") as HTMLInputElement).value.trim());
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
  await signIn(token, true);
}

async function signIn(token: string | null, quiet = false): Promise<void> {
  const api = new Api(token === "" ? null : token);
  try {
    const health = await api.get("/health") as { node?: string; version?: string };
    // Without the token /api/health tells anyone the status alone (for load balancers).
    if (typeof health.node !== "string") {
      throw new ApiError(401, "this node's API needs a token ([mod_http] token)");
    }
    state.api = api;
    state.node = health.node;
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    $("forget").hidden = !token;
    $("login").hidden = true;
    $("main").hidden = false;
    $("node-name").textContent = `— ${health.node}`;
    document.title = `Portal — ${health.node}`;
    start();
  } catch (e) {
    const err = e as ApiError;
    if (err.status === 401) {
      $("login").hidden = false;
      $("main").hidden = true;
      $("login-error").textContent = quiet ? "" : err.message;
      ($("token") as HTMLInputElement).focus();
    } else {
      fatal(`Cannot read this node: ${err.message}`);
    }
  }
}

function fatal(message: string): void {
  const f = $("fatal");
  f.textContent = message;
  f.hidden = false;
}

// ---- polling ----------------------------------------------------------------------

function start(): void {
  void refresh();
  follow();
  setInterval(() => void refresh(), REFRESH_MS);
}

async function refresh(): Promise<void> {
  try {
    const [peers, status, health] = await Promise.all([
      state.api.get("/node/peers") as Promise<PeerRow[]>,
      state.api.get("/node/status") as Promise<Record<string, number>>,
      state.api.get("/health") as Promise<Record<string, unknown>>,
    ]);
    $("fatal").hidden = true;
    const everything = ++state.refreshes % DEVICES_EVERY === 0;
    for (const p of peers) {
      const before = state.peers.get(p.name);
      state.peers.set(p.name, p);
      if (reachable(p) && (everything || !reachable(before) || !state.devices.has(p.name))) {
        void loadDevices(p.name);
      }
    }
    for (const name of [...state.peers.keys()]) {
      if (!peers.some((p) => p.name === name)) state.peers.delete(name);
    }
    if (everything || !state.devices.has(state.node)) void loadDevices(state.node);
    renderStatus(status, health);
    renderPeers();
    renderDevices();
  } catch (e) {
    if ((e as ApiError).status === 401) location.reload();
    else fatal(`Cannot read this node: ${(e as Error).message}`);
  }
}

async function loadDevices(node: string): Promise<void> {
  try {
    const list = await state.api.get(devicesPath(node)) as DeviceRow[];
    state.devices.set(node, new Map(list.map((d) => [d.id, d])));
  } catch (e) {
    // 404: the node has no [mod_iot]; 403: [acl] keeps its devices from us. Either way: none.
    const status = (e as ApiError).status;
    if (status === 404 || status === 403) state.devices.set(node, null);
    else return;
  }
  renderDevices();
  follow();
}

// ---- the event stream -------------------------------------------------------------------

/** (Re)opens the stream when the set of paths to follow changed. */
function follow(): void {
  const paths = ["/node/peers"];
  for (const [node, devices] of state.devices) {
    if (devices !== null && paths.length < MAX_STREAM_PATHS) paths.push(devicesPath(node));
  }
  const key = paths.join("\n");
  if (key === state.streamKey && state.stream !== null) return;
  state.streamKey = key;
  state.stream?.abort();
  const abort = new AbortController();
  state.stream = abort;
  clearTimeout(state.timer);
  const live = $("live");
  state.api.stream(paths, onEvent, abort.signal).then(
    () => {
      if (!abort.signal.aborted) retry(abort, "the stream ended");
    },
    (e: ApiError) => {
      if (e.status === 401) location.reload();
      else retry(abort, e.message);
    },
  );
  live.textContent = "connecting…";
  live.className = "badge idle";
}

function retry(abort: AbortController, why: string): void {
  if (state.stream !== abort) return;
  state.stream = null;
  const live = $("live");
  live.textContent = "reconnecting…";
  live.className = "badge idle";
  live.title = why;
  state.timer = setTimeout(follow, state.retryMs);
  state.retryMs = Math.min(state.retryMs * 2, 15_000);
}

function onEvent(e: StreamEvent): void {
  if (e.event === "hello") {
    const hello = e.data as { role?: string };
    state.role = hello.role === "read" ? "read" : "full";
    state.retryMs = 1000;
    const live = $("live");
    live.textContent = "live";
    live.className = "badge live";
    live.title = "";
    $("role-note").hidden = state.role !== "read";
    renderDevices();
    return;
  }
  if (e.event === "dropped") {
    addFeed(
      new Date().toISOString(),
      "(stream)",
      `${(e.data as { count: number }).count} events dropped`,
    );
    return;
  }
  if (e.event !== "change") return;
  const { topic, data, time } = e.data as { topic: string; data: unknown; time: string };
  const peer = /^\/node\/peers\/([^/]+)$/.exec(topic);
  const device = /^(?:\/node\/([^/]+))?\/iot\/devices\/([^/]+)$/.exec(topic);
  if (peer !== null) {
    const row = data as PeerRow;
    const before = state.peers.get(row.name);
    state.peers.set(row.name, { ...before, ...row });
    if (reachable(row) && !reachable(before)) void loadDevices(row.name);
    renderPeers();
    renderDevices();
    addFeed(time, topic, row.via ? `${row.status} via ${row.via}` : row.status);
  } else if (device !== null) {
    const node = device[1] === undefined ? state.node : decodeURIComponent(device[1]);
    const row = data as DeviceRow;
    let devices = state.devices.get(node);
    if (!devices) state.devices.set(node, devices = new Map());
    devices.set(row.id, row);
    renderDevices();
    addFeed(time, topic, deviceState(row));
  } else {
    addFeed(time, topic, JSON.stringify(data));
  }
}

// ---- rendering ------------------------------------------------------------------------

function renderStatus(status: Record<string, number>, health: Record<string, unknown>): void {
  const rows: [string, string][] = [
    ["Node", String(health.node ?? state.node)],
    ["Version", String(health.version ?? "")],
    ["Up for", duration(Number(health.uptime_s ?? 0))],
    ["Peers", `${status.peers_connected} reachable, ${status.peers_disconnected} not`],
    ["Messages sent", count(status.messages_sent)],
    ["Messages received", count(status.messages_received)],
    ["Messages relayed", count(status.messages_relayed)],
    ["Messages dropped", count(status.messages_dropped)],
  ];
  const dl = $("status");
  dl.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
}

function renderPeers(): void {
  const body = $("peers").querySelector("tbody")!;
  const rows = [...state.peers.values()].map((p) => {
    const tr = el("tr");
    tr.dataset.peer = p.name;
    const status = el("span", p.status, `badge status status-${p.status}`);
    const statusCell = el("td");
    statusCell.append(status);
    tr.append(
      el("td", p.name, "name"),
      statusCell,
      el("td", p.latency_ms == null ? "—" : `${p.latency_ms} ms`, "latency"),
      el("td", p.via ?? "—", "via"),
    );
    return tr;
  });
  body.replaceChildren(...rows);
  $("peers-empty").hidden = rows.length > 0;
}

function deviceState(d: DeviceRow): string {
  if (!d.online) return "offline";
  return d.on === null ? "unknown" : d.on ? "on" : "off";
}

function renderDevices(): void {
  const groups: HTMLElement[] = [];
  const nodes = [state.node, ...state.peers.keys()];
  for (const node of nodes) {
    const devices = state.devices.get(node);
    if (!devices || devices.size === 0) continue;
    const up = node === state.node || reachable(state.peers.get(node));
    const group = el("section", undefined, "node-devices");
    group.dataset.node = node;
    group.append(el("h3", node === state.node ? `${node} (this node)` : node));
    for (const d of devices.values()) group.append(deviceRow(node, d, up));
    groups.push(group);
  }
  const box = $("devices");
  if (groups.length === 0) box.replaceChildren(el("p", "No devices on reachable nodes.", "hint"));
  else box.replaceChildren(...groups);
}

function deviceRow(node: string, d: DeviceRow, up: boolean): HTMLElement {
  const row = el("div", undefined, "device");
  row.dataset.node = node;
  row.dataset.id = d.id;
  const name = el("div");
  name.append(el("div", d.label ?? d.id, "label"), el("div", d.id, "id"));
  const s = deviceState(d);
  const badge = el("span", s, `badge state state-${s}`);
  if (d.error) badge.title = d.error;
  const actions = el("div", undefined, "actions");
  for (const action of ["on", "off"] as const) {
    const b = el("button", action === "on" ? "On" : "Off", action);
    b.type = "button";
    b.disabled = !up || state.role === "read";
    b.addEventListener("click", () => void switchDevice(node, d.id, action, row));
    actions.append(b);
  }
  const note = el("span", "", "error");
  row.append(name, badge, el("span", d.kind ?? "", "id"), actions, note);
  return row;
}

async function switchDevice(
  node: string,
  id: string,
  action: "on" | "off",
  row: HTMLElement,
): Promise<void> {
  const note = row.querySelector(".error")!;
  note.textContent = "";
  for (const b of row.querySelectorAll("button")) b.disabled = true;
  try {
    const d = await state.api.call(`${devicesPath(node)}/${encodeURIComponent(id)}/${action}`);
    const devices = state.devices.get(node);
    if (devices && d && typeof d === "object") devices.set(id, d as DeviceRow);
    renderDevices();
  } catch (e) {
    renderDevices();
    const fresh = document.querySelector(
      `.device[data-node="${CSS.escape(node)}"][data-id="${CSS.escape(id)}"] .error`,
    );
    if (fresh) fresh.textContent = (e as Error).message;
  }
}

function addFeed(time: string, topic: string, what: string): void {
  const list = $("events");
  const li = el("li");
  li.dataset.topic = topic;
  const t = el("time", new Date(time).toLocaleTimeString());
  t.dateTime = time;
  li.append(t, el("code", topic), el("span", what, "what"));
  list.prepend(li);
  while (list.children.length > FEED_LIMIT) list.lastElementChild!.remove();
  $("events-empty").hidden = true;
  state.events++;
}

function count(n: number | undefined): string {
  return n === undefined ? "—" : n.toLocaleString();
}

function duration(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

void boot();

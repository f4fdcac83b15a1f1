/**
 * How many connections a node may hold, from the file descriptors it has:
 * every TCP connection is one, and a listener that runs out can only pause.
 * The federation gets what the HTTP API and a fixed headroom leave, up to a
 * cap; `max_connections` overrides it, with a warning when the descriptors
 * cannot carry the number asked for.
 *
 * The open-file limit itself is out of reach in Deno's sandbox (/proc/self
 * needs --allow-all), so the node counts what it can open: /dev/null, again
 * and again, until the kernel refuses or the count says enough, then closes
 * them all. That is exactly the number that matters (the limit minus what
 * is open), measured at start before any listener exists.
 */

/** Descriptors kept for everything but connections: the runtime, logs, files read, devices, DNS. */
const FD_HEADROOM = 64;
/** Federation connections when nothing is known or set (the bound before the probe existed). */
const FALLBACK_CONNECTIONS = 4096;
/** Largest federation bound derived by default: a hub for thousands of sites; set more explicitly. */
const MAX_DERIVED_CONNECTIONS = 16_384;
/** HTTP API connections at most; an admin API needs few, a flood must not take the federation's. */
const MAX_HTTP_CONNECTIONS = 256;
/** A derived federation bound below this is worth a warning at start. */
const LOW_FEDERATION_BOUND = 256;
/** The probe never opens more than this many (about 0.8 s). */
const MAX_PROBE = 65_536;

/** What the probe found: descriptors free at start, exactly, or at least `free` when capped. */
export interface Descriptors {
  readonly free: number;
  /** The probe stopped at its cap: at least `free` are free. */
  readonly atLeast: boolean;
}

/** The connection bounds of one node. */
export interface ConnectionPlan {
  /** Descriptors free at start; null when unknown. */
  readonly descriptors: Descriptors | null;
  /** Federation connections (authenticated or not) the listener holds. */
  readonly federation: number;
  /** Whether `federation` came from `max_connections`. */
  readonly configured: boolean;
  /** HTTP API connections held at once (0 when the API is off). */
  readonly http: number;
  /** A sentence for the start-up log when descriptors are short; null when they are fine. */
  readonly warning: string | null;
}

/**
 * Counts the descriptors this process can still open, up to `cap`, by
 * opening /dev/null; null when even that is impossible (no /dev/null, no
 * permission).
 */
export function probeDescriptors(cap: number): Descriptors | null {
  const held: Deno.FsFile[] = [];
  let atLeast = true;
  try {
    while (held.length < cap) held.push(Deno.openSync("/dev/null", { read: true }));
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== "EMFILE" && code !== "ENFILE") {
      for (const f of held) f.close();
      return null;
    }
    atLeast = false;
  }
  for (const f of held) f.close();
  return { free: held.length, atLeast };
}

/** How many descriptors the probe must count to decide about `configured` (or the default). */
export function probeCap(configured: number | null, httpOn: boolean): number {
  const http = httpOn ? MAX_HTTP_CONNECTIONS : 0;
  return Math.min(MAX_PROBE, (configured ?? MAX_DERIVED_CONNECTIONS) + FD_HEADROOM + http);
}

/** Splits the free descriptors between the federation (unless `configured`) and the HTTP API. */
export function planConnections(
  descriptors: Descriptors | null,
  configured: number | null,
  httpOn: boolean,
): ConnectionPlan {
  if (descriptors === null) {
    return {
      descriptors,
      federation: configured ?? FALLBACK_CONNECTIONS,
      configured: configured !== null,
      http: httpOn ? MAX_HTTP_CONNECTIONS : 0,
      warning: null,
    };
  }
  const { free, atLeast } = descriptors;
  const http = httpOn ? Math.max(16, Math.min(MAX_HTTP_CONNECTIONS, Math.floor(free / 8))) : 0;
  const room = free - FD_HEADROOM - http;
  const freeText = `${atLeast ? "at least " : ""}${free} file descriptors are free`;
  const raise = "raise LimitNOFILE= in the systemd unit (or ulimit -n)";
  if (configured !== null) {
    const needs = configured + FD_HEADROOM + http;
    const short = needs > free && !atLeast;
    return {
      descriptors,
      federation: configured,
      configured: true,
      http,
      warning: !short ? null : `max_connections = ${configured} needs about ${needs} file ` +
        `descriptors but only ${free} are free: beyond about ${Math.max(0, room)} connections ` +
        `the listener runs out and pauses; ${raise} or lower max_connections`,
    };
  }
  const federation = Math.max(16, Math.min(MAX_DERIVED_CONNECTIONS, room));
  return {
    descriptors,
    federation,
    configured: false,
    http,
    warning: federation >= LOW_FEDERATION_BOUND ? null : `only ${freeText}, room for ` +
      `${federation} federation connections (max_connections); ${raise}`,
  };
}

/**
 * Fairness for connections that have not proved anything yet (no TLS, no key,
 * no complete HTTP request): each source address may hold a few of them, all
 * together a bounded number, and when the bound is reached the newest ones of
 * the address holding the most make room. A flood from some addresses then
 * costs those addresses their own newest attempts, never a newcomer from
 * elsewhere.
 */

/** Options of {@link FairGate}. */
export interface FairGateOptions {
  /** Entries one source may hold. Default 64. */
  readonly perSource?: number;
  /** Entries all sources may hold together. Default 1024. */
  readonly total?: number;
  /** What an entry is, for refusals. Default `connections that have not authenticated`. */
  readonly what?: string;
}

/** What {@link FairGate.admit} decided. */
export type GateVerdict<T> =
  /** In; `shed` (when set) was removed to make room and must be closed by the caller. */
  | { readonly kind: "admitted"; readonly shed: T | null; readonly shedSource: string | null }
  /** Out: its source already holds `perSource`, or it holds as many as anyone and all are full. */
  | { readonly kind: "refused"; readonly reason: string };

/** Default bound per source address. */
export const DEFAULT_PER_SOURCE = 64;
/** Default bound over all sources. */
export const DEFAULT_TOTAL = 1024;

/** Bounded, fair admission of not-yet-trusted entries keyed by their source. */
export class FairGate<T> {
  readonly perSource: number;
  readonly total: number;
  readonly #what: string;
  /** Insertion-ordered per source, so the newest is the last. */
  readonly #bySource = new Map<string, Set<T>>();
  #size = 0;

  constructor(options: FairGateOptions = {}) {
    this.perSource = Math.max(1, options.perSource ?? DEFAULT_PER_SOURCE);
    this.total = Math.max(1, options.total ?? DEFAULT_TOTAL);
    this.#what = options.what ?? "connections that have not authenticated";
  }

  /** Entries held now. */
  get size(): number {
    return this.#size;
  }

  /** Entries `source` holds now. */
  countOf(source: string): number {
    return this.#bySource.get(source)?.size ?? 0;
  }

  /**
   * Admits `item` from `source`: refused when the source is at its bound; when
   * the gate is full, the newest entry of the source holding the most is shed
   * for it, unless the newcomer's own source holds as many (then it is refused).
   */
  admit(source: string, item: T): GateVerdict<T> {
    const mine = this.countOf(source);
    if (mine >= this.perSource) {
      return {
        kind: "refused",
        reason: `${source} already holds ${mine} ${this.#what}`,
      };
    }
    let shed: T | null = null;
    let shedSource: string | null = null;
    if (this.#size >= this.total) {
      const victim = this.victimFor(source);
      if (victim === null) {
        return {
          kind: "refused",
          reason: `${this.#size} ${this.#what} are held, ${mine} of them from ${source}`,
        };
      }
      shed = victim.item;
      shedSource = victim.source;
      this.release(victim.source, victim.item);
    }
    this.#add(source, item);
    return { kind: "admitted", shed, shedSource };
  }

  /**
   * The entry to shed so that a newcomer from `source` gets room: the newest
   * entry of the source holding the most, when that is more than `source`
   * holds itself; null otherwise. Nothing is removed.
   */
  victimFor(source: string): { readonly source: string; readonly item: T } | null {
    const mine = this.countOf(source);
    let top: string | null = null;
    let topCount = mine;
    for (const [s, set] of this.#bySource) {
      if (set.size > topCount) {
        top = s;
        topCount = set.size;
      }
    }
    if (top === null) return null;
    let newest: T | undefined;
    for (const item of this.#bySource.get(top)!) newest = item;
    return { source: top, item: newest as T };
  }

  /** Removes `item` (authenticated, closed or shed); a second call is harmless. */
  release(source: string, item: T): void {
    const set = this.#bySource.get(source);
    if (!set?.delete(item)) return;
    this.#size--;
    if (set.size === 0) this.#bySource.delete(source);
  }

  #add(source: string, item: T): void {
    let set = this.#bySource.get(source);
    if (!set) {
      set = new Set();
      this.#bySource.set(source, set);
    }
    set.add(item);
    this.#size++;
  }
}

/**
 * The source an address counts against: an IPv4 address itself, an IPv6
 * address by its /64 (one subscriber's network; a host there has millions of
 * addresses to rotate through), an IPv4-mapped IPv6 address as IPv4.
 */
export function sourceOf(address: string): string {
  let host = address;
  if (host.startsWith("[")) host = host.slice(1, host.indexOf("]"));
  else if (/^[\d.]+:\d+$/.test(host)) host = host.slice(0, host.lastIndexOf(":"));
  const zone = host.indexOf("%");
  if (zone >= 0) host = host.slice(0, zone);
  if (!host.includes(":")) return host;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return mapped[1];
  const groups = expandIpv6(host);
  if (groups === null) return host.toLowerCase();
  return `${groups.slice(0, 4).join(":")}::/64`;
}

/**
 * One spelling per address, for comparing addresses from different sources:
 * IPv4 (also IPv4-mapped IPv6) as dotted quad, IPv6 as its eight groups.
 */
export function canonicalAddress(host: string): string {
  const bare = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host;
  const zone = bare.indexOf("%");
  const h = zone >= 0 ? bare.slice(0, zone) : bare;
  if (!h.includes(":")) return h;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(h);
  if (mapped) return mapped[1];
  return expandIpv6(h)?.join(":") ?? h.toLowerCase();
}

/** The eight groups of an IPv6 address (without zone), lowercase, no leading zeros; null if malformed. */
function expandIpv6(host: string): string[] | null {
  const halves = host.toLowerCase().split("::");
  if (halves.length > 2) return null;
  const part = (s: string) => (s === "" ? [] : s.split(":"));
  const head = part(halves[0]);
  const tail = halves.length === 2 ? part(halves[1]) : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4 forms other than the mapped one) counts as two groups.
  const last = tail.length > 0 ? tail : head;
  if (last.length > 0 && last[last.length - 1].includes(".")) last.splice(-1, 1, "0", "0");
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => g.replace(/^0+(?=.)/, ""));
}

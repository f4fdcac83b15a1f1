/**
 * The socket calls Deno does not offer for its TLS listener, made through
 * glibc (Linux only; the `ffi` permission for the system's library
 * directories, nothing else):
 * - Nagle off: Deno gives a TLS connection no setNoDelay, but Linux copies
 *   TCP_NODELAY from a listening socket to every connection it accepts, so it
 *   is set once on the listening socket ({@link noDelayListener}).
 * - A certificate change: a second listening socket on the same port gets
 *   every new connection ({@link steerTo}).
 * - Handshakes cut short: Deno closes such a connection only once the client
 *   ends the handshake; {@link shutdownConnections} ends it at once.
 * {@link noDelayUnavailable} says why none of this can work here, and the
 * caller then uses node:tls instead.
 */
import { canonicalAddress } from "./gate.ts";

/** Linux's numbers for the calls below (x86_64 and aarch64 alike). */
const LINUX = {
  IPPROTO_TCP: 6,
  TCP_NODELAY: 1,
  SOL_SOCKET: 1,
  SO_ACCEPTCONN: 30,
  SO_ATTACH_REUSEPORT_CBPF: 51,
  AF_INET: 2,
  AF_INET6: 10,
  SHUT_RDWR: 2,
  /** Classic BPF "return k": the index, in its port group, of the socket a connection goes to. */
  BPF_RET_K: 0x06,
  O_RDONLY_DIRECTORY: 0o200000,
} as const;

/** The getdents64 system call's number, by architecture (libc has no wrapper without pointers). */
const GETDENTS64 = { x86_64: 217n, aarch64: 61n } as const;
/** linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), then the name. */
const DIRENT_RECLEN_AT = 16;
const DIRENT_NAME_AT = 19;

const SYMBOLS = {
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  syscall: { parameters: ["i64", "i64", "buffer", "i64"], result: "i64" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  // memcpy returns its destination: with 0 bytes, the address of a buffer, without the
  // pointer API (which needs --allow-ffi for every path, not only the system's libraries).
  memcpy: { parameters: ["buffer", "buffer", "usize"], result: "usize" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/**
 * The directories the ffi permission is granted for (`--allow-ffi=` these):
 * the system's own, so no library from elsewhere can be loaded.
 */
export const LIBRARY_DIRS = ["/lib", "/usr/lib", "/lib64", "/usr/lib64"] as const;

/** Where glibc's libc.so.6 is, by distribution: Debian's multiarch directories first. */
function libcPaths(): string[] {
  const triple = `${Deno.build.arch}-linux-gnu`;
  return [
    `/lib/${triple}/libc.so.6`,
    `/usr/lib/${triple}/libc.so.6`,
    "/lib64/libc.so.6",
    "/usr/lib64/libc.so.6",
    "/lib/libc.so.6",
    "/usr/lib/libc.so.6",
  ];
}

/**
 * Runs `use` with libc's socket calls, or says why they cannot be had here.
 * The library is opened for each use and closed after it (a use is a
 * listener opening, a certificate change or a batch of handshakes cut short),
 * so nothing stays open between uses.
 */
function withLibc<T>(use: (c: Libc) => T): T | { readonly unavailable: string } {
  if (Deno.build.os !== "linux") return { unavailable: `${Deno.build.os} is not Linux` };
  const paths = libcPaths();
  const granted = paths.filter((p) =>
    Deno.permissions.querySync({ name: "ffi", path: p }).state === "granted"
  );
  if (granted.length === 0) {
    return {
      unavailable: `the ffi permission is not granted (--allow-ffi=${LIBRARY_DIRS.join(",")})`,
    };
  }
  for (const path of granted) {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(path, SYMBOLS);
    } catch {
      // Not there on this distribution: try the next place.
      continue;
    }
    try {
      return use(lib.symbols);
    } finally {
      lib.close();
    }
  }
  return { unavailable: `glibc's libc.so.6 is in none of ${paths.join(", ")}` };
}

/** Why {@link noDelayListener} cannot work in this process, or null when it can. */
export function noDelayUnavailable(): string | null {
  const r = withLibc(() => null);
  return r === null ? null : r.unavailable;
}

/**
 * Sets TCP_NODELAY on this process's listening sockets bound to `port`
 * (Deno does not say which descriptor is whose; during a certificate change
 * two share the port). Returns null when at least one was set, or why not.
 */
export function noDelayListener(port: number): string | null {
  const r = withLibc((c) => setNoDelay(c, port));
  return typeof r === "object" && r !== null ? r.unavailable : r;
}

function setNoDelay(c: Libc, port: number): string | null {
  const one = new Uint8Array(new Int32Array([1]).buffer);
  let set = 0;
  for (const fd of listeningOn(c, port)) {
    if (c.setsockopt(fd, LINUX.IPPROTO_TCP, LINUX.TCP_NODELAY, one, 4) !== 0) {
      return `setsockopt(TCP_NODELAY) failed on the listening socket (descriptor ${fd})`;
    }
    set++;
  }
  return set > 0 ? null : `no listening socket on port ${port} was found among the descriptors`;
}

/** How many listening sockets of this process are bound to `port` (its port group), or -1. */
export function listeningSockets(port: number): number {
  const r = withLibc((c) => [...listeningOn(c, port)].length);
  return typeof r === "number" ? r : -1;
}

/** Whether every listening socket of this process bound to `port` has TCP_NODELAY (for tests). */
export function listenerHasNoDelay(port: number): boolean {
  const r = withLibc((c) => {
    let seen = 0;
    for (const fd of listeningOn(c, port)) {
      if (intOption(c, fd, LINUX.IPPROTO_TCP, LINUX.TCP_NODELAY) === 0) return false;
      seen++;
    }
    return seen > 0;
  });
  return r === true;
}

/**
 * Sends every new connection on `port` to the listening socket at `index` in
 * its port group (Linux SO_REUSEPORT steering; sockets are numbered in the
 * order they joined, and when one leaves the last takes its place). A rule
 * that points past the group is "no preference" to the kernel. Returns null
 * when done, or why not.
 */
export function steerTo(port: number, index: number): string | null {
  const r = withLibc((c) => {
    const fds = [...listeningOn(c, port)];
    if (fds.length === 0) return `no listening socket on port ${port} was found`;
    const filter = new Uint8Array(8);
    const view = new DataView(filter.buffer);
    view.setUint16(0, LINUX.BPF_RET_K, true);
    view.setUint32(4, index, true);
    // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    const program = new DataView(new ArrayBuffer(16));
    program.setUint16(0, 1, true);
    program.setBigUint64(8, BigInt(c.memcpy(filter, filter, 0n)), true);
    const ok = c.setsockopt(
      fds[0],
      LINUX.SOL_SOCKET,
      LINUX.SO_ATTACH_REUSEPORT_CBPF,
      new Uint8Array(program.buffer),
      program.byteLength,
    );
    // The kernel copied the program during the call; `filter` had to live until then.
    filter.fill(0);
    return ok === 0 ? null : `setsockopt(SO_ATTACH_REUSEPORT_CBPF) failed on port ${port}`;
  });
  return typeof r === "object" && r !== null ? r.unavailable : r;
}

/**
 * Sets TCP_NODELAY on every connection accepted on local `port` so far: those
 * a listening socket took before its own option was set (at start, the few
 * milliseconds between listening and setting it). Returns how many.
 */
export function noDelayAccepted(port: number): number {
  const r = withLibc((c) => {
    const one = new Uint8Array(new Int32Array([1]).buffer);
    const addr = new Uint8Array(128);
    let set = 0;
    for (const fd of sockets(c, port, addr)) {
      if (intOption(c, fd, LINUX.SOL_SOCKET, LINUX.SO_ACCEPTCONN) !== 0) continue;
      if (c.setsockopt(fd, LINUX.IPPROTO_TCP, LINUX.TCP_NODELAY, one, 4) === 0) set++;
    }
    return set;
  });
  return typeof r === "number" ? r : 0;
}

/** How {@link shutdownConnections} names a connection: its remote address and port. */
export function connectionKey(address: string, port: number): string {
  return `${canonicalAddress(address)} ${port}`;
}

/**
 * Shuts down (both ways) this process's sockets accepted on local `port`
 * whose remote end is in `remotes` ({@link connectionKey}); returns how many.
 * Deno closes a TLS connection still in its handshake only once the
 * handshake ends, which a silent client never lets happen: its socket would
 * stay open for good. A shut-down socket ends the handshake at once.
 */
export function shutdownConnections(port: number, remotes: ReadonlySet<string>): number {
  if (remotes.size === 0) return 0;
  const r = withLibc((c) => shutdownIn(c, port, remotes));
  return typeof r === "number" ? r : 0;
}

function shutdownIn(c: Libc, port: number, remotes: ReadonlySet<string>): number {
  const addr = new Uint8Array(128);
  const len = new Uint32Array(1);
  const lenBytes = new Uint8Array(len.buffer);
  // One system call per descriptor (its peer); the key is built only when the peer's port fits.
  const ports = new Set([...remotes].map((k) => Number(k.slice(k.lastIndexOf(" ") + 1))));
  let done = 0;
  for (const fd of openDescriptors(c)) {
    if (done === remotes.size) break;
    len[0] = addr.byteLength;
    if (c.getpeername(fd, addr, lenBytes) !== 0 || !ports.has((addr[2] << 8) | addr[3])) continue;
    const key = sockaddrKey(addr);
    if (key === null || !remotes.has(key)) continue;
    len[0] = addr.byteLength;
    if (c.getsockname(fd, addr, lenBytes) !== 0 || ((addr[2] << 8) | addr[3]) !== port) continue;
    if (c.shutdown(fd, LINUX.SHUT_RDWR) === 0) done++;
  }
  return done;
}

/** The connectionKey of a sockaddr_in / sockaddr_in6, or null for another family. */
function sockaddrKey(a: Uint8Array): string | null {
  const family = a[0] | (a[1] << 8);
  const port = (a[2] << 8) | a[3];
  if (family === LINUX.AF_INET) return `${a[4]}.${a[5]}.${a[6]}.${a[7]} ${port}`;
  if (family !== LINUX.AF_INET6) return null;
  // An IPv4 client of a dual-stack listener (::ffff:a.b.c.d): Deno names it by its IPv4 address.
  if (a.subarray(8, 18).every((b) => b === 0) && a[18] === 0xff && a[19] === 0xff) {
    return `${a[20]}.${a[21]}.${a[22]}.${a[23]} ${port}`;
  }
  const groups: string[] = [];
  for (let i = 8; i < 24; i += 2) groups.push(((a[i] << 8) | a[i + 1]).toString(16));
  return connectionKey(groups.join(":"), port);
}

/** The descriptors of TCP sockets bound to local `port`; `addr` gets each one's name. */
function* sockets(c: Libc, port: number, addr: Uint8Array): Generator<number> {
  const len = new Uint32Array(1);
  const lenBytes = new Uint8Array(len.buffer);
  for (const fd of openDescriptors(c)) {
    len[0] = addr.byteLength;
    // Not a socket, or not open: the call fails at once (ENOTSOCK, EBADF).
    if (c.getsockname(fd, addr, lenBytes) !== 0) continue;
    const family = addr[0] | (addr[1] << 8);
    if (family !== LINUX.AF_INET && family !== LINUX.AF_INET6) continue;
    // sin_port / sin6_port: network byte order, right after the family.
    if (((addr[2] << 8) | addr[3]) === port) yield fd;
  }
}

/**
 * The descriptors this process holds, from /proc/self/fd read through the
 * getdents64 system call (Deno's own file API refuses /proc/self without
 * --allow-all). Looking only at open ones keeps a scan proportional to the
 * connections held, not to the descriptor limit (a million in some
 * containers).
 */
function openDescriptors(c: Libc): number[] {
  const nr = GETDENTS64[Deno.build.arch as keyof typeof GETDENTS64];
  if (nr === undefined) return [];
  const dir = c.open(new TextEncoder().encode("/proc/self/fd\0"), LINUX.O_RDONLY_DIRECTORY);
  if (dir < 0) return [];
  const fds: number[] = [];
  const buf = new Uint8Array(64 * 1024);
  const view = new DataView(buf.buffer);
  try {
    for (;;) {
      const n = Number(c.syscall(nr, BigInt(dir), buf, BigInt(buf.byteLength)));
      if (n <= 0) break;
      for (let at = 0; at < n; at += view.getUint16(at + DIRENT_RECLEN_AT, true)) {
        // Names are decimal descriptor numbers, besides "." and "..".
        let fd = 0;
        let i = at + DIRENT_NAME_AT;
        for (; buf[i] >= 0x30 && buf[i] <= 0x39; i++) fd = fd * 10 + buf[i] - 0x30;
        if (i > at + DIRENT_NAME_AT && buf[i] === 0 && fd !== dir) fds.push(fd);
      }
    }
  } finally {
    c.close(dir);
  }
  return fds;
}

/** The descriptors of listening TCP sockets bound to `port`. */
function* listeningOn(c: Libc, port: number): Generator<number> {
  for (const fd of sockets(c, port, new Uint8Array(128))) {
    if (intOption(c, fd, LINUX.SOL_SOCKET, LINUX.SO_ACCEPTCONN) === 1) yield fd;
  }
}

/** An int socket option, or -1 when it cannot be read. */
function intOption(c: Libc, fd: number, level: number, name: number): number {
  const value = new Int32Array(1);
  const len = new Uint32Array([4]);
  const ok = c.getsockopt(
    fd,
    level,
    name,
    new Uint8Array(value.buffer),
    new Uint8Array(len.buffer),
  );
  return ok === 0 ? value[0] : -1;
}

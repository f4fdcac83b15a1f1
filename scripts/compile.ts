/**
 * `deno task compile [--target TRIPLE]`: builds the single Portal executable with
 * `deno compile`, then smoke-runs it.
 *
 * Output: dist/portal, or dist/portal-TRIPLE with --target. Exit status: 0 built (and
 * smoke-tested when the binary can run here), 1 the build or the smoke run failed,
 * 2 bad arguments, 3 the denort runtime `deno compile` needs cannot be had.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { VERSION } from "../src/version.ts";
import { type Ran, runCommand } from "../tests/kit/child.ts";

/** Exit statuses of this script. */
export const EXIT = { ok: 0, failed: 1, usage: 2, noRuntime: 3 } as const;

/**
 * The permissions baked into the executable; it never asks for more at run time.
 * Each line says which part of Portal needs it.
 */
export const RUNTIME_FLAGS: readonly string[] = [
  // Federation listener and dials, the HTTP API, device drivers (Tasmota, Shelly). Hosts and
  // ports come from node.ini, so the list cannot be narrowed at build time.
  "--allow-net",
  // node.ini (any path given with --config), the certificates and keys it names, and the
  // shell's ~/.portal_history. Paths are chosen at run time, hence no path list.
  "--allow-read",
  // Only `portal gen-certs` (certificate and key files into --dir) and the interactive
  // shell's ~/.portal_history write; the running node only binds its end of the systemd
  // notification socket in $TMPDIR or /tmp. Under systemd everything else is read-only
  // anyway (ProtectSystem=strict).
  "--allow-write",
  // The federation listener turns Nagle off through libc's setsockopt (Deno's TLS listener has
  // no setNoDelay): glibc from the system's library directories, nothing else can be loaded.
  "--allow-ffi=/lib,/usr/lib,/lib64,/usr/lib64",
  // HOME locates ~/.portal_history (USERPROFILE on Windows); NOTIFY_SOCKET is where systemd
  // (Type=notify) waits for READY=1, and TMPDIR where the node binds its end of that
  // datagram socket; PORTAL_TOKEN is `portal shell`'s default API token; JOURNAL_STREAM
  // tells the node its stderr is the journal (lines then carry syslog priorities). No other
  // variable is readable.
  "--allow-env=HOME,USERPROFILE,NOTIFY_SOCKET,TMPDIR,PORTAL_TOKEN,JOURNAL_STREAM",
  // Any other variable reads as unset instead of throwing: a dependency probing, say, TERM
  // must not crash the node. Our own reads are held to the list above by tests/ship_test.ts.
  "--ignore-env",
  // Not a permission: READY=1 goes over a Unix datagram socket, and Deno.listenDatagram with
  // transport "unixpacket" is still unstable in Deno 2.9. Without it systemd would never
  // hear READY=1 and would fail the start after TimeoutStartSec. The native TLS listener's
  // reusePort (a second listener on the port during a certificate change) is unstable too.
  "--unstable-net",
];

/**
 * Files read at run time that are not in the module graph, each passed as `--include`.
 * Empty: Portal's modules and npm packages are imported statically, main.ts's dynamic
 * imports use string literals (which deno compile follows by itself), there are no web
 * workers, the dashboard's files are built into a module of strings
 * (src/http/dashboard_assets.ts, `deno task build-web`), and every file Portal reads is the
 * operator's (node.ini, certificates).
 */
export const INCLUDES: readonly string[] = [];

/** Why a build step failed; `code` picks the exit status. */
export class CompileError extends Error {
  constructor(readonly code: "no-runtime" | "failed" | "usage", message: string) {
    super(message);
    this.name = "CompileError";
  }
}

/** Where the executable goes: dist/portal, or dist/portal-TRIPLE for a --target build. */
export function outputPath(target: string | null): string {
  return target === null ? "dist/portal" : `dist/portal-${target}`;
}

/** The `deno compile` arguments for one build. */
export function compileArgs(options: { output: string; target: string | null }): string[] {
  return [
    "compile",
    "--output",
    options.output,
    ...(options.target === null ? [] : ["--target", options.target]),
    ...INCLUDES.flatMap((f) => ["--include", f]),
    ...RUNTIME_FLAGS,
    "main.ts",
  ];
}

// A failure is about the runtime when deno's error chain names it ("Setting up base binary",
// the denort archive or its download site)...
const RUNTIME_MARKERS = /denort|dl\.deno\.land|base binary/i;
// ...and says the fetch failed: the request, name resolution, connecting, TLS, a proxy, a
// timeout, or an HTTP error status. Deno's progress line "Download https://...denort..." is
// printed on success too, so plain "download" is deliberately not a marker.
const NETWORK_MARKERS =
  /error sending request|dns error|failed to lookup address|client error|connection (refused|reset|closed)|network is unreachable|no route to host|timed? ?out|certificate|proxy|status(?: code)?:? [45]\d\d|could not be found|failed to download|download failed/i;

/** True when `deno compile` stderr says it could not download the denort runtime. */
export function isRuntimeDownloadFailure(stderr: string): boolean {
  const text = stripAnsi(stderr);
  // Judge only the error chain ("error: ...", "Caused by: ..."), not the progress lines
  // before it; deno's bare "Download could not be found" has no "error:" and is judged whole.
  const start = text.search(/^error:/m);
  const chain = start === -1 ? text : text.slice(start);
  return RUNTIME_MARKERS.test(chain) && NETWORK_MARKERS.test(chain);
}

/** Removes terminal colour codes, which deno prints even into a pipe. */
export function stripAnsi(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/** The last `lines` non-empty lines of `text`, for error messages. */
export function tail(text: string, lines = 15): string {
  return stripAnsi(text).split("\n").filter((l) => l.trim() !== "").slice(-lines).join("\n");
}

/** The sentence printed (with exit 3) when no runtime can be had. */
export function noRuntimeSentence(target: string): string {
  return `deno compile could not download its denort runtime for ${target} and DENORT_BIN ` +
    `is not set: run 'DENORT_BIN=/path/to/denort deno task compile' with the denort of ` +
    `Deno ${Deno.version.deno} for ${target} (from denort-${target}.zip of that release), ` +
    `or build on a machine that can reach Deno's download site.`;
}

// ELF e_machine values of the architectures Deno ships for Linux.
const ELF_MACHINE: Readonly<Record<string, number>> = { x86_64: 0x3e, aarch64: 0xb7 };

/**
 * Checks DENORT_BIN before deno is run: it must exist and, for a Linux target, be a Linux
 * executable for the target's architecture (deno would otherwise embed Portal in a runtime
 * that cannot run on the target). Throws a `no-runtime` CompileError naming the problem.
 */
export async function checkDenortBin(path: string, target: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new CompileError(
      "no-runtime",
      `DENORT_BIN points at '${path}', which does not exist: set it to the denort binary of ` +
        `Deno ${Deno.version.deno} for ${target}, or unset it on a machine that can reach ` +
        `Deno's download site.`,
    );
  }
  if (!info.isFile) {
    throw new CompileError(
      "no-runtime",
      `DENORT_BIN points at '${path}', which is not a file: set it to the denort binary ` +
        `itself (unzipped from denort-${target}.zip).`,
    );
  }
  const arch = target.split("-")[0];
  if (!target.includes("-linux-") || !(arch in ELF_MACHINE)) return;
  const head = new Uint8Array(20);
  const file = await Deno.open(path);
  let n: number | null;
  try {
    n = await file.read(head);
  } finally {
    file.close();
  }
  const isElf = n === 20 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c &&
    head[3] === 0x46;
  if (!isElf) {
    throw new CompileError(
      "no-runtime",
      `DENORT_BIN points at '${path}', which is not a Linux executable: unzip ` +
        `denort-${target}.zip and point DENORT_BIN at the file inside.`,
    );
  }
  // e_machine is little-endian at offset 18 on both supported architectures.
  const machine = head[18] | (head[19] << 8);
  if (machine !== ELF_MACHINE[arch]) {
    const found = Object.entries(ELF_MACHINE).find(([, m]) => m === machine)?.[0] ??
      `machine 0x${machine.toString(16)}`;
    throw new CompileError(
      "no-runtime",
      `DENORT_BIN points at '${path}', a runtime for ${found}, but the target is ${target}: ` +
        `use the denort from denort-${target}.zip.`,
    );
  }
}

/** What one command of the smoke run printed. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@linkcode smokeRun}. */
export interface SmokeOptions {
  /** Directory holding hub.ini. Default: the repository's config/. */
  readonly configDir?: string;
  /** Deadline of each command, in ms. Default: 30 000. */
  readonly timeoutMs?: number;
  /** Called with one line per step, for progress output. Default: nothing. */
  readonly report?: (line: string) => void;
  /** Variables added to the commands' minimal environment (e.g. DENO_DIR). Default: none. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Runs the built executable (`command`, plus any leading arguments, e.g. `deno run ...
 * main.ts`) the way an operator would: `--version`, `gen-certs` into a temporary
 * directory, and `check-config` of a copy of config/hub.ini that uses those certificates.
 * It runs in an empty temporary directory with only PATH and HOME (that directory) in its
 * environment, so it proves the executable needs nothing from the checkout.
 * Throws a `failed` CompileError naming the step that failed.
 */
export async function smokeRun(
  command: readonly string[],
  options: SmokeOptions = {},
): Promise<void> {
  const configDir = options.configDir ?? new URL("../config/", import.meta.url).pathname;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const report = options.report ?? (() => {});
  const hubIni = `${configDir.replace(/\/$/, "")}/hub.ini`;
  let hubText: string;
  try {
    hubText = await Deno.readTextFile(hubIni);
  } catch (e) {
    throw new CompileError("failed", `smoke run: cannot read ${hubIni}: ${(e as Error).message}`);
  }
  const dir = await Deno.makeTempDir({ prefix: "portal-smoke-" });
  try {
    const run = (args: string[]) =>
      runStep(command, args, { cwd: dir, timeoutMs, env: options.env ?? {} });
    const shown = (args: string[]) => ["portal", ...args].join(" ");
    const expect = (args: string[], r: RunResult) => {
      if (r.code !== 0) {
        throw new CompileError(
          "failed",
          `smoke run: '${shown(args)}' exited with status ${r.code}:\n` +
            (tail(r.stderr) || tail(r.stdout) || "(no output)"),
        );
      }
    };

    const versionArgs = ["--version"];
    const version = await run(versionArgs);
    expect(versionArgs, version);
    if (!version.stdout.includes(VERSION)) {
      throw new CompileError(
        "failed",
        `smoke run: 'portal --version' printed ${JSON.stringify(tail(version.stdout, 3))}, ` +
          `not version ${VERSION}: the executable is not Portal (is DENORT_BIN a denort?)`,
      );
    }
    report(`smoke: ${shown(versionArgs)} -> ${version.stdout.trim()}`);

    const copy = rewriteForSmoke(hubText, `${dir}/certs`);
    await Deno.writeTextFile(`${dir}/hub.ini`, copy.text);
    const genArgs = genCertsArgs(`${dir}/certs`, copy.nodeName);
    expect(genArgs, await run(genArgs));
    report(`smoke: ${shown(genArgs)} -> ${(await listNames(`${dir}/certs`)).join(" ")}`);

    const checkArgs = ["check-config", "--config", `${dir}/hub.ini`];
    const check = await run(checkArgs);
    expect(checkArgs, check);
    report(`smoke: ${shown(checkArgs)} -> ok`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The `gen-certs` invocation of the smoke run: a CA (ca.pem, ca.key) and `node`'s leaf
 * (NAME.pem, NAME.key) in `dir`, the names config/hub.ini uses, as config/README makes them.
 */
export function genCertsArgs(dir: string, node: string): string[] {
  return ["gen-certs", "--dir", dir, "--node", node, "--host", "localhost,127.0.0.1"];
}

/**
 * Points a hub.ini's certificate paths (tls_cert, tls_key, tls_ca in [mod_node]) at the
 * same file names in `certDir`, where the smoke run's gen-certs puts them. Returns the text
 * and the node name the certificates are for.
 */
export function rewriteForSmoke(
  iniText: string,
  certDir: string,
): { text: string; nodeName: string } {
  let nodeName: string | null = null;
  let section = "";
  const lines = iniText.split("\n").map((line) => {
    const header = line.match(/^\s*\[([^\]]+)\]/);
    if (header) section = header[1].trim();
    if (section !== "mod_node") return line;
    const name = line.match(/^\s*name\s*=\s*("?)([^"#;\s]+)\1/);
    if (name) nodeName = name[2];
    const tls = line.match(/^(\s*(tls_cert|tls_key|tls_ca)\s*=\s*)("?)([^"#;]*?)\3(\s*([#;].*)?)$/);
    const file = tls?.[4].trim().split("/").pop() ?? "";
    if (!tls || file === "") return line;
    return `${tls[1]}"${certDir}/${file}"`;
  });
  if (nodeName === null) {
    throw new CompileError("failed", "smoke run: hub.ini has no 'name' in [mod_node]");
  }
  return { text: lines.join("\n"), nodeName };
}

async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch {
    // The check-config step reports a missing directory with a better message.
  }
  return names.sort();
}

/** Runs `command args` with no stdin, a deadline, and a minimal environment. */
async function runStep(
  command: readonly string[],
  args: readonly string[],
  options: { cwd: string; timeoutMs: number; env: Readonly<Record<string, string>> },
): Promise<RunResult> {
  const [program, ...lead] = command;
  let out: Ran;
  try {
    out = await runCommand(program, [...lead, ...args], {
      cwd: options.cwd,
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: options.cwd,
        NO_COLOR: "1",
        ...options.env,
      },
      timeoutMs: options.timeoutMs,
    });
  } catch (e) {
    throw new CompileError(
      "failed",
      `smoke run: cannot run '${program}': ${(e as Error).message}`,
    );
  }
  if (out.signal !== null) {
    throw new CompileError(
      "failed",
      `smoke run: 'portal ${args.join(" ")}' was killed (${out.signal}); ` +
        `it did not finish within ${options.timeoutMs} ms`,
    );
  }
  return { code: out.code, stdout: out.stdout, stderr: out.stderr };
}

/** Builds, then smoke-runs when the target can run here. Throws CompileError. */
export async function build(
  options: { target: string | null; deno?: string; report?: (line: string) => void },
): Promise<string> {
  const report = options.report ?? (() => {});
  const deno = options.deno ?? Deno.execPath();
  const target = options.target ?? Deno.build.target;
  const output = outputPath(options.target);

  const denortBin = Deno.env.get("DENORT_BIN");
  if (denortBin !== undefined && denortBin !== "") await checkDenortBin(denortBin, target);

  await Deno.mkdir("dist", { recursive: true });
  report(`compiling main.ts -> ${output} (${target})`);
  const out = await new Deno.Command(deno, {
    args: compileArgs({ output, target: options.target }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr);
    if ((denortBin === undefined || denortBin === "") && isRuntimeDownloadFailure(stderr)) {
      throw new CompileError("no-runtime", noRuntimeSentence(target));
    }
    throw new CompileError(
      "failed",
      `deno compile failed (exit status ${out.code}):\n${tail(stderr) || "(no output)"}`,
    );
  }

  if (target !== Deno.build.target) {
    report(
      `smoke run skipped: a ${target} executable cannot run on this ${Deno.build.target} ` +
        `machine; run '${output.split("/").pop()} --version' on the target before shipping it`,
    );
  } else {
    try {
      await smokeRun([`${Deno.cwd()}/${output}`], { report });
    } catch (e) {
      // Never leave an executable that failed its smoke run where install.sh looks for one.
      const kept = `${output}.smoke-failed`;
      await Deno.rename(output, kept);
      if (e instanceof CompileError) {
        throw new CompileError(
          e.code,
          `${e.message}
(the executable was moved to ${kept})`,
        );
      }
      throw e;
    }
  }
  const size = (await Deno.stat(output)).size;
  report(`built ${output} (${(size / 1024 / 1024).toFixed(1)} MiB)`);
  return output;
}

const USAGE = `Usage: deno task compile [--target TRIPLE]

Builds dist/portal (or dist/portal-TRIPLE) with deno compile and smoke-runs it.
  --target TRIPLE   cross-compile, e.g. aarch64-unknown-linux-gnu for aarch64 boxes
  -h, --help        show this help
DENORT_BIN=/path/to/denort uses a local denort runtime instead of downloading it.`;

/** The command line: parses `args`, builds, and returns the exit status. */
export async function main(args: string[]): Promise<number> {
  let target: string | null = null;
  try {
    const { values } = parseArgs({
      args,
      options: { target: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(USAGE);
      return EXIT.ok;
    }
    target = values.target ?? null;
    if (target !== null && !/^[a-z0-9_]+-[a-z0-9_]+-[a-z0-9_-]+$/.test(target)) {
      throw new Error(`'${target}' is not a target triple (e.g. aarch64-unknown-linux-gnu)`);
    }
  } catch (e) {
    console.error(`compile: ${(e as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  // Paths (main.ts, dist/, config/) are relative to the repository, wherever we are called.
  Deno.chdir(new URL("..", import.meta.url).pathname);
  try {
    await build({ target, report: (line) => console.log(line) });
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof CompileError)) throw e;
    console.error(e.message);
    return e.code === "no-runtime" ? EXIT.noRuntime : EXIT.failed;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

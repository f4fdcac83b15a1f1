/**
 * Real `main.ts` processes for end-to-end tests: a temp directory with a CA,
 * node certificates and node.ini files, and children whose log lines can be
 * awaited (no sleeping).
 */
import { genCerts } from "../../src/pki/certs.ts";

/** Permissions a node process runs with, as in deno.json's `start` task. */
export const NODE_FLAGS = [
  "--allow-net",
  "--allow-read",
  "--allow-env",
  "--allow-write",
];

/** A free TCP port on 127.0.0.1 (bound and released; good enough on a test machine). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A directory with `ca.pem` and one cert/key pair per node name. */
export async function makeCertDir(names: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "portal-test-" });
  for (const node of names) {
    await genCerts({ dir, node, hosts: ["localhost", "127.0.0.1"] });
  }
  return dir;
}

/** One running `main.ts` child with its log lines. */
export class NodeProcess {
  readonly name: string;
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  readonly #pump: Promise<void>;
  readonly status: Promise<Deno.CommandStatus>;

  constructor(name: string, configPath: string) {
    this.name = name;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...NODE_FLAGS,
        new URL("../../main.ts", import.meta.url).pathname,
        "--config",
        configPath,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.status = this.#child.status;
    this.#pump = Promise.all([this.#read(this.#child.stdout), this.#read(this.#child.stderr)]).then(
      () => {},
    );
  }

  get pid(): number {
    return this.#child.pid;
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      let i;
      while ((i = rest.indexOf("\n")) >= 0) {
        this.#line(rest.slice(0, i));
        rest = rest.slice(i + 1);
      }
    }
    if (rest) this.#line(rest);
  }

  #line(line: string): void {
    this.lines.push(line);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      if (this.#waiters[i].re.test(line)) this.#waiters.splice(i, 1)[0].resolve(line);
    }
  }

  /** Resolves with the first line (already seen or future) matching `re`; fails after `ms`. */
  waitFor(re: RegExp, ms = 20_000, after = 0): Promise<string> {
    const seen = this.lines.slice(after).find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        re,
        resolve: (l: string) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `${this.name}: no line matching ${re} within ${ms} ms\n${this.lines.join("\n")}`,
          ),
        );
      }, ms);
      this.#waiters.push(waiter);
    });
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.#child.kill(signal);
    } catch {
      // already gone
    }
  }

  /** Waits for exit and for the output to drain. */
  async exited(): Promise<Deno.CommandStatus> {
    const s = await this.status;
    await this.#pump;
    return s;
  }
}

/** Writes a node.ini under `dir`. */
export async function writeIni(dir: string, name: string, text: string): Promise<string> {
  const path = `${dir}/${name}.ini`;
  await Deno.writeTextFile(path, text);
  return path;
}

/** The [mod_node] section of a TLS node using the certs in its directory. */
export function modNode(name: string, port: number | "off", extra = ""): string {
  return `[mod_node]
name = ${name}
federation_key = end-to-end-test-key-0123456789
listen_host = 127.0.0.1
listen_port = ${port}
tls = true
tls_cert = ${name}.pem
tls_key = ${name}.key
tls_ca = ca.pem
${extra}
`;
}

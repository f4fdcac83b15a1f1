/**
 * The demo's machinery: its directory, its child processes (nodes and shells), the waits on
 * them with deadlines, and the one place that stops them — on success, failure or a signal —
 * or leaves them running (`--keep`).
 */
import { quiet, within } from "../../tests/kit/async.ts";
import { LinesEnded } from "../../tests/kit/lines.ts";
import {
  Child,
  ChildExited,
  describeStatus,
  mainArgs,
  startNode,
  stopAll,
} from "../../tests/kit/child.ts";

/** How long a stopped child gets between SIGTERM and SIGKILL. */
export const STOP_GRACE_MS = 5_000;
/** How long one tour command (or an HTTP request) may take. */
export const COMMAND_DEADLINE_MS = 15_000;
/** Log lines shown when a node is blamed for a failure. */
export const TAIL_LINES = 15;

/** Why the demo gave up; `node` is the one whose log explains it, when there is one. */
export class DemoError extends Error {
  override readonly name = "DemoError";
  constructor(
    readonly code: "node_exited" | "deadline" | "tour" | "setup",
    message: string,
    readonly node: Child | null = null,
  ) {
    super(message);
  }
}

/** The demo was interrupted by a signal; the shutdown already under way owns the exit. */
export class Interrupted extends Error {
  override readonly name = "Interrupted";
}

type Phase =
  | { readonly kind: "running" }
  | { readonly kind: "stopping"; readonly done: Promise<void> }
  | { readonly kind: "kept" };

/** One run of the demo: a temporary directory and every child started in it. */
export class Session {
  #phase: Phase = { kind: "running" };
  readonly #nodes: Child[] = [];
  readonly #shells = new Set<Child>();
  #terminalLeftRaw: Promise<boolean> = Promise.resolve(false);
  #interruptedBy: ((e: Interrupted) => void) | null = null;
  /** Rejects when a signal arrives; raced by every wait. */
  readonly interrupted: Promise<never> = quiet(
    new Promise<never>((_, reject) => (this.#interruptedBy = reject)),
  );

  private constructor(readonly dir: string) {}

  /** Starts a session in a new temporary directory. */
  static async open(): Promise<Session> {
    return new Session(await Deno.makeTempDir({ prefix: "portal-demo-" }));
  }

  /** True once `keep` has left the nodes running. */
  get kept(): boolean {
    return this.#phase.kind === "kept";
  }

  get nodes(): readonly Child[] {
    return this.#nodes;
  }

  /**
   * Starts node `name` from DIR/NAME.ini, logging to DIR/NAME.log (a file, so that with --keep
   * it goes on logging after the demo exits). Refused once the demo is stopping, in the same
   * tick as the spawn, so a stop never misses a node.
   */
  startNode(name: string): Child {
    this.#check();
    const node = startNode(name, `${this.dir}/${name}.ini`, {
      output: { file: `${this.dir}/${name}.log` },
    });
    this.#nodes.push(node);
    return node;
  }

  /** `portal shell --url url`: piped for the tour, or on this terminal. */
  startShell(url: string, io: "piped" | "inherit"): Child {
    this.#check();
    const shell = new Child("shell", {
      args: mainArgs(["shell", "--url", url]),
      stdin: io,
      output: io,
    });
    this.#shells.add(shell);
    return shell;
  }

  /** Stops a shell (it ended, or it is no longer needed). */
  async endShell(shell: Child): Promise<void> {
    await shell.stop(STOP_GRACE_MS);
    this.#shells.delete(shell);
  }

  /** `portal shell` on the terminal; returns when the user leaves it. */
  async interactive(url: string): Promise<void> {
    const shell = this.startShell(url, "inherit");
    try {
      await Promise.race([shell.status, this.interrupted]);
    } finally {
      this.#shells.delete(shell);
      // A shell stopped by a signal had no chance to take the terminal out of raw mode.
      this.#terminalLeftRaw = shell.status.then((s) => s.signal !== null);
    }
  }

  /**
   * The first line of `node`'s log matching `re`, by `deadline`; a DemoError naming the node
   * when it passes, a ChildExited when the node (or one in `also`) dies first.
   */
  expect(
    node: Child,
    re: RegExp,
    what: string,
    deadline: Deadline,
    also: readonly Promise<never>[],
  ): Promise<RegExpExecArray> {
    // At the end of the log the node has exited: its `died` says so.
    const found = node.log.match(re).catch((e) =>
      e instanceof LinesEnded ? node.died : Promise.reject(e)
    );
    return within(found, what, deadline.at - Date.now(), {
      also: [node.died, this.interrupted, ...also],
      onTimeout: () =>
        new DemoError(
          "deadline",
          `${node.name} did not ${what} within ${msText(deadline.ms)}`,
          node,
        ),
    });
  }

  /** GET `url` (served by `node`), expecting 200; the body, trimmed. */
  async fetchText(node: Child, url: string, also: readonly Promise<never>[]): Promise<string> {
    const ac = new AbortController();
    try {
      const res = await within(
        fetch(url, { signal: ac.signal }).then(async (r) => ({
          status: r.status,
          text: await r.text(),
        })),
        url,
        COMMAND_DEADLINE_MS,
        {
          also: [this.interrupted, ...also],
          onTimeout: () =>
            new DemoError("deadline", `${node.name} did not answer ${url} in time`, node),
        },
      );
      if (res.status !== 200) {
        throw new DemoError("tour", `${url} answered ${res.status}: ${res.text.trim()}`, node);
      }
      return res.text.trim();
    } catch (e) {
      if (e instanceof DemoError || e instanceof Interrupted || e instanceof ChildExited) throw e;
      throw new DemoError("tour", `cannot reach ${url}: ${(e as Error).message}`, node);
    } finally {
      ac.abort();
    }
  }

  /** --keep: the nodes stay up after this process exits. */
  keep(): void {
    this.#phase = { kind: "kept" };
    for (const n of this.#nodes) n.release();
  }

  /** Stops every child: SIGTERM, SIGKILL after the grace time. */
  shutdown(): Promise<void> {
    if (this.#phase.kind === "stopping") return this.#phase.done;
    if (this.#phase.kind === "kept") return Promise.resolve();
    const nodes = [...this.#nodes];
    const done = stopAll([...this.#shells, ...nodes], {
      graceMs: STOP_GRACE_MS,
      onLate: (late) => {
        const slow = nodes.filter((n) => late.includes(n)).map((n) => `${n.name} (${n.pid})`);
        console.error(
          `demo: ${slow.join(", ") || "a shell"} did not stop within ${msText(STOP_GRACE_MS)}; ` +
            "killing.",
        );
      },
    });
    this.#phase = { kind: "stopping", done };
    return done;
  }

  /** A signal: the first one stops everything; a second one kills at once. */
  interrupt(sig: Deno.Signal): Promise<void> {
    if (this.#phase.kind === "kept") return Promise.resolve();
    if (this.#phase.kind === "stopping") {
      for (const c of [...this.#nodes, ...this.#shells]) c.signal("SIGKILL");
      return this.#phase.done;
    }
    console.error(`\ndemo: ${sig}: stopping the nodes.`);
    this.#interruptedBy?.(new Interrupted(sig));
    return this.shutdown();
  }

  /** Prints a failure: one sentence, and the blamed node's log tail. */
  async report(e: unknown): Promise<void> {
    if (e instanceof ChildExited && this.#nodes.includes(e.child)) {
      e = new DemoError(
        "node_exited",
        `${e.child.name} exited early (${describeStatus(e.status)})`,
        e.child,
      );
    }
    if (!(e instanceof DemoError)) {
      console.error(`demo: failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return;
    }
    console.error(`demo: ${e.message}.`);
    if (e.node === null) return;
    // A dead node's log is read to its end first.
    if (!e.node.running) await e.node.exited();
    const tail = e.node.log.tail(TAIL_LINES);
    console.error(
      tail.length === 0
        ? `  (${e.node.name}'s log is empty)`
        : `  last lines of ${e.node.name}'s log:\n` + tail.map((l) => `    ${l}`).join("\n"),
    );
  }

  /**
   * Puts the terminal back in line mode when the interactive shell was killed in raw mode.
   * `Deno.stdin.setRaw(false)` cannot: it only undoes this process's own setRaw.
   */
  async restoreTerminal(): Promise<void> {
    if (!(await this.#terminalLeftRaw)) return;
    try {
      await new Deno.Command("stty", { args: ["sane"], stdin: "inherit" }).output();
    } catch {
      // No stty: the user can type `reset`.
    }
  }

  /** Removes the directory, once nothing can write there any more. */
  async removeDir(): Promise<void> {
    if (this.kept) return;
    const what = this.#nodes.length > 0 ? "Stopped the nodes and removed" : "Removed";
    try {
      await Deno.remove(this.dir, { recursive: true });
      console.log(`${what} ${this.dir}.`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        console.error(`demo: could not remove ${this.dir}: ${(e as Error).message}`);
      }
    }
  }

  #check(): void {
    if (this.#phase.kind !== "running") throw new Interrupted("stopping");
  }
}

/** A point in (wall-clock) time that several waits share. */
export interface Deadline {
  readonly at: number;
  /** How long it was set for, for messages. */
  readonly ms: number;
}

/** The deadline `ms` from now. */
export function deadlineIn(ms: number): Deadline {
  return { at: Date.now() + ms, ms };
}

/** "5 s", "15 s", "0.5 s". */
function msText(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

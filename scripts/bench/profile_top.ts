/**
 * Summarises V8 .cpuprofile files (from `deno task bench --cpu-prof DIR`): self time per
 * function, heaviest first, with (garbage collector), (program) and (idle) kept separate.
 *
 *   deno run --allow-read scripts/bench/profile_top.ts FILE.cpuprofile [--top 25]
 */

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Self time (µs) per "function url:line", plus the total, from one profile. */
export function selfTimes(profile: Profile): { total: number; byFunction: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    const f = node.callFrame;
    const where = f.url
      ? ` ${f.url.replace(/^.*\/(src|scripts|ext)\//, "$1/")}:${f.lineNumber + 1}`
      : "";
    const key = `${f.functionName || "(anonymous)"}${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + dt);
    total += dt;
  }
  return { total, byFunction };
}

function main(): void {
  const files = Deno.args.filter((a, i) => !a.startsWith("--") && Deno.args[i - 1] !== "--top");
  const topAt = Deno.args.indexOf("--top");
  const top = topAt >= 0 ? Number(Deno.args[topAt + 1]) : 25;
  if (files.length === 0) {
    console.error("usage: profile_top.ts FILE.cpuprofile... [--top N]");
    Deno.exit(2);
  }
  for (const file of files) {
    const { total, byFunction } = selfTimes(JSON.parse(Deno.readTextFileSync(file)));
    const idle = byFunction.get("(idle)") ?? 0;
    const busy = total - idle;
    console.log(
      `${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy`,
    );
    const rows = [...byFunction].filter(([k]) => k !== "(idle)").sort((a, b) => b[1] - a[1]);
    for (const [name, us] of rows.slice(0, top)) {
      console.log(
        `  ${(100 * us / busy).toFixed(1).padStart(5)}%  ${
          (us / 1000).toFixed(0).padStart(6)
        } ms  ${name}`,
      );
    }
  }
}

if (import.meta.main) main();

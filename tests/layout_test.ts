/**
 * The shape of src/: imports point down the folder layers only (so there is no circle), no file
 * is over 500 lines, and each shared helper is defined once.
 */
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = dirname(dirname(new URL(import.meta.url).pathname));
const SRC = join(ROOT, "src");

/**
 * The folders of src/ from the bottom up; a folder may import only from a lower layer (or
 * itself). docs/architecture.md's folder map lists the same order.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["util", "version.ts"],
  ["wire"],
  ["auth", "paths"],
  ["config"],
  ["log", "pki"],
  ["transport", "modules", "events"],
  ["peer", "access"],
  ["federation"],
  ["metrics"],
  ["http"],
  ["runtime", "cli"],
];

const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) out.push(...await sourceFiles(path));
    else if (e.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** The relative imports of a module (static, `export … from`, and dynamic), as src/ paths. */
function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  const pattern =
    /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of text.matchAll(pattern)) {
    const target = m[1] ?? m[2];
    if (target.startsWith(".")) out.push(relative(SRC, normalize(join(dirname(file), target))));
  }
  return out;
}

/** `federation` for `federation/relay.ts`; the file itself for a file at the top of src/. */
const folderOf = (path: string) => path.split("/")[0];

async function graph(): Promise<Map<string, string[]>> {
  const edges = new Map<string, string[]>();
  for (const file of await sourceFiles(SRC)) {
    edges.set(relative(SRC, file), importsOf(file, await Deno.readTextFile(file)));
  }
  return edges;
}

Deno.test("every folder of src/ has a layer, and imports point to lower layers only", async () => {
  const wrong: string[] = [];
  for (const [from, targets] of await graph()) {
    const a = folderOf(from);
    assert.ok(layerOf.has(a), `src/${a} has no layer in LAYERS (add it, and to the docs' map)`);
    for (const to of targets) {
      const b = folderOf(to);
      if (a === b) continue;
      const la = layerOf.get(a)!, lb = layerOf.get(b);
      if (lb === undefined || lb >= la) wrong.push(`src/${from} imports src/${to}`);
    }
  }
  assert.deepEqual(wrong, [], "an arrow runs sideways or back up");
});

Deno.test("no import circle among the modules of src/", async () => {
  const edges = await graph();
  const state = new Map<string, "open" | "done">();
  const circles: string[] = [];
  const visit = (node: string, path: string[]) => {
    if (state.get(node) === "done") return;
    if (state.get(node) === "open") {
      circles.push([...path.slice(path.indexOf(node)), node].join(" -> "));
      return;
    }
    state.set(node, "open");
    for (const next of edges.get(node) ?? []) visit(next, [...path, node]);
    state.set(node, "done");
  };
  for (const node of edges.keys()) visit(node, []);
  assert.deepEqual(circles, []);
});

Deno.test("no file in src/ is over 500 lines, federation.ts under 450", async () => {
  const long: string[] = [];
  for (const file of await sourceFiles(SRC)) {
    // Generated from web/ by scripts/build_web.ts, not written by hand.
    if (file.endsWith("http/dashboard_assets.ts")) continue;
    const lines = (await Deno.readTextFile(file)).split("\n").length - 1;
    // The Federation class is the file most tempted to grow: it keeps a tighter bound.
    const cap = file.endsWith("federation/federation.ts") ? 449 : 500;
    if (lines > cap) long.push(`${relative(ROOT, file)}: ${lines} lines`);
  }
  assert.deepEqual(long, []);
});

Deno.test("each shared helper is defined once in src/, tests/ and scripts/", async () => {
  const helpers = [
    "errorText",
    "formatDuration",
    "clip",
    "readCapped",
    "MAX_TIMER_MS",
    "within",
    "freePort",
    "deadPort",
    "didYouMean",
    "parseHost",
    "runCommand",
    "makeFifo",
    "mainArgs",
  ];
  const found = new Map<string, string[]>(helpers.map((h) => [h, []]));
  const files = [
    ...await sourceFiles(SRC),
    ...await sourceFiles(join(ROOT, "tests")),
    ...await sourceFiles(join(ROOT, "scripts")),
  ].filter((f) => !f.endsWith("http/dashboard_assets.ts"));
  for (const file of files) {
    const text = await Deno.readTextFile(file);
    for (const h of helpers) {
      const defined = new RegExp(`(?:function|const|let|var)\\s+${h}\\b`);
      if (defined.test(text)) found.get(h)!.push(relative(ROOT, file));
    }
  }
  const twice = [...found].filter(([, where]) => where.length > 1);
  assert.deepEqual(twice, [], "a helper defined more than once");
});

/**
 * `deno task chaos`: Portal under the faults and attacks of a hostile network, with real node
 * processes on 127.0.0.1: frozen, killed and flapping nodes, floods of unauthenticated
 * connections, descriptor exhaustion, malformed messages, a live fuzz, hostile files and HTTP
 * floods. Prints PASS or FAIL per scenario with its figures; exits 1 on any FAIL.
 *
 *   deno task chaos [--quick] [--only NAME[,NAME…]] [--list]
 *
 * `--quick` (under a minute, run by CI) does fewer rounds of the long scenarios. The figures of
 * a full run are in docs/operations.md ("Chaos testing").
 */
import { parseOptions, UsageError } from "../../src/cli/args.ts";
import { Lab, type Outcome, type Scenario } from "./lab.ts";
import { fdExhaustion, fdLimit, malformedFlood, preAuthFlood } from "./scenarios/floods.ts";
import { hostileFiles } from "./scenarios/files.ts";
import { liveFuzz } from "./scenarios/fuzz.ts";
import { httpFlood } from "./scenarios/http.ts";
import { hubFlap, killRestart, stopCont } from "./scenarios/liveness.ts";

/** Every scenario, in the order they run. */
export const SCENARIOS: readonly Scenario[] = [
  stopCont,
  killRestart,
  hubFlap,
  preAuthFlood,
  fdLimit,
  fdExhaustion,
  malformedFlood,
  liveFuzz,
  hostileFiles,
  httpFlood,
];

const USAGE = `usage: deno task chaos [--quick] [--only NAME[,NAME...]] [--list]`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseOptions(argv, {
      quick: { type: "boolean" },
      only: { type: "string", value: "NAME[,NAME...]" },
      list: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    }, { command: "deno task chaos" }));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`chaos: ${e.message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.list) {
    for (const s of SCENARIOS) console.log(`${s.name}: ${s.what}`);
    return 0;
  }
  const wanted = values.only?.split(",").map((s) => s.trim().toLowerCase());
  const chosen = SCENARIOS.filter((s) =>
    !wanted || wanted.some((w) => s.name.toLowerCase().includes(w))
  );
  if (chosen.length === 0) {
    console.error(`chaos: no scenario matches --only ${values.only}`);
    return 2;
  }
  const quick = values.quick ?? false;
  const started = performance.now();
  console.log(
    `chaos ${quick ? "--quick " : ""}— ${chosen.length} scenarios, Deno ${Deno.version.deno}`,
  );
  const results: { s: Scenario; o: Outcome; secs: number }[] = [];
  for (const s of chosen) {
    const t0 = performance.now();
    const lab = await Lab.open();
    let o: Outcome;
    try {
      o = await s.run(lab, quick);
    } catch (e) {
      o = { pass: false, figures: "", failure: `broke: ${(e as Error).stack ?? e}` };
    } finally {
      await lab.close();
    }
    const secs = (performance.now() - t0) / 1000;
    results.push({ s, o, secs });
    console.log(`${o.pass ? "PASS" : "FAIL"}  ${s.name} (${secs.toFixed(1)} s)`);
    if (o.figures) console.log(`      ${o.figures}`);
    if (!o.pass) console.log(`      failed: ${o.failure}`);
  }
  const failed = results.filter((r) => !r.o.pass).length;
  const total = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `\n${failed === 0 ? "PASS" : "FAIL"}: ${results.length - failed} of ${results.length} ` +
      `scenarios passed in ${total} s`,
  );
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * Hostile files: a FIFO, /dev/urandom, a directory or a huge file where node.ini names a PEM
 * file, and node.ini itself a FIFO. The node must refuse each with the file named, exit 2 at
 * once, and not grow while doing so.
 */
import { http, modNode, portal, writeIni } from "../../../tests/kit/ini.ts";
import { KEY, type Lab, ms, outcome, type Scenario, sleep } from "../lab.ts";

/** Peak resident memory (VmHWM) of `pid` in MiB, or null once it is gone. */
function peakMiB(pid: number): number | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
    return Number.isFinite(kb) ? Math.round(kb / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

export const hostileFiles: Scenario = {
  name: "hostile files",
  what: "FIFO, /dev/urandom, a directory, a 64 MiB file as PEM files, and node.ini as a FIFO",
  async run(lab: Lab) {
    const fifo = `${lab.dir}/trap.fifo`;
    await new Deno.Command("mkfifo", { args: [fifo] }).output();
    const huge = `${lab.dir}/huge.pem`;
    const f = await Deno.open(huge, { write: true, create: true });
    await f.truncate(64 * 1024 * 1024);
    f.close();
    const cases: [string, string, string | null][] = [
      ["tls_key = FIFO", fifo, "tls_key"],
      ["tls_cert = /dev/urandom", "/dev/urandom", "tls_cert"],
      ["tls_ca = a directory", lab.dir, "tls_ca"],
      ["tls_cert = 64 MiB file", huge, "tls_cert"],
      ["node.ini = FIFO", fifo, null],
    ];
    const figures: string[] = [];
    const checks: Record<string, boolean> = {};
    for (const [label, path, key] of cases) {
      const ini = key === null ? path : await writeIni(
        lab.dir,
        `hostile-${key}`,
        portal({ log_format: "json" }),
        modNode("hub", { key: KEY, extra: { [key]: path } }),
        http("off"),
      );
      const t0 = performance.now();
      const child = lab.spawn("hub", ini);
      let peak = 0;
      while (child.running) {
        peak = Math.max(peak, peakMiB(child.pid) ?? 0);
        await Promise.race([child.status, sleep(5)]);
      }
      const status = await child.exited();
      const took = performance.now() - t0;
      lab.all.delete(child);
      const out = child.lines.join("\n");
      const named = out.includes(path);
      figures.push(`${label}: exit ${status.code} in ${ms(took)}, peak ${peak} MiB`);
      checks[`${label}: exit 2 naming the file in under 1 s, under 100 MiB`] = status.code === 2 &&
        named && took < 1000 && peak < 100;
    }
    return outcome(figures, checks);
  },
};

/**
 * Linux /proc readers for the benchmark: CPU time and memory of one process.
 * Every node runs as `deno run main.ts`, so the PID of the child spawned by
 * Deno.Command is the Deno process that runs the node itself.
 */

/** Clock ticks per second of /proc/PID/stat's utime and stime (`getconf CLK_TCK`). */
export async function clockTicksPerSecond(): Promise<number> {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    if (Number.isInteger(n) && n > 0) return n;
  } catch {
    // getconf missing: fall through to the value every x86-64 and arm64 Linux uses.
  }
  return 100;
}

/** User plus system CPU time of `pid`, in clock ticks (fields 14 and 15 of /proc/PID/stat). */
export function cpuTicks(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name (field 2) may contain spaces; fields resume after its closing paren.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  return Number(rest[14 - 3]) + Number(rest[15 - 3]);
}

/** One `kB` field of /proc/PID/status (VmRSS, VmHWM, ...), in KiB. */
export function statusKiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

/**
 * Resets the peak RSS (VmHWM) of `pid` to its current RSS, so a peak can be read per
 * benchmark row. Returns false where the kernel refuses (before Linux 4.0, or no permission).
 */
export function resetPeakRss(pid: number): boolean {
  try {
    Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** CPU and peak memory of one process over one benchmark row. */
export interface ProcUsage {
  readonly name: string;
  /** User + system CPU seconds spent during the row. */
  readonly cpuS: number;
  /** Peak RSS during the row (since the reset at its start), in MiB. */
  readonly peakRssMiB: number;
}

/** Watches a set of processes over one row: create at the row's start, `end()` at its end. */
export class UsageWindow {
  readonly #procs: readonly { name: string; pid: number; startTicks: number }[];
  readonly #ticksPerS: number;

  constructor(procs: readonly { name: string; pid: number }[], ticksPerS: number) {
    this.#ticksPerS = ticksPerS;
    this.#procs = procs.map((p) => {
      resetPeakRss(p.pid);
      return { ...p, startTicks: cpuTicks(p.pid) };
    });
  }

  /** CPU seconds and peak RSS of each process since construction. */
  end(): ProcUsage[] {
    return this.#procs.map((p) => ({
      name: p.name,
      cpuS: (cpuTicks(p.pid) - p.startTicks) / this.#ticksPerS,
      peakRssMiB: statusKiB(p.pid, "VmHWM") / 1024,
    }));
  }
}

/** Busy CPU time of the whole machine, in clock ticks (/proc/stat; idle and iowait excluded). */
export function machineBusyTicks(): number {
  const cpu = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/);
  // cpu user nice system idle iowait irq softirq steal ...: steal is CPU a hypervisor gave away.
  const [user, nice, system, , , irq, softirq, steal] = cpu.slice(1, 9).map(Number);
  return user + nice + system + irq + softirq + (steal || 0);
}

/**
 * CPU time of this process and of every child it has waited for (fields 14–17 of
 * /proc/self/stat), in clock ticks: the benchmark's own share of `machineBusyTicks`.
 */
export function ownTicksWithChildren(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return [14, 15, 16, 17].reduce((sum, field) => sum + Number(rest[field - 3]), 0);
}

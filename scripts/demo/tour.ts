/** The tour's shell session: commands typed into one piped `portal shell`, shown with prompts. */
import { within } from "../../tests/kit/async.ts";
import { type Child, describeStatus } from "../../tests/kit/child.ts";
import { LinesEnded } from "../../tests/kit/lines.ts";
import { COMMAND_DEADLINE_MS, DemoError, type Session } from "./session.ts";

/**
 * Runs `commands` in one piped `portal shell` session on `url` (so `cd` carries over), printing
 * a prompt line before each and its output after. The shell prints results only, so each
 * command is followed by `pwd`: its line marks where the command's output ends, and says which
 * prompt comes next. Failures blame `node`, the one serving `url`.
 */
export async function runTour(
  session: Session,
  node: Child,
  url: string,
  commands: readonly string[],
  also: readonly Promise<never>[],
): Promise<void> {
  const shell = session.startShell(url, "piped");
  let cwd = "/";
  /** Index of the first stdout line not shown yet, and the same for stderr. */
  let read = 0;
  let errShown = 0;
  const said = () => shell.err.lines.join(" ").trim() || "no message";
  const limit = (what: string) => ({
    also: [session.interrupted, ...also],
    onTimeout: () =>
      new DemoError("deadline", `the shell on ${node.name} did not ${what} in time`, node),
  });
  try {
    for (const command of commands) {
      console.log(`portal:${cwd}> ${command}`);
      await shell.send(`${command}\npwd\n`).catch(() => {
        throw new DemoError(
          "tour",
          `the shell on ${node.name} exited before '${command}': ${said()}`,
          node,
        );
      });
      const isCd = command === "cd" || command.startsWith("cd ");
      const before = cwd;
      // After a cd (which prints nothing) the first line is pwd's; otherwise cwd is unchanged.
      const end = await within(
        shell.out.next(
          (line, i) => (isCd ? line.startsWith("/") : line === before) ? i : undefined,
          read,
        ),
        `'${command}'`,
        COMMAND_DEADLINE_MS,
        limit(`finish '${command}'`),
      ).catch((e) => {
        if (!(e instanceof LinesEnded)) throw e;
        throw new DemoError(
          "tour",
          `the shell on ${node.name} stopped during '${command}': ${said()}`,
          node,
        );
      });
      for (const line of shell.out.since(read).slice(0, end - read)) console.log(line);
      for (const line of shell.err.since(errShown)) console.log(line);
      errShown = shell.err.count;
      cwd = shell.out.since(end)[0];
      read = end + 1;
    }
    await shell.closeStdin();
    const status = await within(
      shell.exited(),
      "the shell's exit",
      COMMAND_DEADLINE_MS,
      limit("exit after its input ended"),
    );
    if (!status.success) {
      throw new DemoError(
        "tour",
        `a command in the shell on ${node.name} failed (${describeStatus(status)}): ${said()}`,
        node,
      );
    }
  } finally {
    await session.endShell(shell);
  }
}

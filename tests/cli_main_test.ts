/**
 * The `portal` command line (main.ts): help for every command, the version, and one sentence
 * with the fix for each mistake, exit status 2. Run in-process with injected io, and through
 * a real process for the exit statuses.
 */
import assert from "node:assert/strict";
import { run } from "../main.ts";
import { VERSION } from "../src/version.ts";
import { mainArgs, runCommand } from "./kit/child.ts";
import { modNode, peer, writeIni } from "./kit/ini.ts";

interface Ran {
  code: number;
  out: string;
  err: string;
}

async function portal(...argv: string[]): Promise<Ran> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, {
    stdout: { write: (t) => void out.push(t) },
    stderr: { write: (t) => void err.push(t) },
    stdin: () => new Blob([""]).stream(),
    isTerminal: false,
    env: () => undefined,
  });
  return { code, out: out.join(""), err: err.join("") };
}

Deno.test("portal help, --help and -h print the usage; help NAME is NAME --help", async () => {
  for (const argv of [["help"], ["--help"], ["-h"], ["help", "--help"]]) {
    const r = await portal(...argv);
    assert.equal(r.code, 0, argv.join(" "));
    assert.match(r.out, /^usage:\n {2}portal --config FILE/);
    assert.match(r.out, /portal help \[COMMAND\]/);
    assert.equal(r.err, "");
  }
  for (const name of ["check-config", "gen-certs", "shell", "call"]) {
    const direct = await portal(name, "--help");
    assert.equal(direct.code, 0, name);
    assert.match(direct.out, new RegExp(`^usage: portal ${name} `));
    assert.deepEqual(await portal("help", name), direct);
    assert.deepEqual(await portal(name, "-h"), direct);
  }
  const version = await portal("help", "version");
  assert.equal(version.code, 0);
  assert.match(version.out, /^usage: portal version/);
});

Deno.test("portal version and --version print the version", async () => {
  for (const argv of [["version"], ["--version"], ["-V"]]) {
    assert.deepEqual(await portal(...argv), { code: 0, out: `portal ${VERSION}\n`, err: "" });
  }
});

Deno.test("portal: each command-line mistake is one sentence with the fix, exit 2", async () => {
  const cases: [string[], string][] = [
    [
      ["check-config", "--bogus"],
      "portal check-config: unknown option '--bogus'; portal check-config takes --config FILE and --help",
    ],
    [
      ["check-config", "--confg", "x.ini"],
      "portal check-config: unknown option '--confg' (did you mean '--config'?); portal " +
      "check-config takes --config FILE and --help",
    ],
    [["check-config", "--config"], "portal check-config: --config needs a value: --config FILE"],
    [
      ["check-config", "config/office.ini"],
      "portal check-config: give the file with --config: portal check-config --config config/office.ini",
    ],
    [
      ["check-config", "--config", "a.ini", "--config", "b.ini"],
      "portal check-config: --config is given twice ('a.ini' and 'b.ini'); give it once",
    ],
    [
      ["check-config"],
      "portal check-config: which file? give it with --config: portal check-config --config /etc/portal/node.ini",
    ],
    [
      ["check-config", "--help=yes"],
      "portal check-config: --help takes no value; write just --help",
    ],
    [
      ["chek-config"],
      "portal: unknown command 'chek-config' (did you mean 'check-config'?); the commands are " +
      "check-config, gen-certs, shell, call, reload, help, version (portal help lists them)",
    ],
    [
      ["node.ini"],
      "portal: to run a node, give its file with --config: portal --config node.ini",
    ],
    [
      ["--config", "a.ini", "--config", "b.ini"],
      "portal: --config is given twice ('a.ini' and 'b.ini'); give it once",
    ],
    [
      ["--config", "--version"],
      "portal: --config needs a value, but the next argument is the option '--version': " +
      "--config FILE (write --config=--version if the value really starts with '-')",
    ],
    [
      ["--config", "node.ini", "check-config"],
      "portal: the command comes first: portal check-config --config node.ini",
    ],
    [
      ["--bogus"],
      "portal: unknown option '--bogus'; portal takes --config FILE, --version and --help",
    ],
    [["--help", "x"], "portal: unexpected argument 'x'; to run a node: portal --config FILE"],
    [["-v"], "portal: unknown option '-v'; portal takes --config FILE, --version and --help"],
    [
      ["help", "nope"],
      "portal: no help for 'nope'; the commands are check-config, gen-certs, shell, call, reload, help, version (portal help lists them)",
    ],
    [["version", "x"], "portal: version takes no arguments: portal version"],
    [
      ["--versoin"],
      "portal: unknown option '--versoin' (did you mean '--version'?); portal takes --config FILE, --version and --help",
    ],
    [["--config"], "portal: --config needs a value: --config FILE"],
    [["--version=1"], "portal: --version takes no value; write just --version"],
  ];
  for (const [argv, sentence] of cases) {
    const r = await portal(...argv);
    assert.deepEqual(r, { code: 2, out: "", err: sentence + "\n" }, argv.join(" "));
  }
});

Deno.test("portal without arguments says what to give, then the usage", async () => {
  const r = await portal();
  assert.equal(r.code, 2);
  assert.match(
    r.err,
    /^portal: nothing to do: give a command, or --config FILE to run a node\nusage:/,
  );
});

Deno.test("portal check-config prints the summary and warnings, or every mistake with its line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const good = await writeIni(
      dir,
      "good",
      modNode("office", { listenPort: "off", tls: false, key: "change-me-please-0123" }),
      peer("hub", { port: 9090 }),
    );
    const r = await portal("check-config", "--config", good);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^node office \\(${good}\\)\n`));
    assert.match(
      r.out,
      /\n {2}warning: federation_key is still the example value.*\(line \d+\)\n$/,
    );
    const bad = `${dir}/bad.ini`;
    await Deno.writeTextFile(bad, "[mod_node]\nname = office\nfederation_key = 'quoted'\n");
    const b = await portal("check-config", "--config", bad);
    assert.equal(b.code, 2);
    assert.equal(b.out, "");
    assert.match(b.err, new RegExp(`^${bad}:3: .*single quotes`, "m"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main.ts exits with the status its commands answer", async () => {
  const status = async (...argv: string[]) => {
    const ran = await runCommand(Deno.execPath(), mainArgs(argv));
    return { code: ran.code, out: ran.stdout };
  };
  const help = await status("check-config", "--help");
  assert.equal(help.code, 0);
  assert.match(help.out, /^usage: portal check-config --config FILE/);
  assert.equal((await status("check-config", "--bogus")).code, 2);
});

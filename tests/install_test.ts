/**
 * scripts/install.sh checks the configuration as the node will find it before installing
 * anything, with the binary it installs (here a script running main.ts), and says how to
 * replace a node.ini it keeps. Everything goes into a staging root (`--prefix`).
 */
import assert from "node:assert/strict";
import { makeCertDir, REPO_ROOT, runCommand } from "./kit/mod.ts";
import { writePortalScript } from "./helpers/portal_script.ts";

const INSTALL = `${REPO_ROOT}/scripts/install.sh`;

interface Ran {
  code: number;
  out: string;
  err: string;
}

async function install(cwd: string, ...args: string[]): Promise<Ran> {
  const o = await runCommand("bash", [INSTALL, ...args], { cwd });
  return { code: o.code, out: o.stdout, err: o.stderr };
}

/** A checkout-like directory: factory.ini as in config/ (certs/...), and its certificates. */
async function site(): Promise<{ dir: string; root: string; base: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "portal-install-" });
  await makeCertDir(["factory"], `${dir}/certs`);
  await writePortalScript(`${dir}/portal`);
  const ini = await Deno.readTextFile(`${REPO_ROOT}/config/factory.ini`);
  // A real key, so that only what the test is about is reported.
  await Deno.writeTextFile(
    `${dir}/factory.ini`,
    ini.replace(/^federation_key = .*$/m, "federation_key = a-long-random-secret-for-this-test"),
  );
  return {
    dir,
    root: `${dir}/root`,
    base: [
      "--prefix",
      `${dir}/root`,
      "--binary",
      `${dir}/portal`,
      "--file",
      "certs/factory.pem",
      "--file",
      "certs/factory.key",
      "--file",
      "certs/ca.pem",
    ],
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** factory.ini with its files named as install.sh places them. */
async function flatten(dir: string, name = "factory.ini"): Promise<string> {
  const text = await Deno.readTextFile(`${dir}/factory.ini`);
  await Deno.writeTextFile(`${dir}/${name}`, text.replaceAll("= certs/", "= "));
  return name;
}

Deno.test("install.sh refuses a node.ini whose files are not where --file puts them, and says what to write", async () => {
  const s = await site();
  try {
    const r = await install(s.dir, ...s.base, "--config", "factory.ini");
    assert.equal(r.code, 1, r.out);
    assert.equal(r.out, "");
    const etc = `${s.root}/etc/portal`;
    assert.equal(
      r.err.split("\n")[0],
      "install.sh: factory.ini would not start the node, so nothing was installed:",
    );
    assert.match(
      r.err,
      new RegExp(
        `^ {2}factory\\.ini:\\d+: cannot read tls_cert 'certs/factory\\.pem' \\(${etc}/certs/factory\\.pem\\): no such file`,
        "m",
      ),
    );
    assert.ok(
      r.err.includes(
        `install.sh puts --file files directly in ${etc}, next to node.ini (which reads ` +
          "relative paths from its own directory): in factory.ini write tls_cert = factory.pem, " +
          "tls_key = factory.key, tls_ca = ca.pem.\n",
      ),
      r.err,
    );
    assert.match(
      r.err,
      /Fix factory\.ini and run install\.sh again \(--no-check installs it anyway\)\.\n$/,
    );
    assert.doesNotMatch(r.err, /portal-check\./, "no temporary path is shown");
    // Nothing at all was installed, not even the binary.
    assert.equal(await exists(`${s.root}/usr/local/bin/portal`), false);
    assert.equal(await exists(etc), false);

    // With the line it asked for, the same command installs, and says the check passed.
    await flatten(s.dir);
    const ok = await install(s.dir, ...s.base, "--config", "factory.ini");
    assert.equal(ok.code, 0, ok.err);
    assert.match(
      ok.out,
      new RegExp(`^checked +${etc}/node\\.ini \\(as 'portal check-config' reads it\\)$`, "m"),
    );
    assert.match(ok.out, /^installed +.*\/etc\/portal\/node\.ini$/m);
    assert.doesNotMatch(ok.out, /warning/);
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("install.sh prints the configuration's warnings after its check", async () => {
  const s = await site();
  try {
    await flatten(s.dir);
    const text = await Deno.readTextFile(`${s.dir}/factory.ini`);
    await Deno.writeTextFile(
      `${s.dir}/factory.ini`,
      text.replace(/^federation_key = .*$/m, "federation_key = change-me-to-a-long-random-secret"),
    );
    const r = await install(s.dir, ...s.base, "--config", "factory.ini");
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /^checked .*\nwarning: federation_key is still the example value; .* \(line \d+\)\n/m,
    );
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("install.sh checks a kept node.ini, points at --replace-config, which keeps the old one", async () => {
  const s = await site();
  try {
    // A broken node.ini got installed once (as before the check existed).
    const first = await install(s.dir, ...s.base, "--config", "factory.ini", "--no-check");
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, /^not checked +.*node\.ini \(--no-check\)$/m);
    const etc = `${s.root}/etc/portal`;
    const broken = await Deno.readTextFile(`${etc}/node.ini`);

    // The fixed file is not installed over it: the installed one is kept, and it is what fails.
    const fixed = await flatten(s.dir, "fixed.ini");
    const kept = await install(s.dir, ...s.base, "--config", fixed);
    assert.equal(kept.code, 1);
    assert.match(kept.err, new RegExp(`^install\\.sh: ${etc}/node\\.ini would not start the node`));
    assert.ok(
      kept.err.endsWith(
        `The installed ${etc}/node.ini was checked because it is kept: it differs from fixed.ini. ` +
          "To install fixed.ini in its place, run again with --replace-config.\n",
      ),
      kept.err,
    );
    assert.equal(await Deno.readTextFile(`${etc}/node.ini`), broken);

    const replaced = await install(s.dir, ...s.base, "--config", fixed, "--replace-config");
    assert.equal(replaced.code, 0, replaced.err);
    assert.match(
      replaced.out,
      new RegExp(
        `^replaced +${etc}/node\\.ini \\(the previous one is kept as ${etc}/node\\.ini\\.old\\)$`,
        "m",
      ),
    );
    assert.equal(await Deno.readTextFile(`${etc}/node.ini.old`), broken);
    assert.equal(
      await Deno.readTextFile(`${etc}/node.ini`),
      await Deno.readTextFile(`${s.dir}/${fixed}`),
    );
    assert.equal(((await Deno.stat(`${etc}/node.ini.old`)).mode! & 0o777).toString(8), "640");

    // An operator's edit is kept, with the way to compare and to replace it.
    await Deno.writeTextFile(
      `${etc}/node.ini`,
      (await Deno.readTextFile(`${etc}/node.ini`)) + "\n# edited\n",
    );
    const again = await install(s.dir, ...s.base, "--config", fixed);
    assert.equal(again.code, 0, again.err);
    assert.ok(
      again.out.includes(
        `kept             ${etc}/node.ini (it differs from fixed.ini and is not overwritten; ` +
          `compare them with: diff ${etc}/node.ini fixed.ini; to install fixed.ini in its place, ` +
          "run again with --replace-config)\n",
      ),
      again.out,
    );
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("install.sh checks the installed node.ini against new --file files (a renewed key)", async () => {
  const s = await site();
  try {
    await flatten(s.dir);
    assert.equal((await install(s.dir, ...s.base, "--config", "factory.ini")).code, 0);
    // A key from another gen-certs run, installed alone: the pair no longer matches.
    await makeCertDir(["factory"], `${s.dir}/other`);
    const r = await install(
      s.dir,
      "--prefix",
      s.root,
      "--binary",
      `${s.dir}/portal`,
      "--file",
      "other/factory.key",
    );
    assert.equal(r.code, 1, r.out);
    assert.match(r.err, /tls_key 'factory\.key' does not belong to tls_cert 'factory\.pem'/);
    assert.notEqual(
      await Deno.readTextFile(`${s.root}/etc/portal/factory.key`),
      await Deno.readTextFile(`${s.dir}/other/factory.key`),
    );
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("install.sh says 'not checked' for a binary that cannot run here, and refuses --replace-config alone", async () => {
  const s = await site();
  try {
    await flatten(s.dir);
    // An executable for another machine: the kernel refuses to run it.
    await Deno.writeFile(`${s.dir}/foreign`, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), {
      mode: 0o755,
    });
    const args = s.base.map((a) => (a === `${s.dir}/portal` ? `${s.dir}/foreign` : a));
    const r = await install(s.dir, ...args, "--config", "factory.ini");
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /^not checked +.*node\.ini \(.*foreign does not run here, e\.g\. another architecture: run 'portal check-config --config \/etc\/portal\/node\.ini' on the host\)$/m,
    );
    const alone = await install(s.dir, "--prefix", s.root, "--replace-config");
    assert.equal(alone.code, 2);
    assert.equal(
      alone.err,
      "install.sh: --replace-config needs --config FILE: the node.ini to install in place of the current one\n",
    );
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});

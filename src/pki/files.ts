/**
 * Writing certificate files: exact modes whatever the umask, no clobbering without `force`, and
 * never a half-written set or a truncated key under its real name.
 */
import { errorText } from "../util/errors.ts";
import { CertError } from "./errors.ts";
import { hex } from "./x509.ts";

/** Private keys are readable by their owner only; certificates are public. */
export const KEY_FILE_MODE = 0o600;
export const CERT_FILE_MODE = 0o644;
export const DIR_MODE = 0o700;

/** One file for {@link writeCerts}. */
export interface CertFile {
  /** Name inside the directory, without any path. */
  readonly fileName: string;
  readonly contents: string;
  /** {@link KEY_FILE_MODE} or {@link CERT_FILE_MODE}. */
  readonly mode: number;
}

/** Options of {@link writeCerts}. */
export interface WriteCertsOptions {
  /** Replace files that exist. Default false: an existing file is an error. */
  readonly force?: boolean;
}

/**
 * Writes `files` into `dir` (created with mode 0700 when missing) with their exact modes.
 * Without `force` nothing is written when any file exists. If a write fails, files this call
 * created are removed again, so no half-written set is left behind. Returns the paths written.
 */
export async function writeCerts(
  dir: string,
  files: readonly CertFile[],
  opts: WriteCertsOptions = {},
): Promise<string[]> {
  for (const f of files) {
    if (f.fileName.includes("/") || f.fileName.includes("\\") || f.fileName.startsWith(".")) {
      throw new CertError("usage", `refusing to write '${f.fileName}' outside ${dir}`);
    }
  }
  await ensureDir(dir);
  const paths = files.map((f) => joinPath(dir, f.fileName));
  const existing: string[] = [];
  for (const p of paths) if (await exists(p)) existing.push(p);
  if (existing.length > 0 && !opts.force) throw existsError(existing);

  const created: string[] = [];
  try {
    for (let i = 0; i < files.length; i++) {
      const path = paths[i];
      const wasThere = existing.includes(path);
      await writeFileExactly(path, files[i].contents, files[i].mode, wasThere);
      if (!wasThere) created.push(path);
    }
  } catch (e) {
    for (const p of created) await Deno.remove(p).catch(() => {});
    if (e instanceof CertError) throw e;
    throw new CertError("io", `could not write certificates into ${dir}: ${errorText(e)}`, {
      cause: e,
    });
  }
  return paths;
}

/** `dir/name`, without doubling a trailing slash. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

/** The error for files in the way, naming each. */
export function existsError(paths: readonly string[]): CertError {
  const what = paths.length === 1
    ? `${paths[0]} already exists`
    : `${paths.join(" and ")} already exist`;
  return new CertError("exists", `${what}; pass --force to overwrite`);
}

/** The file's information, or null when there is nothing at `path`. */
export async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new CertError("io", `cannot inspect ${path}: ${errorText(e)}`, { cause: e });
  }
}

/** Whether anything (even a dangling link) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw new CertError("io", `cannot inspect ${path}: ${errorText(e)}`, { cause: e });
  }
}

/** The file's text, or an `io` error naming it. */
export async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new CertError("io", `cannot read ${path}: ${errorText(e)}`, { cause: e });
  }
}

async function ensureDir(dir: string): Promise<void> {
  const info = await statOrNull(dir);
  if (info) {
    if (!info.isDirectory) throw new CertError("io", `${dir} exists and is not a directory`);
    return;
  }
  try {
    await Deno.mkdir(dir, { recursive: true, mode: DIR_MODE });
    // mkdir's mode is filtered by the umask; the directory holds private keys, so set it exactly.
    await Deno.chmod(dir, DIR_MODE);
  } catch (e) {
    throw new CertError("io", `cannot create directory ${dir}: ${errorText(e)}`, { cause: e });
  }
}

/**
 * Writes `contents` with exactly `mode`, durably. A new file is created exclusively (never
 * clobbering one that appeared meanwhile); a replacement goes through a temporary file and a
 * rename, so the old file stays whole until the new one is complete, and a key file that was
 * once 0644 does not keep that mode.
 */
async function writeFileExactly(
  path: string,
  contents: string,
  mode: number,
  replace: boolean,
): Promise<void> {
  const data = new TextEncoder().encode(contents);
  const target = replace ? `${path}.tmp-${hex(crypto.getRandomValues(new Uint8Array(6)))}` : path;
  let file: Deno.FsFile | undefined;
  let created = false;
  try {
    file = await Deno.open(target, { write: true, createNew: true, mode });
    created = true;
    await Deno.chmod(target, mode);
    let written = 0;
    while (written < data.byteLength) written += await file.write(data.subarray(written));
    await file.sync();
    file.close();
    file = undefined;
    if (replace) await Deno.rename(target, path);
  } catch (e) {
    file?.close();
    // Never leave a truncated key or certificate behind under its real name.
    if (created) await Deno.remove(target).catch(() => {});
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new CertError("exists", `${path} already exists; pass --force to overwrite`);
    }
    throw new CertError("io", `cannot write ${path}: ${errorText(e)}`, { cause: e });
  }
}

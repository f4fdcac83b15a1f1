/**
 * The audit file (`audit_log`): lines appended and fsynced before anyone acts on them, with
 * every line queued while one write is in flight going out in the next write and fsync (group
 * commit); rotated by size; its latest records kept in memory for `/node/audit`.
 */
import { errorText } from "../util/errors.ts";
import {
  type AuditEntry,
  type AuditLine,
  type DecisionLine,
  entryOf,
  mergeLines,
  type OutcomeLine,
  parseAuditLine,
  withOutcome,
} from "./record.ts";

/** What the audit log needs of an open file; Deno.FsFile has it. */
export interface AuditFile {
  write(p: Uint8Array): Promise<number>;
  syncData(): Promise<void>;
  stat(): Promise<{ readonly size: number }>;
  close(): void;
}

/** Why an audit line could not be written. */
export type AuditErrorCode = "open" | "write" | "busy" | "closed";

/** An audit line that is not on disk; the message says why. */
export class AuditError extends Error {
  override readonly name = "AuditError";
  constructor(readonly code: AuditErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Options of {@link AuditLog.open}. */
export interface AuditLogOptions {
  /** Absolute path of the file (`audit_log`). */
  readonly path: string;
  /** Size at which the file is rotated to `<path>.1`. Default 10 MiB. */
  readonly maxBytes?: number;
  /** Rotated files kept (`<path>.1` … `<path>.N`). Default 4. */
  readonly keep?: number;
  /** Records kept in memory for `/node/audit`. Default 1000. */
  readonly memory?: number;
  /** Lines waiting for the disk beyond which appends are refused (`busy`). Default 4096. */
  readonly maxQueued?: number;
  /** Bytes read back from the end of each file at start. Default 512 KiB. */
  readonly loadBytes?: number;
  /** Opens the file for appending. Default Deno.open (create, append, mode 0640). */
  readonly openFile?: (path: string) => Promise<AuditFile>;
  /** Told about rotation failures (the log keeps writing to the current file). */
  readonly onError?: (message: string) => void;
}

interface Queued {
  readonly line: AuditLine;
  readonly bytes: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

const encoder = new TextEncoder();
const NEWLINE = encoder.encode("\n");

const defaultOpen = (path: string): Promise<AuditFile> =>
  Deno.open(path, { create: true, append: true, mode: 0o640 });

/** An append-only audit file with group commit, rotation and a bounded in-memory tail. */
export class AuditLog {
  readonly path: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  readonly #memory: number;
  readonly #maxQueued: number;
  readonly #openFile: (path: string) => Promise<AuditFile>;
  readonly #onError: (message: string) => void;
  readonly #entries = new Map<string, AuditEntry>();
  #file: AuditFile;
  #size: number;
  /** Size at which the next rotation is tried (pushed on after a failed one). */
  #rotateAt: number;
  #queue: Queued[] = [];
  /** Set and cleared in the same turn as the queue is checked, so no line is left behind. */
  #writing = false;
  #draining: Promise<void> = Promise.resolve();
  /** A failed write may have left part of a line: the next write starts a fresh line. */
  #torn = false;
  #closed = false;
  /** Writes and fsyncs done, for tests and /node/status-like views. */
  #syncs = 0;

  private constructor(opts: AuditLogOptions, file: AuditFile, size: number, loaded: AuditEntry[]) {
    this.path = opts.path;
    this.#maxBytes = opts.maxBytes ?? 10 * 1024 * 1024;
    this.#keep = opts.keep ?? 4;
    this.#memory = opts.memory ?? 1000;
    this.#maxQueued = opts.maxQueued ?? 4096;
    this.#openFile = opts.openFile ?? defaultOpen;
    this.#onError = opts.onError ?? (() => {});
    this.#file = file;
    this.#size = size;
    this.#rotateAt = this.#maxBytes;
    for (const e of loaded) this.#entries.set(e.record, e);
  }

  /**
   * Reads back the latest records (of `<path>.1` and `<path>`) and opens the file for appending.
   * Rejects with an "open" {@link AuditError} naming the file and the reason.
   */
  static async open(opts: AuditLogOptions): Promise<AuditLog> {
    const path = opts.path;
    const memory = opts.memory ?? 1000;
    const loadBytes = opts.loadBytes ?? 512 * 1024;
    const fail = (why: string, cause?: unknown) =>
      new AuditError("open", `cannot open audit_log ${path}: ${why}`, { cause });
    try {
      const info = await Deno.stat(path);
      if (!info.isFile) throw fail("it is not a regular file");
    } catch (e) {
      if (e instanceof AuditError) throw e;
      if (!(e instanceof Deno.errors.NotFound)) throw fail(errorText(e), e);
    }
    const lines: AuditLine[] = [];
    let torn = false;
    try {
      lines.push(...(await readTail(`${path}.1`, loadBytes)).lines);
      const current = await readTail(path, loadBytes);
      lines.push(...current.lines);
      torn = current.torn;
    } catch (e) {
      throw fail(`it cannot be read back: ${errorText(e)}`, e);
    }
    let file: AuditFile;
    try {
      file = await (opts.openFile ?? defaultOpen)(path);
    } catch (e) {
      const hint = e instanceof Deno.errors.NotFound
        ? " (does its directory exist?)"
        : e instanceof Deno.errors.PermissionDenied
        ? " (may this user write there?)"
        : "";
      throw fail(`${errorText(e)}${hint}`, e);
    }
    let size: number;
    try {
      size = (await file.stat()).size;
    } catch (e) {
      file.close();
      throw fail(errorText(e), e);
    }
    const log = new AuditLog(opts, file, size, mergeLines(lines, memory));
    // A crash mid-line left a fragment at the end: the first new line must not join it.
    log.#torn = torn;
    return log;
  }

  /** Write-and-fsync rounds done so far (one per group of lines). */
  get syncs(): number {
    return this.#syncs;
  }

  /** Lines waiting for the disk now. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Appends `line`; resolves once it is written and fsynced, rejects with an
   * {@link AuditError} when it is not (the caller must then not act as if it were).
   */
  append(line: AuditLine): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new AuditError("closed", "the audit log is closed"));
    }
    if (this.#queue.length >= this.#maxQueued) {
      return Promise.reject(
        new AuditError(
          "busy",
          `${this.#queue.length} audit lines are already waiting for the disk (${this.path})`,
        ),
      );
    }
    const bytes = encoder.encode(JSON.stringify(line) + "\n");
    return new Promise((resolve, reject) => {
      this.#queue.push({ line, bytes, resolve, reject });
      if (!this.#writing) {
        this.#writing = true;
        this.#draining = this.#drain();
      }
    });
  }

  /** The latest `limit` records, newest first. */
  latest(limit: number): AuditEntry[] {
    const all = [...this.#entries.values()];
    return all.slice(Math.max(0, all.length - limit)).reverse();
  }

  /** Writes what is queued, then closes the file; later appends are refused. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#draining;
    try {
      this.#file.close();
    } catch {
      // Closed already by a failed rotation.
    }
  }

  async #drain(): Promise<void> {
    try {
      // Lines appended in the same turn join the first write.
      await Promise.resolve();
      while (this.#queue.length > 0) await this.#writeBatch();
    } finally {
      // In the same turn as the last check of the queue: an append after it starts a new drain.
      this.#writing = false;
    }
  }

  /** Writes and fsyncs every line queued now, then settles each one's promise. */
  async #writeBatch(): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    const parts = batch.map((q) => q.bytes);
    if (this.#torn) parts.unshift(NEWLINE);
    const bytes = concat(parts);
    try {
      await writeAll(this.#file, bytes);
      this.#size += bytes.byteLength;
      this.#torn = false;
      await this.#file.syncData();
      this.#syncs++;
    } catch (e) {
      this.#torn = true;
      const error = new AuditError(
        "write",
        `cannot write audit_log ${this.path}: ${errorText(e)}`,
        { cause: e },
      );
      for (const q of batch) q.reject(error);
      return;
    }
    for (const q of batch) {
      this.#remember(q.line);
      q.resolve();
    }
    if (this.#size >= this.#rotateAt) await this.#rotate();
  }

  #remember(line: AuditLine): void {
    if (line.event === "decision") {
      this.#entries.set(line.record, entryOf(line as DecisionLine));
      if (this.#entries.size > this.#memory) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
      return;
    }
    const entry = this.#entries.get(line.record);
    if (entry !== undefined) {
      this.#entries.set(line.record, withOutcome(entry, line as OutcomeLine));
    }
  }

  /** `<path>` becomes `<path>.1`, older ones move up one, the oldest beyond `keep` goes. */
  async #rotate(): Promise<void> {
    // A failed rotation is tried again only after another maxBytes: one error, not one per line.
    this.#rotateAt = this.#size + this.#maxBytes;
    try {
      await Deno.remove(`${this.path}.${this.#keep}`).catch(ignoreNotFound);
      for (let i = this.#keep - 1; i >= 1; i--) {
        await Deno.rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(ignoreNotFound);
      }
      await Deno.rename(this.path, `${this.path}.1`);
    } catch (e) {
      this.#onError(
        `cannot rotate audit_log ${this.path} (${errorText(e)}); writing on to the same file`,
      );
      return;
    }
    let next: AuditFile;
    try {
      next = await this.#openFile(this.path);
    } catch (e) {
      // The old file (now <path>.1) is still open: lines keep going there rather than nowhere.
      this.#onError(
        `cannot open a new audit_log ${this.path} after rotating (${errorText(e)}); ` +
          `writing on to ${this.path}.1`,
      );
      return;
    }
    const old = this.#file;
    this.#file = next;
    this.#size = 0;
    this.#rotateAt = this.#maxBytes;
    try {
      old.close();
    } catch {
      // Already closed.
    }
  }
}

function ignoreNotFound(e: unknown): void {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}

async function writeAll(file: AuditFile, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength;) at += await file.write(bytes.subarray(at));
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * The audit lines among the last `maxBytes` of `path` (none when it does not exist), and
 * whether it ends in the middle of a line.
 */
async function readTail(
  path: string,
  maxBytes: number,
): Promise<{ lines: AuditLine[]; torn: boolean }> {
  let file: Deno.FsFile;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) return { lines: [], torn: false };
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { lines: [], torn: false };
    throw e;
  }
  try {
    const size = (await file.stat()).size;
    const start = Math.max(0, size - maxBytes);
    await file.seek(start, Deno.SeekMode.Start);
    const buf = new Uint8Array(size - start);
    let got = 0;
    while (got < buf.byteLength) {
      const n = await file.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    let text = new TextDecoder().decode(buf.subarray(0, got));
    const torn = got > 0 && buf[got - 1] !== 0x0a;
    // Starting mid-file, the first line is a fragment.
    if (start > 0) text = text.slice(text.indexOf("\n") + 1);
    const lines: AuditLine[] = [];
    for (const l of text.split("\n")) {
      const line = l.trim() === "" ? null : parseAuditLine(l);
      if (line !== null) lines.push(line);
    }
    return { lines, torn };
  } finally {
    file.close();
  }
}

/** Reading streams without ever holding more than a fixed number of bytes. */

/** The input went past its bound; the stream has been cancelled. */
export class TooLargeError extends Error {
  override readonly name = "TooLargeError";
  readonly code = "too_large";
  constructor(readonly limit: number) {
    super(`larger than ${limit} bytes`);
  }
}

/**
 * Reads `stream` into one buffer. Rejects with {@link TooLargeError} as soon
 * as more than `limit` bytes have arrived, cancelling the stream, so at most
 * `limit` bytes are ever held, whatever the sender claims or sends.
 */
export async function readCapped(
  stream: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<Uint8Array> {
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (total + value.byteLength > limit) {
        await reader.cancel().catch(() => {});
        throw new TooLargeError(limit);
      }
      chunks.push(value);
      total += value.byteLength;
    }
  } finally {
    reader.releaseLock();
  }
  return concatBytes(chunks, total);
}

/** The chunks as one array (the chunk itself when there is one); `total` is their summed length. */
export function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Why {@link readRegularFile} refused or failed. */
export type ReadFileErrorCode = "not_regular" | "too_large" | "not_found" | "permission" | "io";

/** A file that could not be read as a regular file under its size bound; `message` says why. */
export class ReadFileError extends Error {
  override readonly name = "ReadFileError";
  constructor(readonly code: ReadFileErrorCode, readonly path: string, message: string) {
    super(message);
  }
}

/** What a path that is not a regular file is, for the sentence that refuses it. */
function describeKind(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a named pipe (FIFO)";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

function fsError(err: unknown, path: string): ReadFileError {
  if (err instanceof ReadFileError) return err;
  if (err instanceof Deno.errors.NotFound) {
    return new ReadFileError("not_found", path, "no such file");
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    return new ReadFileError("permission", path, "permission denied");
  }
  if (err instanceof Deno.errors.NotCapable) {
    return new ReadFileError("permission", path, "this process has no read permission for it");
  }
  const text = err instanceof Error ? err.message.replace(/\s+/g, " ").trim() : String(err);
  return new ReadFileError("io", path, text);
}

/** `1 MiB`, `4 MiB`, `16 KiB`, or bytes: how a size bound is written in sentences. */
function sizeText(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / 1024 / 1024} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/**
 * Reads the regular file at `path` whole, holding at most `limit` bytes.
 * A directory, named pipe, device or socket is refused before it is opened,
 * so a FIFO never blocks the caller and /dev/urandom is never read; a file
 * that turns out larger than `limit` while being read (the size stat reports
 * can be 0, as in /proc) is refused as soon as it passes the bound.
 * Throws {@link ReadFileError} with a short sentence (no path in it).
 */
export async function readRegularFile(path: string, limit: number): Promise<Uint8Array> {
  let file: Deno.FsFile;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) {
      throw new ReadFileError(
        "not_regular",
        path,
        `it is ${describeKind(info)}, not a regular file`,
      );
    }
    if (info.size > limit) throw tooLarge(path, limit);
    file = await Deno.open(path, { read: true });
  } catch (err) {
    throw fsError(err, path);
  }
  try {
    // The path may have been swapped between stat and open; the open file is what counts.
    const info = await file.stat();
    if (!info.isFile) {
      throw new ReadFileError(
        "not_regular",
        path,
        `it is ${describeKind(info)}, not a regular file`,
      );
    }
    // One byte past the bound tells "exactly limit" from "more than limit".
    let buffer = new Uint8Array(Math.min(limit, Math.max(info.size, 4096)) + 1);
    let total = 0;
    for (;;) {
      if (total === buffer.length) {
        if (total > limit) throw tooLarge(path, limit);
        const grown = new Uint8Array(Math.min(limit + 1, buffer.length * 2));
        grown.set(buffer);
        buffer = grown;
      }
      const n = await file.read(buffer.subarray(total));
      if (n === null) return buffer.slice(0, total);
      total += n;
    }
  } catch (err) {
    throw fsError(err, path);
  } finally {
    file.close();
  }
}

/** {@link readRegularFile}, decoded as UTF-8 (invalid bytes become U+FFFD). */
export async function readRegularTextFile(path: string, limit: number): Promise<string> {
  return new TextDecoder().decode(await readRegularFile(path, limit));
}

function tooLarge(path: string, limit: number): ReadFileError {
  return new ReadFileError("too_large", path, `it is larger than ${sizeText(limit)}`);
}

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
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

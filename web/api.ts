/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The dashboard's view of the node's HTTP API: JSON requests and the SSE
 * stream, both with the token in an `Authorization` header (EventSource
 * cannot send one, so the stream is read with fetch and parsed here).
 */
import { parseSseBlock } from "../src/util/sse.ts";

/** A failed request: its HTTP status (0 when the node could not be reached) and sentence. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** One event of the stream. */
export interface StreamEvent {
  /** `hello`, `change`, `dropped`. */
  readonly event: string;
  readonly data: unknown;
}

/** Talks to the node that served the page, with the token the user typed (or none). */
export class Api {
  constructor(private readonly token: string | null) {}

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { accept: "application/json", ...extra };
    if (this.token !== null) h.authorization = `Bearer ${this.token}`;
    return h;
  }

  /** GET `/api<path>`. */
  get(path: string): Promise<unknown> {
    return this.#send("GET", path);
  }

  /** POST `/api<path>` (a CALL). */
  call(path: string): Promise<unknown> {
    return this.#send("POST", path, "{}");
  }

  async #send(method: string, path: string, body?: string): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(apiUrl(path), {
        method,
        headers: this.#headers(body === undefined ? {} : { "content-type": "application/json" }),
        body,
        cache: "no-store",
        credentials: "omit",
      });
    } catch {
      throw new ApiError(0, "the node does not answer");
    }
    let value: unknown = null;
    try {
      value = await res.json();
    } catch {
      // Not JSON: the status says enough.
    }
    if (!res.ok) {
      const error = (value as { error?: unknown } | null)?.error;
      throw new ApiError(res.status, typeof error === "string" ? error : `HTTP ${res.status}`);
    }
    return value;
  }

  /**
   * Streams the events under `paths` until `signal` aborts or the stream ends;
   * rejects with an ApiError when it cannot be opened.
   */
  async stream(
    paths: readonly string[],
    onEvent: (e: StreamEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const query = paths.map((p) => "path=" + encodeURIComponent(p)).join("&");
    let res: Response;
    try {
      res = await fetch(`/api/events?${query}`, {
        headers: this.#headers({ accept: "text/event-stream" }),
        cache: "no-store",
        credentials: "omit",
        signal,
      });
    } catch (e) {
      if (signal.aborted) return;
      throw new ApiError(0, `the event stream could not be opened: ${(e as Error).message}`);
    }
    if (!res.ok || res.body === null) {
      let error = `HTTP ${res.status}`;
      try {
        error = ((await res.json()) as { error: string }).error ?? error;
      } catch {
        // Keep the status.
      }
      throw new ApiError(res.status, error);
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const parsed = parseBlock(block);
          if (parsed !== null) onEvent(parsed);
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      throw new ApiError(0, `the event stream broke: ${(e as Error).message}`);
    } finally {
      reader.releaseLock();
    }
  }
}

/** One SSE block (`event:`, `data:` lines; comments ignored); null for a comment alone. */
export function parseBlock(block: string): StreamEvent | null {
  const parsed = parseSseBlock(block);
  if (parsed === null) return null;
  try {
    return { event: parsed.event, data: JSON.parse(parsed.data) };
  } catch {
    return { event: parsed.event, data: parsed.data };
  }
}

/** `/api` plus each segment of `path` percent-encoded. */
export function apiUrl(path: string): string {
  const segments = path.split("/").filter((s) => s !== "").map(encodeURIComponent);
  return "/api/" + segments.join("/");
}

/**
 * The client side of `watch <path>`: reads a node's event stream
 * (`GET /api/events?path=…`, Server-Sent Events) and hands each change over
 * as it arrives, until the caller stops it, enough events came, or the node
 * ends the stream.
 */
import { clip } from "../util/format.ts";
import { parseSseBlock } from "../util/sse.ts";
import { ClientError, type NodeClient } from "./client.ts";

/** One change, as the stream gives it. */
export interface WatchEvent {
  /** The full path on the watching node's namespace (`/node/factory/iot/devices/plug-001`). */
  readonly topic: string;
  readonly data: unknown;
  /** When the node saw it (ISO 8601), or null when it did not say. */
  readonly time: string | null;
}

/** Options of {@link watchEvents}. */
export interface WatchOptions {
  /** Stops the watch (Ctrl-C). */
  readonly signal?: AbortSignal;
  /** Ends after this many events. Default: no limit. */
  readonly limit?: number;
  /** Silence (not even a keep-alive) after which the stream counts as lost. Default 45 s. */
  readonly idleMs?: number;
  /** Called once the node accepted the stream, with the node's name. */
  readonly onOpen?: (node: string) => void;
  readonly onEvent: (e: WatchEvent) => void;
  /** Called when the node dropped events because this client read too slowly. */
  readonly onDropped?: (count: number) => void;
}

/** How a watch ended. */
export type WatchEnd =
  | { readonly kind: "stopped" }
  | { readonly kind: "limit" }
  | { readonly kind: "ended" }
  | { readonly kind: "refused"; readonly status: number; readonly error: string };

/** Three missed keep-alives (the node sends one after 15 s of quiet). */
const DEFAULT_IDLE_MS = 45_000;

/**
 * Streams the changes under `path` (a full path, as the shell resolves it);
 * rejects with a {@link ClientError} when the node cannot be reached or the
 * stream breaks.
 */
export async function watchEvents(
  client: NodeClient,
  path: string,
  o: WatchOptions,
): Promise<WatchEnd> {
  const url = `${client.url}/api/events?path=${encodeURIComponent(path)}`;
  const abort = new AbortController();
  const onStop = () => abort.abort();
  o.signal?.addEventListener("abort", onStop, { once: true });
  if (o.signal?.aborted) return { kind: "stopped" };
  const idleMs = o.idleMs ?? DEFAULT_IDLE_MS;
  let silent = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Until the headers come, the client's usual deadline; then the idle bound.
  const arm = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      silent = true;
      abort.abort();
    }, ms);
  };
  arm(client.timeoutMs);
  const lost = (e: unknown): ClientError => {
    if (silent) {
      return new ClientError(
        "timeout",
        `the node at ${client.url} went silent (nothing for ${idleMs / 1000} s)`,
      );
    }
    return new ClientError(
      "unreachable",
      `cannot stream events from the node at ${client.url}: ${(e as Error).message}`,
    );
  };
  try {
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { accept: "text/event-stream", ...client.authHeaders() },
        signal: abort.signal,
      });
    } catch (e) {
      if (o.signal?.aborted) return { kind: "stopped" };
      throw lost(e);
    }
    if (!response.ok || response.body === null) {
      const text = await response.text().catch(() => "");
      let error = `request failed with status ${response.status}`;
      try {
        const value = JSON.parse(text) as { error?: unknown };
        if (typeof value.error === "string") error = value.error;
      } catch {
        // Not Portal JSON: the status says it.
      }
      return { kind: "refused", status: response.status, error };
    }
    arm(idleMs);
    let seen = 0;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<string>;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (o.signal?.aborted) return { kind: "stopped" };
          throw lost(e);
        }
        if (chunk.done) return { kind: "ended" };
        arm(idleMs);
        buffer += chunk.value;
        if (buffer.length > 8 * 1024 * 1024) {
          throw new ClientError("bad_response", "the event stream sent an event over 8 MiB");
        }
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = parseBlock(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (block === null) continue;
          if (block.event === "hello") {
            o.onOpen?.(String((block.data as { node?: unknown }).node ?? "the node"));
          } else if (block.event === "dropped") {
            o.onDropped?.(Number((block.data as { count?: unknown }).count ?? 0));
          } else if (block.event === "change") {
            const { topic, data, time } = block.data as Partial<WatchEvent>;
            if (typeof topic !== "string") continue;
            o.onEvent({ topic, data, time: typeof time === "string" ? time : null });
            if (o.limit !== undefined && ++seen >= o.limit) return { kind: "limit" };
          }
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener("abort", onStop);
    abort.abort();
  }
}

/** One SSE block as `{event, data}` (data parsed as JSON); null for comments and keep-alives. */
export function parseBlock(block: string): { event: string; data: unknown } | null {
  const parsed = parseSseBlock(block);
  if (parsed === null) return null;
  try {
    return { event: parsed.event, data: JSON.parse(parsed.data) };
  } catch {
    return null;
  }
}

/** `12:00:01.234  /node/factory/iot/devices/plug-001  {"on":true,…}`: local time, topic, JSON. */
export function formatWatchLine(e: WatchEvent, maxJson = 2000): string {
  const at = e.time === null ? new Date() : new Date(e.time);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}.` +
    pad(at.getMilliseconds(), 3);
  return `${time}  ${e.topic}  ${clip(JSON.stringify(e.data) ?? "null", maxJson)}`;
}

/** `GET /metrics`: the node's metrics in the Prometheus text format (behind the token). */
import { EXPOSITION_CONTENT_TYPE } from "../metrics/exposition.ts";

/** The path Prometheus scrapes. */
export const METRICS_PATH = "/metrics";

/** Answers a request for {@link METRICS_PATH} with `render()`'s text. */
export function serveMetrics(request: Request, render: () => string): Response {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response(`method ${request.method} is not supported on /metrics; use GET\n`, {
      status: 405,
      headers: { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" },
    });
  }
  const headers = { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store" };
  return new Response(request.method === "HEAD" ? null : render(), { status: 200, headers });
}

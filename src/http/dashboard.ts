/**
 * The dashboard's static files, served at `/` of the HTTP listener. They hold
 * no data (everything shown is fetched by the page with the token the user
 * types), so they load without a token. They are built from web/ into
 * dashboard_assets.ts (`deno task build-web`) and so are part of the module
 * graph: the compiled executable carries them, and nothing is downloaded.
 */
import { DASHBOARD_ASSETS, DASHBOARD_VERSION } from "./dashboard_assets.ts";

/** Headers of every dashboard file: no framing, no inline or foreign script, no sniffing. */
const DASHBOARD_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};

/** Whether `pathname` names a dashboard file (`/` is index.html). */
export function isDashboardPath(pathname: string): boolean {
  return assetName(pathname) !== null;
}

function assetName(pathname: string): string | null {
  const name = pathname === "/" ? "index.html" : pathname.slice(1);
  return Object.hasOwn(DASHBOARD_ASSETS, name) ? name : null;
}

/** Serves a dashboard file (GET and HEAD, with an ETag so a reload costs a 304); null for other paths. */
export function serveDashboard(request: Request, pathname: string): Response | null {
  const name = assetName(pathname);
  if (name === null) return null;
  const headers: Record<string, string> = {
    ...DASHBOARD_SECURITY_HEADERS,
    "cache-control": "no-cache",
    etag: `"${DASHBOARD_VERSION}"`,
  };
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response(`method ${request.method} is not supported here; use GET\n`, {
      status: 405,
      headers: { ...headers, allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" },
    });
  }
  if (request.headers.get("if-none-match") === headers.etag) {
    return new Response(null, { status: 304, headers });
  }
  headers["content-type"] = TYPES[name.slice(name.lastIndexOf(".") + 1)] ??
    "application/octet-stream";
  return new Response(request.method === "HEAD" ? null : DASHBOARD_ASSETS[name], {
    status: 200,
    headers,
  });
}

/**
 * Cross-site safety of the API, `/metrics` and the event streams. Browsers
 * say where a request comes from: `Origin` on every cross-origin request and
 * on same-origin ones that change something (POST), and `Sec-Fetch-Site` on
 * all of them. The dashboard served by the node is the only page whose
 * requests are welcome, so a request is refused when
 * - `Sec-Fetch-Site` is present and is neither `same-origin` nor `none` (a
 *   page of another site, even a "same-site" neighbour on another port), or
 * - `Origin` is present and is not `http(s)://<the request's own Host>`.
 * Programs (curl, Prometheus, the shell) send neither and are unaffected.
 * The token, sent by the dashboard's script as a header, is still required:
 * a page of another site can neither read it nor make a browser attach it.
 */

/** Request headers by lowercase name (a Headers object or the API server's map). */
export interface HeaderLookup {
  get(name: string): string | null | undefined;
}

/** Why a request looks like it comes from a page of another site; null when it does not. */
export function crossSiteRefusal(headers: HeaderLookup): string | null {
  const site = headers.get("sec-fetch-site") ?? null;
  if (site !== null && site !== "same-origin" && site !== "none") {
    return `requests from other web sites are refused (Sec-Fetch-Site: ${site}); ` +
      "use the dashboard this node serves at /";
  }
  const origin = headers.get("origin") ?? null;
  if (origin === null) return null;
  const host = headers.get("host") ?? null;
  if (host !== null && (origin === `http://${host}` || origin === `https://${host}`)) return null;
  return `requests from web pages of another origin (${
    origin.slice(0, 100)
  }) are refused by the Portal API; use the dashboard this node serves at /`;
}

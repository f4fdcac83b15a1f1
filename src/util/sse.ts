/**
 * Reading Server-Sent Events (the `/api/events` stream): shared by the shell's
 * `watch` and the dashboard, which both read the stream with fetch because
 * EventSource cannot send an Authorization header.
 */

/** One SSE block's event name and data text; null for a block without data (a comment, a keep-alive). */
export function parseSseBlock(block: string): { event: string; data: string } | null {
  let event = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length === 0 ? null : { event, data: data.join("\n") };
}

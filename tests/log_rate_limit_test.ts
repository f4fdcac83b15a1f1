import assert from "node:assert/strict";
import { rateLimiter } from "../src/log/rate_limit.ts";

Deno.test("rateLimiter() passes max lines per window and reports the rest once", () => {
  let t = 0;
  const lines: string[] = [];
  const log = rateLimiter(
    (s: string) => lines.push(s),
    (n) => lines.push(`+${n}`),
    { max: 2, windowMs: 1000, now: () => t },
  );
  for (const s of ["a", "b", "c", "d"]) log(s);
  assert.deepEqual(lines, ["a", "b"]);
  t = 999;
  log("e");
  assert.deepEqual(lines, ["a", "b"], "still the same window");
  t = 1000;
  log("f");
  assert.deepEqual(lines, ["a", "b", "+3", "f"]);
  t = 5000;
  log("g");
  assert.deepEqual(lines, ["a", "b", "+3", "f", "g"], "nothing held back: no summary");
});

/** SharedTimers: many timers on one runtime timer, firing in (due, creation) order. */
import assert from "node:assert/strict";
import { MinHeap } from "../src/util/heap.ts";
import { SharedTimers } from "../src/util/timers.ts";
import { FakeClock } from "./kit/mod.ts";

Deno.test("SharedTimers fires in due order on one base timer and disarms when empty", () => {
  const base = new FakeClock();
  const t = new SharedTimers(base);
  const fired: string[] = [];
  t.setTimeout(() => fired.push("c30"), 30);
  const b = t.setTimeout(() => fired.push("b20"), 20);
  t.setTimeout(() => fired.push("a10"), 10);
  t.setTimeout(() => fired.push("d10"), 10);
  assert.equal(base.pending, 1, "one base timer");
  assert.equal(base.nextDelay(), 10);
  t.clear(b);
  t.clear(b);
  base.advance(10);
  assert.deepEqual(fired, ["a10", "d10"]);
  t.setTimeout(() => {
    fired.push("e5");
    t.setTimeout(() => fired.push("f0"), 0);
  }, 5);
  base.advance(100);
  assert.deepEqual(fired, ["a10", "d10", "e5", "f0", "c30"]);
  assert.equal(t.size, 0);
  assert.equal(base.pending, 0);
});

Deno.test("SharedTimers keeps its heap small when most timers are cancelled", () => {
  const base = new FakeClock();
  const t = new SharedTimers(base);
  let fired = 0;
  for (let i = 0; i < 10_000; i++) {
    const h = t.setTimeout(() => fired++, 1000 + i);
    if (i % 100 !== 0) t.clear(h);
  }
  assert.equal(t.size, 100);
  base.advance(20_000);
  assert.equal(fired, 100);
  assert.equal(base.pending, 0);
});

Deno.test("MinHeap pops in order, ties as `before` says, and retain() keeps the order", () => {
  const heap = new MinHeap<{ k: number; s: number }>((a, b) =>
    a.k < b.k || (a.k === b.k && a.s < b.s)
  );
  const keys = [5, 3, 9, 3, 1, 7, 1, 8, 2, 6];
  keys.forEach((k, s) => heap.push({ k, s }));
  assert.equal(heap.size, 10);
  assert.deepEqual(heap.peek(), { k: 1, s: 4 });
  heap.retain((e) => e.k !== 9);
  const out: string[] = [];
  for (let e = heap.pop(); e !== undefined; e = heap.pop()) out.push(`${e.k}.${e.s}`);
  assert.deepEqual(out, ["1.4", "1.6", "2.8", "3.1", "3.3", "5.0", "6.9", "7.5", "8.7"]);
  assert.equal(heap.pop(), undefined);
});

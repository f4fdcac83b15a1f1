/**
 * The kit shared by tests and scripts: waits and guards, a fake clock, ports without races,
 * child processes read by line, node.ini builders, certificates and a seeded random source.
 */
export * from "./async.ts";
export * from "./certs.ts";
export * from "./child.ts";
export * from "./fake_clock.ts";
export * from "./ini.ts";
export * from "./lines.ts";
export * from "./log_line.ts";
export * from "./ports.ts";
export * from "./random.ts";

/** Transport: framed connections, the federation listeners and the dialers. */
export * from "./types.ts";
export * from "./connection.ts";
export * from "./tcp.ts";
export * from "./node_tls.ts";
export * from "./tls_dial.ts";

/** Transport: framed connections, the federation listener and the dialer. */
export * from "./connection.ts";
export * from "./net.ts";
export * from "./node_tls.ts";

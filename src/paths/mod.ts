/** The path namespace (PATHS.md): the request model and the router every way in shares. */
export * from "./types.ts";
export { PathRouter } from "./router.ts";
export { splitPath } from "./match.ts";

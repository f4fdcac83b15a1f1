/** The HTTP API ([mod_http]). */
export {
  API_PREFIX,
  DEFAULT_MAX_BODY_BYTES,
  HttpApiError,
  startHttpApi,
  toRouterPath,
} from "./server.ts";
export type { HttpApi, HttpApiErrorCode, HttpApiOptions } from "./server.ts";

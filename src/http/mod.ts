/** The HTTP API ([mod_http]). */
export {
  allowedHostNames,
  API_PREFIX,
  DEFAULT_MAX_BODY_BYTES,
  HEALTH_PATH,
  HttpApiError,
  startHttpApi,
  toRouterPath,
} from "./server.ts";
export type { HttpApi, HttpApiErrorCode, HttpApiOptions } from "./server.ts";

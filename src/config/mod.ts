/** node.ini loading: the public surface of src/config (CONFIG.md). */
export {
  loadConfig,
  type LoadConfigOptions,
  MAX_CONFIG_BYTES,
  type ParseConfigOptions,
  parseConfigText,
} from "./load.ts";
export {
  ConfigError,
  type ConfigErrorCode,
  type ConfigIssue,
  formatIssue,
  IssueCode,
} from "./errors.ts";
export { describeConfig } from "./summary.ts";
export type * from "./types.ts";

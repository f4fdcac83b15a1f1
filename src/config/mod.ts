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
  formatWarning,
  IssueCode,
} from "./errors.ts";
export { MAX_PEM_BYTES } from "./files.ts";
export { ACL_ANY_ORIGIN } from "./sections/acl.ts";
export { duration, RESERVED_NODE_NAMES } from "./values.ts";
export { closest, didYouMean } from "./suggest.ts";
export { describeConfig, type DescribeOptions } from "./summary.ts";
export type * from "./types.ts";

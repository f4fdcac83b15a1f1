/** Portal's version, shown by `--version` and /health. */
export const VERSION = "0.1.0";

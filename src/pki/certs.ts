/** The PKI's public surface under its former name; new code imports `./mod.ts`. */
export * from "./mod.ts";

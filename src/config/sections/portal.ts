/** [portal]: process-wide settings. */
import type { ResolveContext } from "../context.ts";
import { PORTAL_FIELDS } from "../fields.ts";
import type { RawSection } from "../ini.ts";
import { readSection } from "../read_section.ts";
import type { PortalConfig } from "../types.ts";

/** Resolves [portal] (absent: its defaults). */
export function resolvePortal(section: RawSection | null, ctx: ResolveContext): PortalConfig {
  const { values } = readSection(section, PORTAL_FIELDS, ctx);
  return { logLevel: values.log_level, logFormat: values.log_format };
}

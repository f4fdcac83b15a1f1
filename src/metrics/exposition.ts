/**
 * The Prometheus text exposition format, version 0.0.4: one `# HELP` and one
 * `# TYPE` line per family, then its samples, label values and help text
 * escaped as the format requires. Names are checked when a family is made, so
 * a bad name fails in tests, never at a scrape.
 */

/** Label names to values of one sample. */
export type Labels = Readonly<Record<string, string>>;

/** The kinds of family this node exposes. */
export const MetricType = {
  Counter: "counter",
  Gauge: "gauge",
  Histogram: "histogram",
} as const;
export type MetricType = typeof MetricType[keyof typeof MetricType];

/** One line of a family: `name{labels} value` (the histogram's lines carry their suffix in `name`). */
export interface Sample {
  readonly name: string;
  readonly labels: Labels;
  readonly value: number;
}

/** A metric family: its samples under one HELP and TYPE. */
export interface Family {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly samples: readonly Sample[];
}

/** The content type a scraper is told. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A metric or label name the format does not allow. */
export class MetricNameError extends Error {
  override readonly name = "MetricNameError";
  readonly code = "bad_name";
}

/** Throws unless `name` is a valid metric name that follows the naming rules for `type`. */
export function checkMetricName(name: string, type: MetricType): void {
  if (!METRIC_NAME.test(name)) throw new MetricNameError(`'${name}' is not a valid metric name`);
  const isTotal = name.endsWith("_total");
  if (type === MetricType.Counter && !isTotal) {
    throw new MetricNameError(`counter '${name}' must end in _total`);
  }
  if (type !== MetricType.Counter && isTotal) {
    throw new MetricNameError(`only counters end in _total, not the ${type} '${name}'`);
  }
}

/** Throws unless `name` is a label name a user may give (not reserved `__…`, not `le` on a histogram). */
export function checkLabelName(name: string): void {
  if (!LABEL_NAME.test(name) || name.startsWith("__")) {
    throw new MetricNameError(`'${name}' is not a valid label name`);
  }
}

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Escapes HELP text: backslash and line feed. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value as the format writes it (`+Inf`, `-Inf`, `NaN`, or a Go-style float). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  return "{" + keys.map((k) => `${k}="${escapeLabelValue(labels[k])}"`).join(",") + "}";
}

/** Renders families as one exposition; families without samples are left out. */
export function render(families: Iterable<Family>): string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (f.samples.length === 0) continue;
    // Two families with one name would make the whole scrape invalid.
    if (seen.has(f.name)) throw new MetricNameError(`metric family '${f.name}' appears twice`);
    seen.add(f.name);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) out.push(`${s.name}${labelText(s.labels)} ${formatValue(s.value)}`);
  }
  return out.length === 0 ? "" : out.join("\n") + "\n";
}

/**
 * Builds the families of one scrape: collectors call `counter`, `gauge` and
 * `add` with what they read from the node at that moment.
 */
export class Scrape {
  readonly #families: Family[] = [];

  /** A counter family (`name` ends in `_total`). */
  counter(name: string, help: string, samples: readonly LabeledValue[]): void {
    this.#simple(name, MetricType.Counter, help, samples);
  }

  /** A gauge family. */
  gauge(name: string, help: string, samples: readonly LabeledValue[]): void {
    this.#simple(name, MetricType.Gauge, help, samples);
  }

  /** A family built elsewhere (a histogram). */
  add(family: Family): void {
    this.#families.push(family);
  }

  /** The exposition text. */
  render(): string {
    return render(this.#families);
  }

  #simple(name: string, type: MetricType, help: string, samples: readonly LabeledValue[]): void {
    checkMetricName(name, type);
    for (const s of samples) for (const k of Object.keys(s.labels ?? {})) checkLabelName(k);
    this.#families.push({
      name,
      type,
      help,
      samples: samples.map((s) => ({ name, labels: s.labels ?? {}, value: s.value })),
    });
  }
}

/** A value with its labels, as collectors give them. */
export interface LabeledValue {
  readonly labels?: Labels;
  readonly value: number;
}

/** One unlabelled value. */
export function single(value: number): LabeledValue[] {
  return [{ value }];
}

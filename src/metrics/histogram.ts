/**
 * A histogram with labels: cumulative buckets, `_sum` and `_count` per label
 * set. The number of label sets is bounded; observations beyond it go to one
 * overflow set, so a caller naming endless destinations cannot grow memory.
 */
import {
  checkLabelName,
  checkMetricName,
  type Family,
  type Labels,
  MetricType,
  type Sample,
} from "./exposition.ts";

/** Request latencies in seconds: 1 ms on a LAN to the 10 s request_timeout. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** Options of {@link Histogram}. */
export interface HistogramOptions {
  readonly name: string;
  readonly help: string;
  /** The label names, in the order samples carry them. */
  readonly labelNames: readonly string[];
  /** Upper bounds, increasing; `+Inf` is added. Default {@link LATENCY_BUCKETS}. */
  readonly buckets?: readonly number[];
  /** Label sets kept at most; later ones are counted under {@link OVERFLOW_VALUE}. Default 500. */
  readonly maxSeries?: number;
}

/** The value every label takes for observations beyond `maxSeries`. */
export const OVERFLOW_VALUE = "other";

interface Series {
  readonly labels: Labels;
  readonly counts: number[];
  sum: number;
  count: number;
}

/** Observations by label set. */
export class Histogram {
  readonly name: string;
  readonly #help: string;
  readonly #labelNames: readonly string[];
  readonly #buckets: readonly number[];
  readonly #max: number;
  readonly #series = new Map<string, Series>();

  constructor(options: HistogramOptions) {
    checkMetricName(options.name, MetricType.Histogram);
    for (const l of options.labelNames) {
      checkLabelName(l);
      if (l === "le") throw new Error(`a histogram cannot have a label named 'le'`);
    }
    const buckets = options.buckets ?? LATENCY_BUCKETS;
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i] > buckets[i - 1])) throw new Error("histogram buckets must increase");
    }
    this.name = options.name;
    this.#help = options.help;
    this.#labelNames = options.labelNames;
    this.#buckets = buckets;
    this.#max = options.maxSeries ?? 500;
  }

  /** Label sets held now. */
  get series(): number {
    return this.#series.size;
  }

  /** Records one value; `labels` must name every label of the histogram. */
  observe(labels: Labels, value: number): void {
    let key = this.#labelNames.map((n) => labels[n] ?? "").join("\u0000");
    let series = this.#series.get(key);
    if (series === undefined) {
      let own: Labels = Object.fromEntries(this.#labelNames.map((n) => [n, labels[n] ?? ""]));
      if (this.#series.size >= this.#max) {
        own = Object.fromEntries(this.#labelNames.map((n) => [n, OVERFLOW_VALUE]));
        key = this.#labelNames.map(() => OVERFLOW_VALUE).join("\u0000");
      }
      series = this.#series.get(key);
      if (series === undefined) {
        series = { labels: own, counts: this.#buckets.map(() => 0), sum: 0, count: 0 };
        this.#series.set(key, series);
      }
    }
    for (let i = 0; i < this.#buckets.length; i++) {
      if (value <= this.#buckets[i]) series.counts[i]++;
    }
    series.sum += value;
    series.count++;
  }

  /** The family as it stands (counts per bucket are cumulative, as the format wants). */
  family(): Family {
    const samples: Sample[] = [];
    for (const s of this.#series.values()) {
      this.#buckets.forEach((le, i) => {
        samples.push({
          name: `${this.name}_bucket`,
          labels: { ...s.labels, le: String(le) },
          value: s.counts[i],
        });
      });
      samples.push({
        name: `${this.name}_bucket`,
        labels: { ...s.labels, le: "+Inf" },
        value: s.count,
      });
      samples.push({ name: `${this.name}_sum`, labels: s.labels, value: s.sum });
      samples.push({ name: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, type: MetricType.Histogram, help: this.#help, samples };
  }
}

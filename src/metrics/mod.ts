/**
 * Metrics in the Prometheus text format (issue "See the federation live"):
 * the exposition writer, a bounded histogram, and the collector that reads a
 * running node. Served at `/metrics` by the HTTP API.
 */
export {
  checkLabelName,
  checkMetricName,
  escapeHelp,
  escapeLabelValue,
  EXPOSITION_CONTENT_TYPE,
  type Family,
  formatValue,
  type LabeledValue,
  type Labels,
  MetricNameError,
  MetricType,
  render,
  type Sample,
  Scrape,
  single,
} from "./exposition.ts";
export { Histogram, type HistogramOptions, LATENCY_BUCKETS, OVERFLOW_VALUE } from "./histogram.ts";
export {
  type Collector,
  createNodeMetrics,
  type NodeMetrics,
  type NodeMetricsOptions,
  UNKNOWN_DESTINATION,
  type WatchedCertificate,
} from "./node.ts";

/**
 * The warning before this node's certificate expires: at start, then once a
 * day, from 30 days before its notAfter; checked again at once when a reload
 * brings a new one. The same date is on /metrics
 * (`portal_certificate_expiry_seconds`) and in `portal check-config`.
 */
import type { Logger } from "../log/logger.ts";
import { EXPIRY_WARNING_DAYS } from "../config/files.ts";
import { certificateInfo } from "../pki/info.ts";
import { DAY_MS } from "../pki/x509.ts";
import type { Clock, TimerHandle } from "../util/clock.ts";

/** Days before notAfter from which the node warns. */

/** Options of {@link watchCertificateExpiry}. */
export interface CertWatchOptions {
  readonly logger: Logger;
  /** Timers of the daily check. */
  readonly clock: Clock;
  /** Wall clock, unix ms. Default Date.now. */
  readonly now?: () => number;
  /** How often the check runs. Default one day. */
  readonly everyMs?: number;
}

/** A running watch: `check` again (a reload brought new files), or `stop`. */
export interface CertWatch {
  /** Checks `pem` (the current tls_cert, null when none) now and from now on. */
  check(pem: string | null, path: string | null): void;
  stop(): void;
}

/** Starts checking `pem` (from file `path`) now and every day. */
export function watchCertificateExpiry(
  pem: string | null,
  path: string | null,
  options: CertWatchOptions,
): CertWatch {
  const now = options.now ?? Date.now;
  const every = options.everyMs ?? DAY_MS;
  let current = { pem, path };
  let timer: TimerHandle | null = null;
  const run = () => {
    timer = options.clock.setTimeout(run, every);
    if (current.pem === null) return;
    let info;
    try {
      info = certificateInfo(current.pem, { now: new Date(now()), path: current.path ?? "" });
    } catch {
      // The node runs with this certificate, so it parsed at start; nothing to say here.
      return;
    }
    if (info.daysLeft >= EXPIRY_WARNING_DAYS) return;
    const fields = {
      file: current.path ?? undefined,
      subject: info.subject,
      expires: info.notAfter.toISOString(),
      days_left: info.daysLeft,
      action: "make a new one (portal gen-certs --force), then portal reload",
    };
    if (info.daysLeft < 0) options.logger.error("tls_cert has expired", fields);
    else options.logger.warn("tls_cert expires soon", fields);
  };
  run();
  return {
    check(pem, path) {
      current = { pem, path };
      if (timer !== null) options.clock.clear(timer);
      run();
    },
    stop() {
      if (timer !== null) options.clock.clear(timer);
      timer = null;
    },
  };
}

/** The one error type of the PKI: gen-certs and certificate inspection. */

/**
 * Why certificate work could not go ahead. `usage`: the caller's input was bad; `exists`: a file
 * is in the way; `bad_ca`: the CA files are unusable; `bad_cert`: a certificate cannot be read;
 * `io`: the file system failed.
 */
export type CertErrorCode = "usage" | "exists" | "bad_ca" | "bad_cert" | "io";

/** A failure of gen-certs or of reading a certificate, with a sentence a user can act on. */
export class CertError extends Error {
  override readonly name = "CertError";
  constructor(readonly code: CertErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

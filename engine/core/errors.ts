/**
 * Every failure ImageSys records has a stable `code` and says whether a retry can help.
 * Callers branch on codes, never on messages; the failed job stores the code.
 */

/**
 * Every code, once: whether a later attempt may cure it (`transient`) or the job fails at once
 * (`permanent`), and what it means. The README's table is checked against this (test/errors.test.ts).
 */
export const ERROR_CODES = Object.freeze({
  invalid_url: { retry: false, meaning: 'a batch line that is not a usable http(s) URL (too long, credentials, odd datasource id)' },
  bad_job: { retry: false, meaning: 'a job file that is not valid JSON with a url, or not a job at all' },
  http_not_found: { retry: false, meaning: '404 or 410' },
  http_client_error: { retry: false, meaning: 'other 4xx, or an unexpected status' },
  http_server_error: { retry: true, meaning: '5xx or 408' },
  http_rate_limited: { retry: true, meaning: '429' },
  connect_failed: { retry: true, meaning: 'refused, reset, DNS failure' },
  connect_timeout: { retry: true, meaning: 'no connection in time' },
  tls_error: { retry: false, meaning: 'the TLS handshake failed (certificate, protocol)' },
  headers_timeout: { retry: true, meaning: 'the server was too slow to answer' },
  body_timeout: { retry: true, meaning: 'the server paused too long while sending' },
  total_timeout: { retry: true, meaning: 'the whole download took longer than download.totalTimeoutMs' },
  body_incomplete: { retry: true, meaning: 'the connection closed before the declared length arrived' },
  too_big: { retry: false, meaning: 'over download.maxBytes' },
  too_many_redirects: { retry: false, meaning: 'redirect loop or chain too long' },
  bad_redirect: { retry: false, meaning: 'no or invalid Location, non-http target' },
  blocked_address: { retry: false, meaning: 'the URL, or a redirect, leads to an address the SSRF guard refuses' },
  empty_body: { retry: false, meaning: 'nothing' },
  not_image: { retry: false, meaning: 'HTML, text, random bytes (sniffed by magic bytes)' },
  unsupported_format: { retry: false, meaning: 'an image format listing photos do not use' },
  pixel_limit: { retry: false, meaning: 'more than thumbnails.maxPixels pixels' },
  decode_failed: { retry: false, meaning: 'a truncated or corrupt image' },
  original_missing: { retry: false, meaning: 'the original set down in downloaded/ was gone (downloaded again) or is not a regular file (fails)' },
  stuck: { retry: true, meaning: 'no result after health.stuckMs: aborted by the watchdog' },
  internal: { retry: true, meaning: 'anything unexpected (logged with its stack)' },
} satisfies Record<string, { retry: boolean; meaning: string }>);

export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes a later attempt may cure; everything else fails the job at once. */
export const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set((Object.keys(ERROR_CODES) as ErrorCode[]).filter((code) => ERROR_CODES[code].retry));

export class ImageSysError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  /** Server-requested delay before the next attempt (Retry-After), if any. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ImageSysError';
    this.code = code;
    this.retryable = RETRYABLE_CODES.has(code);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Wraps anything thrown into an ImageSysError, keeping codes that are already ours. */
export function asImageSysError(error: unknown): ImageSysError {
  if (error instanceof ImageSysError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && isErrorCode(code)) {
    return new ImageSysError(code, (error as Error).message, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ImageSysError('internal', message, { cause: error });
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CODES, value);
}

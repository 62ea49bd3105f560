/**
 * Every failure ImageSys records has a stable `code` and says whether a retry can help.
 * Callers branch on codes, never on messages; the failed job stores the code.
 */

export type ErrorCode =
  | 'invalid_url'
  | 'bad_job'
  | 'http_not_found'
  | 'http_client_error'
  | 'http_server_error'
  | 'http_rate_limited'
  | 'connect_failed'
  | 'connect_timeout'
  | 'tls_error'
  | 'headers_timeout'
  | 'body_timeout'
  | 'total_timeout'
  | 'body_incomplete'
  | 'too_big'
  | 'too_many_redirects'
  | 'bad_redirect'
  | 'blocked_address'
  | 'empty_body'
  | 'not_image'
  | 'unsupported_format'
  | 'pixel_limit'
  | 'decode_failed'
  | 'original_missing'
  | 'stuck'
  | 'internal';

/** Codes a later attempt may cure; everything else fails the job at once. */
export const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'http_server_error',
  'http_rate_limited',
  'connect_failed',
  'connect_timeout',
  'headers_timeout',
  'body_timeout',
  'total_timeout',
  'body_incomplete',
  'stuck',
  'internal',
]);

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

const ALL_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'invalid_url', 'bad_job', 'http_not_found', 'http_client_error', 'http_server_error',
  'http_rate_limited', 'connect_failed', 'connect_timeout', 'tls_error', 'headers_timeout', 'body_timeout',
  'total_timeout', 'body_incomplete', 'too_big', 'too_many_redirects', 'bad_redirect', 'blocked_address', 'empty_body',
  'not_image', 'unsupported_format', 'pixel_limit', 'decode_failed', 'original_missing', 'stuck', 'internal',
]);

export function isErrorCode(value: string): value is ErrorCode {
  return ALL_CODES.has(value);
}

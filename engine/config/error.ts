/** The one error a config can fail with: every message has the shape `config: expected X for KEY but received Y`. */

/** Stable code of every ConfigError, for callers that branch on codes (exit codes are mapped from them). */
export const CONFIG_ERROR_CODE = 'ERR_IMAGESYS_CONFIG';

export class ConfigError extends Error {
  readonly code = CONFIG_ERROR_CODE;
  /** The key at fault, as a path: `download.perHost`, `thumbnails.sizes[0].width`. */
  readonly key: string;
  constructor(key: string, expected: string, received: unknown) {
    super(`config: expected ${expected} for ${key} but received ${describe(received)}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}

/** A received value as the message shows it: `nothing` for a missing key, JSON cut at 80 characters. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

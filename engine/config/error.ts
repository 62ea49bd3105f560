/** The one error a config can fail with: every message has the shape `config: expected X for KEY but received Y`. */
import { ProgramError } from '../core/program-errors.js';

/** A program error with code ERR_IMAGESYS_CONFIG (the command line exits 2). */
export class ConfigError extends ProgramError {
  /** The key at fault, as a path: `download.perHost`, `thumbnails.sizes[0].width`. */
  readonly key: string;
  constructor(key: string, expected: string, received: unknown) {
    super('ERR_IMAGESYS_CONFIG', `config: expected ${expected} for ${key} but received ${describe(received)}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}

/** A received value as the message shows it: `nothing` for a missing key, JSON cut at 80 characters. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  // JSON has no text for a function, a symbol or a bigint: say what it is
  return text === undefined ? typeof value : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

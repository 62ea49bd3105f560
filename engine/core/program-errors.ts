/**
 * Errors of the program itself, as opposed to a job's (engine/core/errors.ts): a config that cannot be
 * used, a command line that cannot be run, a lock held by another sweep. Each has a stable code, and
 * the command line's exit status comes from the code (`exitCodeOf`), never from a class chain. The
 * README's table of exit codes is checked against this one (test/errors.test.ts).
 */
import { isErrorCode } from './errors.js';

export const PROGRAM_ERRORS = Object.freeze({
  ERR_IMAGESYS_CONFIG: { exit: 2, meaning: 'the config file cannot be read, or a key is wrong (the message names it)' },
  ERR_IMAGESYS_USAGE: { exit: 2, meaning: 'a command line that cannot be run as given (a country not configured, a missing option)' },
  ERR_IMAGESYS_BAD_INPUT: { exit: 2, meaning: 'an argument a job would refuse (a URL that is not usable)' },
  ERR_IMAGESYS_SWEEP_LOCKED: { exit: 3, meaning: 'another sweep holds the lock' },
  ERR_IMAGESYS_CLOCK: { exit: 5, meaning: "the engine did not start: this host's clock is further than `claims.clockRefuseMs` from the spool's file system's (the message says by how much; fix NTP)" },
  ERR_IMAGESYS_INTERNAL: { exit: 1, meaning: 'anything unexpected (printed with its stack)' },
} satisfies Record<string, { exit: number; meaning: string }>);

export type ProgramErrorCode = keyof typeof PROGRAM_ERRORS;

export class ProgramError extends Error {
  readonly code: ProgramErrorCode;

  constructor(code: ProgramErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ProgramError';
    this.code = code;
  }
}

/** The program error a thrown value stands for: its own code, a job's code as bad input, else internal. Pure. */
export function programCodeOf(error: unknown): ProgramErrorCode {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 'ERR_IMAGESYS_INTERNAL';
  if (Object.hasOwn(PROGRAM_ERRORS, code)) return code as ProgramErrorCode;
  if (isErrorCode(code)) return 'ERR_IMAGESYS_BAD_INPUT';
  return 'ERR_IMAGESYS_INTERNAL';
}

/** The exit status for an error that ended a command. Pure. */
export function exitCodeOf(error: unknown): number {
  return PROGRAM_ERRORS[programCodeOf(error)].exit;
}

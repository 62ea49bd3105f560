import type { Config } from '../../engine/config/config.js';
import { killRunningRsync } from '../../engine/sweep/rsync.js';
import { programCodeOf } from '../../engine/core/program-errors.js';
import { describe, sweepExitCode, sweep, SWEEP_EXIT, warnings } from '../../engine/sweep/sweep.js';
import { UsageError } from '../cli-config.js';

export interface SweepArgs {
  sync: boolean;
  purge: boolean;
  fsCheck: boolean;
  repair: boolean;
  all: boolean;
  countries: string[];
  verbose: boolean;
}

/** `imagesys sweep`: cron's command. Silent on success unless --verbose; the exit code says how it went. It sends no mail alerts (engine/log/mailer.ts is the daemon's): cron mails what it prints. */
export async function sweepCommand(config: Config, args: SweepArgs): Promise<number> {
  const sync = args.sync || args.all;
  const purge = args.purge || args.all;
  if (!sync && !purge && !args.fsCheck) throw new UsageError('sweep: say what to do: --sync, --purge, --fs-check or --all');
  if (args.repair && !args.fsCheck) throw new UsageError('sweep: --repair goes with --fs-check');
  if (config.sweep.targets.length === 0 && (sync || args.fsCheck)) throw new UsageError('sweep: no targets configured (sweep.targets in the config)');
  const say = args.verbose ? (line: string) => void process.stderr.write(`${line}\n`) : undefined;
  // no transfer may outlive the sweep: its rsyncs run in their own process groups
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killRunningRsync();
      process.exit(128 + (signal === 'SIGHUP' ? 1 : signal === 'SIGINT' ? 2 : 15));
    });
  }
  try {
    const result = await sweep(config, { sync, purge, fsCheck: args.fsCheck, repair: args.repair, countries: args.countries, ...(say ? { say } : {}) });
    const code = sweepExitCode(result);
    for (const line of warnings(result)) console.error(line);
    for (const line of describe(result, args.verbose)) (code === 0 ? console.log : console.error)(line);
    return code;
  } catch (error) {
    if (programCodeOf(error) === 'ERR_IMAGESYS_SWEEP_LOCKED') {
      console.error(`sweep: ${(error as Error).message}; exiting`);
      return SWEEP_EXIT.locked;
    }
    throw error;
  }
}

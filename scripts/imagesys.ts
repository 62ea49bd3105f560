#!/usr/bin/env node
/** `imagesys`: one program for the daemon, the spool and the tree. */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { exitCodeOf, programCodeOf } from '../engine/core/program-errors.js';
import { loadConfig, selectedCountries, UsageError, workCountries, type CommonArgs } from './cli-config.js';
import { demoCommand } from './commands/demo.js';
import { enqueueCommand } from './commands/enqueue.js';
import { hashCommand, pathCommand, reportCommand, showCommand, statusCommand } from './commands/inspect.js';
import { retryCommand } from './commands/retry.js';
import { runCommand } from './commands/run.js';
import { sweepCommand } from './commands/sweep.js';
import { classifyCommand } from './commands/classify.js';
import { HAND_CLASSES } from '../engine/core/image-class.js';

/** A string option as yargs hands it over: an array when it is given twice. */
type StringOption = string | string[];
type Args = CommonArgs & { file?: StringOption; datasource?: StringOption; code?: StringOption } & Record<string, unknown>;

const common = (y: Argv): Argv =>
  y
    .option('config', { type: 'string', describe: 'JSON config file (every key has a default)' })
    .option('country', { type: 'string', describe: 'country code(s) to work on, e.g. --country uk,de', coerce: (value: string | string[]) => [value].flat() })
    .option('verbose', { type: 'boolean', default: false, describe: 'more detail (debug logs)' })
    .option('spool', { type: 'string', describe: 'spool root (overrides the config)' })
    .option('tree', { type: 'string', describe: 'tree root (overrides the config)' });

let exitCode = 0;
const run = (task: (args: Args) => Promise<number> | number) => async (args: Args) => {
  exitCode = await task(args);
};

const cli = yargs(hideBin(process.argv))
  .scriptName('imagesys')
  .usage('$0 <command> [options]')
  .command('run', 'run the daemon (or drain the spool with --once)', (y) =>
    common(y)
      .option('once', { type: 'boolean', default: false, describe: 'process what is queued (retries included), then exit' })
      .option('daemon', { type: 'boolean', default: false, describe: 'log to <log.dir>/engine.log and engine.error.log instead of the screen' })
      .option('threads', { type: 'number', describe: 'sharp worker threads (overrides pool.threads)' })
      .option('downloads', { type: 'number', describe: 'concurrent downloads (overrides download.concurrency)' })
      .option('noproxy', { type: 'boolean', default: false, describe: 'download directly, bypassing any proxy (config or environment)' }),
  run((a) => {
    const config = loadConfig(a);
    return runCommand(config, { once: Boolean(a.once), daemon: Boolean(a.daemon), countries: workCountries(a, config), verbose: Boolean(a.verbose) });
  }))
  .command('enqueue [urls..]', 'queue image URLs for a country', (y) =>
    common(y)
      .positional('urls', { type: 'string', array: true, describe: 'URLs (or use --file)' })
      .option('file', { type: 'string', describe: 'file with one URL per line (optionally TAB datasource); - for stdin' })
      .option('datasource', { type: 'string', describe: 'datasource id for every URL' })
      .option('refresh', { type: 'boolean', default: false, describe: 'download again even if the tree has it (conditional GET)' }),
  run((a) => {
    const config = loadConfig(a);
    const countries = workCountries(a, config);
    if (!a.country || countries.length !== 1) throw new UsageError('enqueue needs exactly one --country');
    return enqueueCommand(config, { urls: (a.urls as string[] | undefined) ?? [], country: countries[0]!, refresh: Boolean(a.refresh), ...(a.file !== undefined ? { file: String(a.file) } : {}), ...(a.datasource ? { datasource: String(a.datasource) } : {}) });
  }))
  .command('status', 'jobs per state and country, oldest job, top failure reasons, disk', (y) =>
    common(y).option('json', { type: 'boolean', default: false, describe: 'machine-readable output' }),
  run((a) => {
    const config = loadConfig(a);
    return statusCommand(config, selectedCountries(a, config), Boolean(a.json));
  }))
  .command('report', 'per process and host: images per hour and failures over the last 24 hours', (y) =>
    common(y)
      .option('hours', { type: 'number', default: 24, describe: 'how many hours back' })
      .option('json', { type: 'boolean', default: false, describe: 'machine-readable output' }),
  run((a) => {
    const config = loadConfig(a);
    const hours = Number(a.hours);
    if (!Number.isFinite(hours) || hours <= 0 || hours > 48) throw new UsageError(`report: --hours must be a number of hours from 1 to 48 (history is kept 2 days), not ${String(a.hours)}`);
    return reportCommand(config, hours, Boolean(a.json));
  }))
  .command('retry [targets..]', 'move failed jobs back to incoming/ (all, or the hashes/URLs given)', (y) =>
    common(y)
      .positional('targets', { type: 'string', array: true, describe: 'hashes or URLs' })
      .option('code', { type: 'string', describe: 'only jobs that failed with this error code' }),
  run((a) => {
    const config = loadConfig(a);
    return retryCommand(config, { countries: workCountries(a, config), targets: (a.targets as string[] | undefined) ?? [], ...(a.code ? { code: String(a.code) } : {}) });
  }))
  .command('hash <urls..>', 'print the hash of each URL', (y) => common(y).positional('urls', { type: 'string', array: true, demandOption: true }),
  run((a) => hashCommand(a.urls as string[])))
  .command('path <hashes..>', 'print <h0h1>/<h2h3>/<hash> (the full tree path with --country)', (y) => common(y).positional('hashes', { type: 'string', array: true, demandOption: true }),
  run((a) => {
    const config = loadConfig(a);
    return pathCommand(config, a.hashes as string[], a.country ? selectedCountries(a, config)[0] : undefined);
  }))
  .command('show <target>', 'show the job and thumbnails of a URL or hash', (y) => common(y).positional('target', { type: 'string', demandOption: true }),
  run((a) => {
    const config = loadConfig(a);
    return showCommand(config, selectedCountries(a, config), String(a.target));
  }))
  .command('classify <target> <class>', 'set the class of an image (URL or hash) by hand: placeholder or photo; it wins over the engine\'s', (y) =>
    common(y).positional('target', { type: 'string', demandOption: true }).positional('class', { type: 'string', choices: HAND_CLASSES, demandOption: true }),
  run((a) => {
    const config = loadConfig(a);
    return classifyCommand(config, selectedCountries(a, config), String(a.target), String(a.class));
  }))
  .command('sweep', 'cron: sync the tree to the frontends, purge, check (exit 1: a target is behind, 3: another sweep runs, 4: differences)', (y) =>
    common(y)
      .option('sync', { type: 'boolean', default: false, describe: 'send what is new (and pending deletions) to every target' })
      .option('purge', { type: 'boolean', default: false, describe: 'remove images not refreshed for sweep.purgeAfterDays, here and on every target' })
      .option('all', { type: 'boolean', default: false, describe: '--purge and --sync' })
      .option('fs-check', { type: 'boolean', default: false, describe: 'compare manifests, files and every target (walks the whole tree)' })
      .option('repair', { type: 'boolean', default: false, describe: 'with --fs-check: make them agree' }),
  run((a) => {
    const config = loadConfig(a);
    return sweepCommand(config, { sync: Boolean(a.sync), purge: Boolean(a.purge), all: Boolean(a.all), fsCheck: Boolean(a['fs-check']), repair: Boolean(a.repair), countries: selectedCountries(a, config), verbose: Boolean(a.verbose) });
  }))
  .command('demo', 'make sample images, serve them locally, process them, show the result', (y) =>
    common(y).option('dir', { type: 'string', default: 'var/demo', describe: 'where the demo spool and tree go (emptied first)' }),
  run((a) => demoCommand(String(a.dir))))
  .demandCommand(1, 'name a command: imagesys <command> --help')
  .strict()
  .help()
  .alias('help', 'h')
  .version(false)
  .fail((message, error, y) => {
    if (error) throw error;
    // yargs hands fail() its usage object, whose help() returns the text (@types/yargs calls it an Argv)
    const help = y.help() as unknown as string;
    console.error(`${help}\n\n${message}`);
    process.exit(2);
  });

try {
  await cli.parseAsync();
  process.exitCode = exitCode;
} catch (error) {
  // a program error says what went wrong in its message; anything else is shown with its stack
  if (programCodeOf(error) === 'ERR_IMAGESYS_INTERNAL') console.error(error);
  else console.error(`imagesys: ${(error as Error).message}`);
  process.exitCode = exitCodeOf(error);
}

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { defaultCountries, parseConfig, isCountry, type Config } from '../engine/config/config.js';
import { targetKind } from '../engine/config/targets.js';
import { ProgramError } from '../engine/core/program-errors.js';

export interface CommonArgs {
  config?: string;
  country?: string[];
  verbose?: boolean;
  spool?: string;
  tree?: string;
  threads?: number;
  downloads?: number;
  noproxy?: boolean;
}

/** A command line that cannot be run as given. */
export class UsageError extends ProgramError {
  constructor(message: string) {
    super('ERR_IMAGESYS_USAGE', message);
  }
}

/**
 * Loads the config file (if any), applies CLI overrides, validates once. Relative paths in a config
 * file are relative to that file; without a file, to the working directory.
 */
export function loadConfig(args: CommonArgs): Config {
  let raw: Record<string, unknown> = {};
  let base = process.cwd();
  if (args.config) {
    const path = resolve(args.config);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read config file ${path}: ${(error as Error).message}`);
    }
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new UsageError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
    }
    base = dirname(path);
  }
  if (args.spool) raw = { ...raw, spool: resolve(args.spool) };
  if (args.tree) raw = { ...raw, tree: resolve(args.tree) };
  if (args.threads !== undefined) raw = { ...raw, pool: { ...(raw.pool as object | undefined), threads: args.threads } };
  if (args.downloads !== undefined) raw = { ...raw, download: { ...(raw.download as object | undefined), concurrency: args.downloads } };
  if (args.noproxy) raw = { ...raw, download: { ...(raw.download as object | undefined), proxy: 'none' } };
  if (args.verbose) raw = { ...raw, log: { ...(raw.log as object | undefined), level: 'debug' } };
  const config = parseConfig(raw);
  const targets = config.sweep.targets.map((t) => (targetKind(t.dest) === 'local' ? { ...t, dest: resolve(base, t.dest) } : t));
  return {
    ...config,
    spool: resolve(base, config.spool),
    tree: resolve(base, config.tree),
    sweep: { ...config.sweep, targets },
    log: { ...config.log, dir: resolve(base, config.log.dir) },
  };
}

/**
 * The countries a command looks at: --country (repeatable or comma-separated), else the config's.
 * Any country code will do, so that `status`, `show` and `sweep` still reach a country dropped from
 * the config; commands that make work use workCountries.
 */
export function selectedCountries(args: CommonArgs, config: Config): string[] {
  const chosen = (args.country ?? []).flatMap((c) => c.split(',')).map((c) => c.trim()).filter(Boolean);
  for (const c of chosen) if (!isCountry(c)) throw new UsageError(`--country expects codes of 2-3 lowercase letters, got ${JSON.stringify(c)}`);
  return chosen.length > 0 ? [...new Set(chosen)] : defaultCountries(config);
}

/**
 * The countries a command makes work for (run, enqueue, retry): as selectedCountries, but a country
 * the config does not list is refused, since no engine would take its jobs.
 */
export function workCountries(args: CommonArgs, config: Config): string[] {
  const countries = selectedCountries(args, config);
  for (const c of countries) {
    if (!defaultCountries(config).includes(c)) {
      throw new UsageError(`--country ${c} is not configured (countries: ${config.countries.join(', ')}); add it to "countries" in the config first`);
    }
  }
  return countries;
}

/** What the canary settings mean for the rest of the config. Pure. */
import type { Config } from './schema.js';

/** Whether canaries are sent at all (`canary.intervalMinutes` > 0). */
export function canaryEnabled(config: Pick<Config, 'canary'>): boolean {
  return config.canary.intervalMinutes > 0;
}

/**
 * The countries a command works on when none is chosen: the configured ones, and the canary's while
 * canaries are sent, so that the daemon, the sweeper and `status` take it on without being told.
 */
export function defaultCountries(config: Pick<Config, 'countries' | 'canary'>): string[] {
  return canaryEnabled(config) ? [...config.countries, config.canary.country] : [...config.countries];
}

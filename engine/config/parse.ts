/** parseConfig: a raw config (parsed JSON) checked once, at the edge, key by key and then across keys. Pure. */
import { ConfigError } from './error.js';
import { SCHEMA, type Config } from './schema.js';
import { parseSection } from './section.js';

/** A canary's deadline, in intervals, at most: its record is among the newest kept (engine/canary/store.ts RECORDS_KEPT, 48). */
const CANARY_DEADLINE_INTERVALS = 40;

/** A rule between keys, checked once every key passed its own check. */
type CrossKeyRule = (config: Config) => void;

/** `value` at `key` may not be under `floor` at `floorKey`. */
function atLeast(key: string, value: number, floorKey: string, floor: number): void {
  if (value < floor) throw new ConfigError(key, `a number at least ${floorKey} (${floor})`, value);
}

const CROSS_KEY_RULES: readonly CrossKeyRule[] = [
  ({ retry }) => atLeast('retry.maxMs', retry.maxMs, 'retry.baseMs', retry.baseMs),
  ({ health }) => atLeast('health.maxCoolOffMs', health.maxCoolOffMs, 'health.coolOffMs', health.coolOffMs),
  ({ claims }) => atLeast('claims.clockRefuseMs', claims.clockRefuseMs, 'claims.clockWarnMs', claims.clockWarnMs),
  // an override for a country no engine watches would never be used: most likely a typo
  ({ countries, thumbnails }) => {
    for (const code of Object.keys(thumbnails.countries)) {
      if (!countries.includes(code)) throw new ConfigError(`thumbnails.countries.${code}`, `a country listed in countries (${countries.join(', ')})`, code);
    }
  },
  // canaries must never mix with listings: their country is theirs alone
  ({ countries, canary }) => {
    if (countries.includes(canary.country)) throw new ConfigError('canary.country', `a country not listed in countries (${countries.join(', ')})`, canary.country);
  },
  // a canary is checked while its record is kept: the newest RECORDS_KEPT, one per interval
  ({ canary }) => {
    const most = canary.intervalMinutes * CANARY_DEADLINE_INTERVALS;
    if (canary.intervalMinutes > 0 && canary.deadlineMinutes > most) throw new ConfigError('canary.deadlineMinutes', `a number at most ${CANARY_DEADLINE_INTERVALS} x canary.intervalMinutes (${most})`, canary.deadlineMinutes);
  },
];

/**
 * Validates a raw config (parsed JSON) once, at the edge, and fills in every default.
 * Throws ConfigError naming the key and what was expected; unknown keys are refused by name.
 */
export function parseConfig(raw: unknown): Config {
  const config = parseSection(SCHEMA, raw ?? {}, '');
  for (const rule of CROSS_KEY_RULES) rule(config);
  return config;
}

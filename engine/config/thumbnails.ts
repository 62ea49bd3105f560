/** The checks of what thumbnails are made: sizes, formats, and the per-country / per-datasource overrides. Pure. */
import { AUTO_DEFAULTS, type QualitySetting } from '../../workers/quality.js';
import type { OutputFormat, ProcessDetails, SizeSpec } from '../../workers/thumbnail-task.js';
import { ConfigError } from './error.js';
import { countryCode, fieldsOf, integer, isObject, matching, namedList, number, oneOf, shown, type Check } from './validators.js';

/** A country's own thumbnails; `datasources.<id>.process` overrides the country's process details. */
export interface CountryThumbnails {
  sizes?: SizeSpec[];
  formats?: OutputFormat[];
  process?: Partial<ProcessDetails>;
  datasources?: Record<string, { process?: Partial<ProcessDetails> }>;
}

const sizeSide = integer(1, 8192);

/** A non-empty list of `{ name, width, height }`, every field required, no name twice. */
export const sizeList: Check<SizeSpec[]> = shown(
  namedList<SizeSpec>({
    expected: 'a non-empty array of sizes',
    nonEmpty: true,
    fields: ['name', 'width', 'height'],
    name: matching(/^[a-z0-9_-]{1,32}$/, 'a name of 1-32 characters a-z, 0-9, _ or -'),
    noun: 'size',
    entry: (fields, at, name) => ({ name, width: sizeSide(fields.width, `${at}.width`), height: sizeSide(fields.height, `${at}.height`) }),
  }),
  (sizes) => sizes.map((s) => `\`${s.name}\` ${s.width}x${s.height}`).join(', '),
);

const FORMATS: readonly OutputFormat[] = ['webp', 'jpeg', 'avif', 'png'];
const format = oneOf(FORMATS);

/** A non-empty list of output formats, none twice. */
export const formatList: Check<OutputFormat[]> = (raw, key) => {
  if (!Array.isArray(raw) || raw.length === 0) throw new ConfigError(key, `a non-empty array of ${FORMATS.join(', ')}`, raw);
  const list = raw.map((item, index) => format(item, `${key}[${index}]`));
  if (new Set(list).size !== list.length) throw new ConfigError(key, 'formats without repeats', raw);
  return list;
};

const fixedQuality = integer(1, 100);
const AUTO_KEYS = Object.keys(AUTO_DEFAULTS) as Array<keyof typeof AUTO_DEFAULTS>;
const AUTO_CHECKS = { floor: number(0, 0.999), min: fixedQuality, max: fixedQuality, tries: integer(1, 6) };

/**
 * `quality`: a number (that quality for every image), `"auto"`, or `{ floor, min, max, tries }` (auto
 * with those settings, each defaulting to `"auto"`'s): see workers/quality.ts.
 */
export const qualitySetting: Check<QualitySetting> = shown(
  (raw, key) => {
    if (typeof raw === 'number') return fixedQuality(raw, key);
    if (raw === 'auto') return { ...AUTO_DEFAULTS };
    if (!isObject(raw)) throw new ConfigError(key, 'an integer from 1 to 100, "auto" or an object { floor, min, max, tries }', raw);
    const given = fieldsOf(raw, key, AUTO_KEYS);
    const auto = { ...AUTO_DEFAULTS };
    for (const name of AUTO_KEYS) if (given[name] !== undefined) auto[name] = AUTO_CHECKS[name](given[name], `${key}.${name}`);
    if (auto.min > auto.max) throw new ConfigError(`${key}.min`, `at most ${key}.max (${auto.max})`, auto.min);
    return auto;
  },
  (quality) => JSON.stringify(quality),
);

/** An object whose keys are not known in advance (country codes, datasource ids): each value is checked as an object. */
function table(raw: unknown, key: string): Record<string, unknown> {
  return fieldsOf(raw, key, Object.keys(isObject(raw) ? raw : {}));
}

/**
 * `thumbnails.countries`: per listed country, its own sizes, formats and process details, and per
 * datasource its own process details. `processOverride` checks a partial `thumbnails.process`.
 */
export function countryOverrides(processOverride: (raw: unknown, key: string) => Partial<ProcessDetails>): Check<Record<string, CountryThumbnails>> {
  return (raw, key) => {
    const out: Record<string, CountryThumbnails> = {};
    for (const [code, value] of Object.entries(table(raw, key))) {
      const at = `${key}.${code}`;
      countryCode(code, at);
      const s = fieldsOf(value, at, ['sizes', 'formats', 'process', 'datasources']);
      const entry: CountryThumbnails = {};
      if (s.sizes !== undefined) entry.sizes = sizeList(s.sizes, `${at}.sizes`);
      if (s.formats !== undefined) entry.formats = formatList(s.formats, `${at}.formats`);
      if (s.process !== undefined) entry.process = processOverride(s.process, `${at}.process`);
      if (s.datasources !== undefined) {
        entry.datasources = {};
        for (const [id, detail] of Object.entries(table(s.datasources, `${at}.datasources`))) {
          const d = fieldsOf(detail, `${at}.datasources.${id}`, ['process']);
          entry.datasources[id] = { process: processOverride(d.process, `${at}.datasources.${id}.process`) };
        }
      }
      out[code] = entry;
    }
    return out;
  };
}

/**
 * Reusable typed checks for config values. Each one takes a present value and the key's path, returns
 * the value typed (sometimes normalised: a URL without trailing slashes, host names in lower case) or
 * throws the one ConfigError shape. Pure.
 */
import { isIP } from 'node:net';
import { isAllowEntry } from '../core/address-guard.js';
import { ConfigError } from './error.js';

export interface Check<T> {
  /**
   * Checks the value found at `key`. A key left out takes its default before any check runs; a
   * required field of a list entry is checked as `undefined`, so its error says `received nothing`.
   */
  (raw: unknown, key: string): T;
  /** How the README's table shows a default of this kind (`30 s`, `32 MiB`), when not as plain JSON. */
  show?(value: T): string;
}

/** `check` with a way to show its defaults. */
export function shown<T>(check: (raw: unknown, key: string) => T, show: (value: T) => string): Check<T> {
  return Object.assign((raw: unknown, key: string) => check(raw, key), { show });
}

/** `base`, then `ok` on its result: a value it refuses is reported as `expected`. */
export function refine<T>(base: Check<T>, ok: (value: T) => boolean, expected: string): Check<T> {
  return (raw, key) => {
    const value = base(raw, key);
    if (!ok(value)) throw new ConfigError(key, expected, raw);
    return value;
  };
}

export type Raw = Record<string, unknown>;

export function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An object whose keys are all `allowed` (undefined reads as {}): unknown keys are refused so that typos do not pass silently. */
export function fieldsOf(raw: unknown, key: string, allowed: readonly string[]): Raw {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw new ConfigError(key, 'an object', raw);
  for (const name of Object.keys(raw)) {
    if (!allowed.includes(name)) {
      throw new ConfigError(`${key ? `${key}.` : ''}${name}`, `one of the keys ${allowed.join(', ')}`, name);
    }
  }
  return raw;
}

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): Check<number> {
  return (raw, key) => {
    if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min || raw > max) {
      throw new ConfigError(key, `an integer from ${min} to ${max}`, raw);
    }
    return raw;
  };
}

export function number(min: number, max: number): Check<number> {
  return (raw, key) => {
    if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < min || raw > max) {
      throw new ConfigError(key, `a number from ${min} to ${max}`, raw);
    }
    return raw;
  };
}

const UNITS: ReadonlyArray<[number, string]> = [[3_600_000, 'h'], [60_000, 'min'], [1_000, 's']];

/** A duration in milliseconds (an integer, at least `min`), shown in the largest unit that divides it. */
export function durationMs(min: number): Check<number> {
  return shown(integer(min), (ms) => {
    const [size, unit] = UNITS.find(([size]) => ms > 0 && ms % size === 0) ?? [1, 'ms'];
    return `${ms / size} ${unit}`;
  });
}

/** A size in bytes (an integer, at least `min`), shown in MiB when it is whole MiB. */
export function bytes(min: number): Check<number> {
  return shown(integer(min), (n) => (n > 0 && n % 1_048_576 === 0 ? `${n / 1_048_576} MiB` : `${n}`));
}

export const nonEmptyString: Check<string> = (raw, key) => {
  if (typeof raw !== 'string' || raw.length === 0) throw new ConfigError(key, 'a non-empty string', raw);
  return raw;
};

/** A string sent as an HTTP header: printable, no CR or LF (undici would refuse every request). */
export const headerValue = refine(nonEmptyString, (value) => /^[\x20-\x7e]+$/.test(value), 'printable ASCII without line breaks (it is sent as an HTTP header)');

/** An absolute URL, kept without trailing slashes (paths are appended to it). */
export const absoluteUrl: Check<string> = (raw, key) => {
  const value = nonEmptyString(raw, key);
  try {
    new URL(value);
  } catch {
    throw new ConfigError(key, 'an absolute URL', raw);
  }
  return value.replace(/\/+$/, '');
};

/** `self`, or the `http://host:port` origin of an ImageSys daemon (no path: canaries have their own). */
export const canarySource: Check<string> = (raw, key) => {
  const value = nonEmptyString(raw, key);
  if (value === 'self') return value;
  const origin = URL.canParse(value) ? new URL(value) : undefined;
  const address = origin?.hostname.replace(/^\[|\]$/g, '') ?? '';
  if (origin?.protocol !== 'http:' || origin.pathname !== '/' || origin.search || origin.username || !isIP(address)) throw new ConfigError(key, '"self" or the http://address:port of an ImageSys daemon', raw);
  return origin.origin;
};

export const boolean: Check<boolean> = (raw, key) => {
  if (typeof raw !== 'boolean') throw new ConfigError(key, 'true or false', raw);
  return raw;
};

export function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return (raw, key) => {
    if (typeof raw !== 'string' || !values.includes(raw as T)) throw new ConfigError(key, `one of ${values.join(', ')}`, raw);
    return raw as T;
  };
}

/** An array of non-empty strings, each then checked by `entry` (at `key[i]`) when given. */
export function stringList(entry?: Check<string>): Check<string[]> {
  return (raw, key) => {
    if (!Array.isArray(raw) || raw.some((item) => typeof item !== 'string' || item.length === 0)) throw new ConfigError(key, 'an array of non-empty strings', raw);
    const list = raw as string[];
    return entry ? list.map((item, i) => entry(item, `${key}[${i}]`)) : [...list];
  };
}

/** An SSRF-guard exception: a host name or an address or range (`10.0.0.0/8`). */
export const allowEntry = refine(nonEmptyString, isAllowEntry, 'a host name, an IP address or a range like 10.0.0.0/8');

/** A host name or address as in a Host header, without port; kept in lower case. */
const hostSpelling = refine(nonEmptyString, (h) => /^[A-Za-z0-9.:[\]_-]+$/.test(h), 'a host name or address, without port');
export const hostName: Check<string> = (raw, key) => hostSpelling(raw, key).toLowerCase();

/** `host:port` (an IPv6 host in brackets), or '' for none. */
export function parseListen(value: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65_535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Where a server listens: host:port, or '' for not at all. */
export const listenAddress: Check<string> = (raw, key) => {
  if (raw === '') return '';
  const value = nonEmptyString(raw, key);
  if (!parseListen(value)) throw new ConfigError(key, "host:port (e.g. 127.0.0.1:9464), or '' for no HTTP server", raw);
  return value;
};

function isHttpUrl(value: string): boolean {
  try {
    return new URL(value).protocol === 'http:';
  } catch {
    return false;
  }
}

/** An http:// proxy URL, `env` (follow HTTP_PROXY / HTTPS_PROXY / NO_PROXY) or `none`. */
export const proxySetting = refine(nonEmptyString, (value) => value === 'env' || value === 'none' || isHttpUrl(value), 'an http:// proxy URL, "env" or "none"');

const COUNTRY_PATTERN = /^[a-z]{2,3}$/;

export function isCountry(value: string): boolean {
  return COUNTRY_PATTERN.test(value);
}

export const countryCode: Check<string> = (raw, key) => {
  if (typeof raw !== 'string' || !isCountry(raw)) throw new ConfigError(key, 'a country code of 2-3 lowercase letters', raw);
  return raw;
};

/** A non-empty list of country codes, none twice. */
export const countryList: Check<string[]> = shown(
  (raw, key) => {
    if (!Array.isArray(raw) || raw.length === 0) throw new ConfigError(key, 'a non-empty array of country codes', raw);
    const countries = raw.map((c, i) => countryCode(c, `${key}[${i}]`));
    const repeated = countries.findIndex((c, i) => countries.indexOf(c) !== i);
    if (repeated >= 0) throw new ConfigError(`${key}[${repeated}]`, 'a country not listed before', countries[repeated]);
    return countries;
  },
  (countries) => `\`${countries.join(' ')}\``,
);


/** What a list of named entries (sizes, sweep targets) needs to know about its entries. */
export interface NamedListSpec<T> {
  /** What the list must be, for the error when it is not an array (or is empty and `nonEmpty`). */
  expected: string;
  nonEmpty: boolean;
  /** The keys an entry may have. */
  fields: readonly string[];
  /** The check of an entry's `name`, which must be unique in the list. */
  name: Check<string>;
  /** What an entry is called in the error for a repeated name (`size`, `target`). */
  noun: string;
  /** Builds the entry from its fields (`at` is its path, `thumbnails.sizes[0]`) once its name is known to be good. */
  entry(fields: Raw, at: string, name: string): T;
}

/** A list of entries with a unique name each; an entry's required fields are checked even when absent. */
export function namedList<T>(spec: NamedListSpec<T>): Check<T[]> {
  return (raw, key) => {
    if (!Array.isArray(raw) || (spec.nonEmpty && raw.length === 0)) throw new ConfigError(key, spec.expected, raw);
    const seen = new Set<string>();
    return raw.map((item, index) => {
      const at = `${key}[${index}]`;
      const fields = fieldsOf(item, at, spec.fields);
      const name = spec.name(fields.name, `${at}.name`);
      if (seen.has(name)) throw new ConfigError(`${at}.name`, `a name not used by another ${spec.noun}`, fields.name);
      seen.add(name);
      return spec.entry(fields, at, name);
    });
  };
}

/** A string matching `pattern`, described as `expected`. */
export function matching(pattern: RegExp, expected: string): Check<string> {
  return (raw, key) => {
    if (typeof raw !== 'string' || !pattern.test(raw)) throw new ConfigError(key, expected, raw);
    return raw;
  };
}

export const colour = matching(/^#[0-9a-fA-F]{6}$/, 'a colour like "#ffffff"');

/** A bare mail address, `local@domain` (no display name, no spaces or angle brackets). */
export const emailAddress = matching(/^[^\s@<>()[\]",;:\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/, 'a mail address like ops@example.com');

function isSmtpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** Where mail goes: `sendmail` (the local sendmail program) or an `smtp://` / `smtps://` relay URL. */
export const mailRelay = refine(nonEmptyString, (value) => value === 'sendmail' || isSmtpUrl(value), '"sendmail" or an smtp://host:port (smtps:// for TLS) URL');

/** A mail address, or '' to let the program choose one. */
export const emailOrEmpty: Check<string> = (raw, key) => (raw === '' ? '' : emailAddress(raw, key));

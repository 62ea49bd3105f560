/**
 * The machinery of the schema: a key (default, check, doc), a section (keys and sections by name), the
 * type a section describes, and reading a raw section against it. Pure.
 */
import { fieldsOf, type Check } from './validators.js';

/** One config key, declared once: its default, its check, and its one-line doc (the README's row). */
export class ConfigKey<T> {
  constructor(
    readonly check: Check<T>,
    readonly fallback: T,
    readonly doc: string,
    /** The README's default column, when the value itself would mislead (it depends on the machine). */
    readonly shownDefault?: string,
  ) {}
}

/** A key whose type is what `check` returns; the default must be of that type. */
export function key<T>(check: Check<T>, fallback: NoInfer<T>, doc: string, shownDefault?: string): ConfigKey<T> {
  return new ConfigKey(check, fallback, doc, shownDefault);
}

export interface Section {
  readonly [name: string]: ConfigKey<unknown> | Section;
}

/** The values a section describes: each key's checked type, each subsection's values. */
export type ConfigOf<S extends Section> = {
  -readonly [K in keyof S]: S[K] extends ConfigKey<infer T> ? T : S[K] extends Section ? ConfigOf<S[K]> : never;
};

/** The same, every key optional: what an override may set. */
export type PartialConfigOf<S extends Section> = {
  -readonly [K in keyof S]?: S[K] extends ConfigKey<infer T> ? T : S[K] extends Section ? PartialConfigOf<S[K]> : never;
};

const child = (at: string, name: string): string => (at ? `${at}.${name}` : name);

/** Every key of a section, depth first in declaration order, with its path (`download.perHost`). */
export function keysOf(section: Section, at = ''): Array<[string, ConfigKey<unknown>]> {
  return Object.entries(section).flatMap(([name, node]) => (node instanceof ConfigKey ? [[child(at, name), node] as [string, ConfigKey<unknown>]] : keysOf(node, child(at, name))));
}

/** Each key's default, as fresh values (no two configs share an array). */
export function defaultsOf<S extends Section>(section: S): ConfigOf<S> {
  return read(section, {}, '', 'defaults') as ConfigOf<S>;
}

/** A raw section checked key by key (unknown keys refused first); a key left out takes its default. */
export function parseSection<S extends Section>(section: S, raw: unknown, at: string): ConfigOf<S> {
  return read(section, raw, at, 'full') as ConfigOf<S>;
}

/** A raw section checked key by key, keeping only the keys it sets (an override of the defaults). */
export function parsePartial<S extends Section>(section: S, raw: unknown, at: string): PartialConfigOf<S> {
  return read(section, raw, at, 'partial') as PartialConfigOf<S>;
}

function read(section: Section, raw: unknown, at: string, mode: 'defaults' | 'full' | 'partial'): Record<string, unknown> {
  const given = mode === 'defaults' ? {} : fieldsOf(raw, at, Object.keys(section));
  const out: Record<string, unknown> = {};
  for (const [name, node] of Object.entries(section)) {
    const value = given[name];
    if (value === undefined && mode === 'partial') continue;
    if (!(node instanceof ConfigKey)) out[name] = read(node, value, child(at, name), mode);
    else out[name] = value === undefined ? structuredClone(node.fallback) : node.check(value, child(at, name));
  }
  return out;
}

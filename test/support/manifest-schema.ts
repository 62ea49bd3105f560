/**
 * Checks manifests against the JSON Schema the package ships (engine/tree/manifest.v1.schema.json),
 * with ajv: every manifest the suite writes is checked when its temporary directory is cleaned up
 * (test/support/temp.ts), so the schema and what the product writes cannot drift apart unnoticed.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { manifestSchema } from '../../engine/interface.js';

// ajv-formats is CommonJS with the plugin as module.exports and as .default: take whichever is the function
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

let compiled: ValidateFunction | undefined;

/** The schema compiled once, strictly (a keyword ajv does not know is an error in the schema itself). */
function validator(): ValidateFunction {
  compiled ??= addFormats(new Ajv2020({ allErrors: true, strict: true })).compile(manifestSchema());
  return compiled;
}

/** What is wrong with `value` as a manifest, one line per problem; empty when it is valid. */
export function manifestProblems(value: unknown): string[] {
  const validate = validator();
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
}

/** `<cc>/<h0h1>/<h2h3>/<hash>.json`: where a manifest lies in a tree (or a copy of one on a target). */
const MANIFEST_AT = /(?:^|[\\/])[a-z]{2,3}[\\/]([0-9a-f]{2})[\\/]([0-9a-f]{2})[\\/]([0-9a-f]{32})\.json$/;

/** Every manifest under `dir` that does not validate, as `path: problems`; and how many were checked. */
export async function invalidManifestsUnder(dir: string): Promise<{ checked: number; invalid: string[] }> {
  let names: string[];
  try {
    names = await readdir(dir, { recursive: true, encoding: 'utf8' });
  } catch {
    return { checked: 0, invalid: [] }; // already gone
  }
  const invalid: string[] = [];
  let checked = 0;
  for (const name of names) {
    const match = MANIFEST_AT.exec(name);
    if (!match || !match[3]!.startsWith(match[1]! + match[2]!) || name.split(sep).includes('.tmp')) continue;
    let text: string;
    try {
      text = await readFile(join(dir, name), 'utf8');
    } catch {
      continue; // not a file (a directory so named), or removed meanwhile
    }
    checked++;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      invalid.push(`${name}: not JSON`);
      continue;
    }
    const problems = manifestProblems(value);
    if (problems.length > 0) invalid.push(`${name}: ${problems.join('; ')}`);
  }
  return { checked, invalid };
}

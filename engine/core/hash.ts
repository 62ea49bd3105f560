import { createHash } from 'node:crypto';
import { ImageSysError } from './errors.js';

/** Length of a hash in hex characters: 128 bits, plenty for tens of millions of URLs. */
export const HASH_LENGTH = 32;
const HASH_PATTERN = /^[0-9a-f]{32}$/;

/**
 * The canonical form of a source URL, the only input of `hashForUrl`.
 * Trimmed, parsed as a WHATWG URL (which lower-cases scheme and host, drops the default port and
 * resolves dot segments), fragment removed. Only http and https are accepted.
 */
export function normaliseUrl(raw: string): string {
  const trimmed = raw.trim();
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new ImageSysError('invalid_url', `not a URL: ${JSON.stringify(withoutCredentials(trimmed).slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ImageSysError('invalid_url', `only http and https URLs are accepted, not ${url.protocol}`);
  }
  url.hash = '';
  return url.href;
}

/** True when a URL names a user or a password (also one that does not parse: `scheme://user:pass@...`). */
export function hasCredentials(url: string): boolean {
  try {
    const parsed = new URL(url.trim());
    return parsed.username !== '' || parsed.password !== '';
  } catch {
    return USERINFO.test(url.trim());
  }
}

/** `scheme://` then userinfo up to the first `@` before any `/`, `?` or `#`. */
const USERINFO = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/?#@]*@/;

/**
 * The URL without its credentials, for everything a person or a frontend sees (manifest, page, logs,
 * failed jobs); a text that does not parse loses whatever stands where credentials would.
 */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url.trim());
    if (parsed.username === '' && parsed.password === '') return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.href;
  } catch {
    return url.replace(/^\s+/, '').replace(USERINFO, '$1');
  }
}

/** First 32 hex digits of SHA-256 of a text's UTF-8. */
export function hashOfText(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, HASH_LENGTH);
}

/**
 * hashForUrl(url) = first 32 hex digits of SHA-256(UTF-8 of normaliseUrl(url)).
 * Stable across releases: the test vectors in test/hash.test.ts pin it.
 */
export function hashForUrl(url: string): string {
  return hashOfText(normaliseUrl(url));
}

export function isHash(value: string): boolean {
  return HASH_PATTERN.test(value);
}

/** `<h0h1>/<h2h3>/<hash>`: the place of an image below `tree/<country>/`. */
export function pathForHash(hash: string): string {
  if (!isHash(hash)) throw new ImageSysError('bad_job', `not a hash: ${JSON.stringify(hash)}`);
  return `${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`;
}

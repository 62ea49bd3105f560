/**
 * The config module's entry: what the rest of ImageSys imports. Every key is declared once, in
 * schema.ts (default, check, doc); the type, the defaults, the parser and the README's table follow from it.
 */
export { canaryEnabled, defaultCountries } from './canary.js';
export { ConfigError } from './error.js';
export { DEFAULT_CONFIG, type Config } from './schema.js';
export { parseConfig } from './parse.js';
export { processingFor, type Processing } from './processing.js';
export { type CountryThumbnails } from './thumbnails.js';
export { isCountry, parseListen } from './validators.js';

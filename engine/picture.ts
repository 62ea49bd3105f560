/**
 * `<picture>` markup from an image's thumbnails: one `<source>` per format, in the order a browser
 * should prefer them, each with a `srcset` of width descriptors, and an `<img>` in the format every
 * browser shows, with the placeholder as its background until the picture arrives. Pure: a website
 * in another language builds the same from the manifest (README, Interface).
 */
import type { Thumbnail, Thumbnails } from './interface.js';

/** Smallest first, at equal look (bench:lean: AVIF and WebP beat JPEG by 25-35% at equal SSIM). */
export const FORMAT_PREFERENCE: readonly string[] = ['avif', 'webp', 'jpeg', 'png'];
/** What the `<img>` falls back to: what every browser decodes first. */
const FALLBACK_ORDER: readonly string[] = ['jpeg', 'png', 'webp', 'avif'];
const MIME: Readonly<Record<string, string>> = { avif: 'image/avif', webp: 'image/webp', jpeg: 'image/jpeg', png: 'image/png' };

export interface PictureSource {
  /** The MIME type, for `<source type>`. */
  type: string;
  /** `url 120w, url 200w, ...`, narrowest first. */
  srcset: string;
}

export interface PictureData {
  /** The formats in order of preference, each with its widths. */
  sources: PictureSource[];
  /** The fallback: the widest thumbnail of the most widely shown format, with its size (for the layout's aspect ratio). */
  img: { src: string; width: number; height: number; srcset: string; type: string };
  /** The `sizes` attribute: how wide the picture is shown. */
  sizes: string;
  /** CSS for the `<img>` while it loads: the dominant colour, and the ThumbHash over it. */
  placeholderStyle?: string;
}

export interface PictureOptions {
  /** Only these size names (default: all). */
  only?: readonly string[];
  /** The `sizes` attribute (default: the widest thumbnail's width, or the viewport if narrower). */
  sizes?: string;
  /** Leave out the placeholder background (default: shown when the manifest has one). */
  noPlaceholder?: boolean;
}

/** Per width one thumbnail (the smallest in bytes when two sizes came out the same width), narrowest first. */
function byWidth(thumbnails: readonly Thumbnail[]): Thumbnail[] {
  const lightest = new Map<number, Thumbnail>();
  for (const t of thumbnails) {
    const seen = lightest.get(t.width);
    if (!seen || t.bytes < seen.bytes) lightest.set(t.width, t);
  }
  return [...lightest.values()].sort((a, b) => a.width - b.width);
}

const srcsetOf = (list: readonly Thumbnail[]): string => list.map((t) => `${t.url} ${t.width}w`).join(', ');

/** The parts of a `<picture>`, or undefined when the image has no thumbnail of a known format. Pure. */
export function pictureData(thumbnails: Thumbnails, options: PictureOptions = {}): PictureData | undefined {
  const chosen = thumbnails.sizes.filter((t) => MIME[t.format] && (!options.only || options.only.includes(t.name)));
  if (chosen.length === 0) return undefined;
  const formats = FORMAT_PREFERENCE.filter((f) => chosen.some((t) => t.format === f));
  const listOf = (format: string): Thumbnail[] => byWidth(chosen.filter((t) => t.format === format));
  const fallbackFormat = FALLBACK_ORDER.find((f) => formats.includes(f))!;
  const fallback = listOf(fallbackFormat);
  const widest = fallback[fallback.length - 1]!;
  const maxWidth = Math.max(...chosen.map((t) => t.width));
  const placeholder = options.noPlaceholder ? undefined : thumbnails.placeholder;
  return {
    sources: formats.filter((f) => f !== fallbackFormat).map((f) => ({ type: MIME[f]!, srcset: srcsetOf(listOf(f)) })),
    img: { src: widest.url, width: widest.width, height: widest.height, srcset: srcsetOf(fallback), type: MIME[fallbackFormat]! },
    sizes: options.sizes ?? `(max-width: ${maxWidth}px) 100vw, ${maxWidth}px`,
    ...(placeholder ? { placeholderStyle: `background: ${placeholder.dominant} url("${placeholder.dataUrl}") center / cover no-repeat` } : {}),
  };
}

const escapeAttribute = (value: string): string => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * `<picture>` markup, attributes escaped; `alt` is required (a listing photo is content), empty
 * string for a decorative one. Lazy loading and async decoding unless `eager`. Empty when
 * `pictureData` has nothing. Pure.
 */
export function pictureHtml(thumbnails: Thumbnails, alt: string, options: PictureOptions & { eager?: boolean } = {}): string {
  const data = pictureData(thumbnails, options);
  if (!data) return '';
  const attr = (name: string, value: string | number): string => ` ${name}="${escapeAttribute(String(value))}"`;
  const sources = data.sources.map((s) => `<source${attr('type', s.type)}${attr('srcset', s.srcset)}${attr('sizes', data.sizes)}>`);
  const { img } = data;
  const loading = options.eager ? '' : `${attr('loading', 'lazy')}${attr('decoding', 'async')}`;
  const style = data.placeholderStyle ? attr('style', data.placeholderStyle) : '';
  const tag = `<img${attr('src', img.src)}${attr('srcset', img.srcset)}${attr('sizes', data.sizes)}${attr('width', img.width)}${attr('height', img.height)}${attr('alt', alt)}${loading}${style}>`;
  return `<picture>${sources.join('')}${tag}</picture>`;
}

/**
 * Image classes (the seed's `image_class` and `human_classified`): what a picture is, decided from
 * the pictures already made that look the same (perceptual hash within a few bits). Pure.
 *   placeholder  the same picture under many URLs of one datasource: a stock "no photo yet", a logo
 *   duplicate    a near-copy of an image already in the tree under another URL (`duplicateOf` says which)
 *   photo        neither
 *   canary       a picture the engine sends through itself to test the whole path (engine/canary/):
 *                never served by the Interface, never listed in the index, removed once checked
 * A class an operator set by hand (`imagesys classify`) wins over all of these.
 */

/** The classes of the website's images (what the Interface serves and `status` counts). */
export const IMAGE_CLASSES = ['photo', 'placeholder', 'duplicate'] as const;
export type ImageClass = (typeof IMAGE_CLASSES)[number];
/** What a manifest may say: a class of the website's, or `canary`. */
export type ManifestClass = ImageClass | 'canary';
/** What an operator may set by hand. */
export const HAND_CLASSES = ['photo', 'placeholder'] as const;
export type HandClass = (typeof HAND_CLASSES)[number];

/** The datasource canaries carry, in their own country: how the engine tells one from a listing photo. */
export const CANARY_DATASOURCE = 'imagesys-canary';

/** Whether an image is a canary: the canary's datasource in the canary's country (`canary.country`). */
export function isCanaryImage(image: { country: string; datasource?: string | undefined }, canaryCountry: string): boolean {
  return image.country === canaryCountry && image.datasource === CANARY_DATASOURCE;
}

/** An image as the perceptual-hash index knows it. `datasource` is '' for an image without one. */
export interface IndexEntry {
  phash: string;
  country: string;
  hash: string;
  datasource: string;
}

/** What the manifest says of an image's class. */
export interface Classification {
  class: ManifestClass;
  /** Set by an operator (`imagesys classify`), not by the engine. */
  humanClassified: boolean;
  /** For a duplicate: the image it is a near-copy of. */
  duplicateOf?: { country: string; hash: string };
}

export interface ClassSettings {
  /** Distinct URLs of one datasource with the same picture that make it a placeholder. */
  placeholderUrls: number;
}

export interface Decision {
  classification: Classification;
  /** When the image makes its picture a placeholder: the others of its datasource to reclass. */
  reclass: IndexEntry[];
  /**
   * Whether the image goes into the index: not when it is there already (the same URL made again),
   * and a placeholder only while its datasource has fewer than `placeholderUrls` of its picture there:
   * enough to know the picture again (its own remaking included), and the buckets of a stock picture
   * under a million URLs stay small.
   */
  list: boolean;
}

/** The image's last manifest, when it is made again, and whether its picture is still the same one. */
export interface Previous {
  classification: Classification;
  samePicture: boolean;
}

/**
 * The class of `self` given the images that look the same (`alike`, with their distance, nearest
 * first; `self` itself may be among them and does not count), the class an operator set, if any, and
 * what it was before, if it is made again: the same picture keeps its class (a photo whose copy came
 * later stays the original) unless it is now a placeholder.
 */
export function decideClass(self: IndexEntry, alike: ReadonlyArray<IndexEntry & { distance: number }>, settings: ClassSettings, handSet?: HandClass, previous?: Previous): Decision {
  const others = alike.filter((e) => !(e.hash === self.hash && e.country === self.country));
  const sameSource = others.filter((e) => e.country === self.country && e.datasource === self.datasource);
  const urls = new Set(sameSource.map((e) => e.hash)).size + 1;
  const list = others.length === alike.length && urls <= settings.placeholderUrls;
  if (handSet) return { classification: { class: handSet, humanClassified: true }, reclass: [], list };
  // reclassing reads the others' manifests: done when the threshold is reached, not for every later one
  if (urls >= settings.placeholderUrls) return { classification: { class: 'placeholder', humanClassified: false }, reclass: urls === settings.placeholderUrls ? sameSource : [], list };
  if (previous?.samePicture && !previous.classification.humanClassified) return { classification: previous.classification, reclass: [], list };
  const original = others[0]; // the nearest
  if (original) return { classification: { class: 'duplicate', humanClassified: false, duplicateOf: { country: original.country, hash: original.hash } }, reclass: [], list };
  return { classification: { class: 'photo', humanClassified: false }, reclass: [], list };
}

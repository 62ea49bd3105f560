/**
 * Auto quality: the lowest encoder quality whose score (workers/score.ts) stays at or above a floor,
 * found with a bounded number of encodes. It predicts, then corrects: distortion, ln(1 - SSIM), falls
 * about linearly with quality, so one encode and its score say roughly where the floor is crossed;
 * the next encode goes there, and later ones follow the secant of the last two. Pure apart from the
 * encoder it is given.
 */

/** `thumbnails.process.quality` in auto mode. */
export interface AutoQuality {
  /** The lowest score a written thumbnail may have (SSIM, 0-1). */
  floor: number;
  /** The range searched (encoder quality, 1-100). */
  min: number;
  max: number;
  /**
   * Encodes per size and format spent looking for the lowest quality. One is a prediction checked:
   * kept if it reached the floor, else corrected upwards. If none has reached the floor when they are
   * spent, up to `EXTRA_CORRECTIONS` more go upwards, then one at `max`.
   */
  tries: number;
}

/** A number: that quality for every image; an object: chosen per image and size. */
export type QualitySetting = number | AutoQuality;

/** What `quality: "auto"` means. The floor is fixed q75's lowest score on the 248 fixture photos (0.947, at 480x360), rounded up. */
export const AUTO_DEFAULTS: Readonly<AutoQuality> = Object.freeze({ floor: 0.95, min: 20, max: 95, tries: 2 });

/**
 * Where the search of the smallest size starts: the median quality the floor needed on the fixture
 * photos (40-45). A larger size starts from the quality the next smaller one needed, plus
 * `LARGER_SIZE_STEP` (on the fixtures: medium needed 2.5 more than thumb, large 5 more than medium).
 */
export const FIRST_START = 45;
export const LARGER_SIZE_STEP = 3;

/** Change of ln(1 - SSIM) per quality step before two encodes give a secant: the fixtures' median, -0.015 to -0.019 by size. */
const PRIOR_SLOPE = -0.016;
/** Steps added to a prediction: after an encode below the floor (a second miss costs an encode), and when trying lower. */
const MARGIN_AFTER_MISS = 3;
const MARGIN_BELOW_PASS = 1;
/** An encode that reached the floor is followed by a lower one only if that is predicted to save this many steps. */
const WORTH_TRYING_LOWER = 4;
/** Upward corrections allowed past `tries` while no encode has reached the floor (then `max`). */
export const EXTRA_CORRECTIONS = 2;

export interface Attempt {
  quality: number;
  score: number;
}

export interface Choice<T extends Attempt> {
  chosen: T;
  /** Encodes made, the one at `max` included. */
  encodes: number;
  /** False when not even `max` reached the floor: `chosen` is then the encode at `max`. */
  reached: boolean;
}

const distortion = (score: number): number => Math.log(Math.max(1e-9, 1 - score));
const clamp = (q: number, auto: AutoQuality): number => Math.min(auto.max, Math.max(auto.min, Math.round(q)));

/** The quality predicted to land on the floor from `from`, given the slope. */
function predicted(from: Attempt, slope: number, floor: number): number {
  return from.quality + (distortion(floor) - distortion(from.score)) / slope;
}

/** The secant of the last two encodes, if they tell anything; else the prior. */
function slopeOf(tried: readonly Attempt[]): number {
  if (tried.length < 2) return PRIOR_SLOPE;
  const a = tried[tried.length - 2]!;
  const b = tried[tried.length - 1]!;
  if (a.quality === b.quality) return PRIOR_SLOPE;
  const secant = (distortion(b.score) - distortion(a.score)) / (b.quality - a.quality);
  return secant < 0 ? secant : PRIOR_SLOPE;
}

const lowestPassing = <T extends Attempt>(tried: readonly T[], floor: number): T | undefined =>
  tried.filter((a) => a.score >= floor).sort((x, y) => x.quality - y.quality)[0];

/** The next quality to encode, or undefined when the search is done. Pure. */
export function nextQuality(tried: readonly Attempt[], auto: AutoQuality): number | undefined {
  const best = lowestPassing(tried, auto.floor);
  if (tried.length >= auto.tries + (best ? 0 : EXTRA_CORRECTIONS)) return undefined;
  const slope = slopeOf(tried);
  const last = tried[tried.length - 1]!;
  let next: number;
  if (best) {
    next = clamp(predicted(last.score >= auto.floor ? last : best, slope, auto.floor) + MARGIN_BELOW_PASS, auto);
    if (best.quality - next < WORTH_TRYING_LOWER) return undefined;
  } else {
    const highest = Math.max(...tried.map((a) => a.quality));
    next = clamp(Math.max(predicted(last, slope, auto.floor) + MARGIN_AFTER_MISS, highest + 1), auto);
  }
  return tried.some((a) => a.quality === next) ? undefined : next;
}

/** Searches from `start` with `encodeAt`, which encodes at a quality and scores the result. */
export async function chooseQuality<T extends Attempt>(auto: AutoQuality, start: number, encodeAt: (quality: number) => Promise<T>): Promise<Choice<T>> {
  const tried: T[] = [await encodeAt(clamp(start, auto))];
  for (let q = nextQuality(tried, auto); q !== undefined; q = nextQuality(tried, auto)) tried.push(await encodeAt(q));
  let best = lowestPassing(tried, auto.floor);
  if (!best && !tried.some((a) => a.quality === auto.max)) {
    const top = await encodeAt(auto.max);
    tried.push(top);
    if (top.score >= auto.floor) best = top;
  }
  if (best) return { chosen: best, encodes: tried.length, reached: true };
  return { chosen: tried.find((a) => a.quality === auto.max)!, encodes: tried.length, reached: false };
}

/** Where the search of each size starts, the sizes taken from smallest to largest. Pure. */
export function startAfter(previous: number | undefined): number {
  return previous === undefined ? FIRST_START : previous + LARGER_SIZE_STEP;
}

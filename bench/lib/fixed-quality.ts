/** The comparisons with plain tools run at one fixed quality: auto quality has no counterpart there. */
import type { ProcessDetails } from '../../workers/thumbnail-task.js';

/** The encoder settings of a fixed quality; refuses auto (`thumbnails.process.quality` an object). */
export function fixedQuality(p: ProcessDetails): { quality: number; effort: number } {
  if (typeof p.quality !== 'number') throw new Error('this bench compares with plain tools at a fixed quality: set thumbnails.process.quality to a number');
  return { quality: p.quality, effort: p.effort };
}

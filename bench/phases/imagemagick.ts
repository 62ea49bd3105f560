/** imagemagick: `convert -thumbnail`, one process per image (a -write chain), `threads` processes at a time. */
import { join } from 'node:path';
import { EXTENSIONS, type SizeSpec } from '../../workers/thumbnail-task.js';
import type { CliTool } from './cli-tool.js';
import { fixedQuality } from '../lib/fixed-quality.js';

const CONVERT = '/usr/bin/convert';

/** Sizes from the largest down, so that a -write chain can shrink each from the previous. */
const largestFirst = (sizes: readonly SizeSpec[]): SizeSpec[] => [...sizes].sort((a, b) => b.width * b.height - a.width * a.height);

export const imagemagick: CliTool = {
  name: 'imagemagick',
  file: CONVERT,
  aptPackage: 'imagemagick',
  mustBeBinary: true,
  versionArgs: ['-version'],
  versionOf(stdout) {
    const first = stdout.split('\n')[0] ?? '';
    if (!first.includes('ImageMagick')) return { missing: `${CONVERT} is not ImageMagick: ${first.slice(0, 100)}` };
    return first.replace(/^Version:\s*/, '').replace(/\s+https?:\S+/, '').trim();
  },
  // ImageMagick's own thread default (OpenMP) measured as fast as or faster than MAGICK_THREAD_LIMIT=1 here
  env: (base) => ({ ...base }),
  /** One process: auto-orient, then -thumbnail from the largest size down, each written on the way. */
  commands(image, index, outDir, processing) {
    const args = [image.path, '-auto-orient', '-quality', String(fixedQuality(processing.process).quality)];
    const outputs: string[][] = [];
    for (const size of largestFirst(processing.sizes)) {
      const writes = processing.formats.map((format) => join(outDir, `${index}_${size.name}.${EXTENSIONS[format]}`));
      outputs.push(['-thumbnail', `${size.width}x${size.height}>`, ...writes.flatMap((w) => ['-write', w])]);
    }
    const flat = outputs.flat();
    // the last output is the positional one instead of a -write
    const last = flat.pop()!;
    flat.pop();
    return [[...args, ...flat, last]];
  },
  describe: (version, threads, env) =>
    `${version.split(' ').slice(0, 2).join(' ')}, convert -thumbnail, 1 process per image (-write chain), ${threads} at a time, MAGICK_THREAD_LIMIT=${env.MAGICK_THREAD_LIMIT ?? 'default'}`,
};

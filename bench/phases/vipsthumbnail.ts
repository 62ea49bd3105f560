/** vipsthumbnail: the libvips CLI, one process per image per size, `threads` processes at a time. */
import { join } from 'node:path';
import { EXTENSIONS } from '../../workers/thumbnail-task.js';
import type { CliTool } from './cli-tool.js';
import { fixedQuality } from '../lib/fixed-quality.js';

export const vipsthumbnail: CliTool = {
  name: 'vipsthumbnail',
  file: '/usr/bin/vipsthumbnail',
  aptPackage: 'libvips-tools',
  mustBeBinary: false,
  versionArgs: ['--vips-version'],
  versionOf: (stdout) => stdout.trim(),
  // one libvips thread per process, as many processes as threads (measured as fast as the default here)
  env: (base) => ({ ...base, VIPS_CONCURRENCY: base.VIPS_CONCURRENCY ?? '1' }),
  /** One process per size and format. */
  commands(image, index, outDir, processing) {
    const commands: string[][] = [];
    for (const size of processing.sizes) {
      for (const format of processing.formats) {
        const out = join(outDir, `${index}_${size.name}.${EXTENSIONS[format]}[Q=${fixedQuality(processing.process).quality},strip]`);
        commands.push([image.path, '-s', `${size.width}x${size.height}>`, '-o', out]);
      }
    }
    return commands;
  },
  describe: (version, threads, env) => `${version}, 1 process per image per size, ${threads} at a time, VIPS_CONCURRENCY=${env.VIPS_CONCURRENCY}`,
};

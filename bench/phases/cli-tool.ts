/**
 * The command-line tools' phases (vipsthumbnail, imagemagick): one implementation, given the tool.
 * Each image goes through the tool's processes, `threads` images at a time; the outputs are counted
 * and weighed on disk after each round.
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Processing } from '../../engine/config/config.js';
import type { CorpusImage } from '../lib/corpus.js';
import { cpuMeter } from '../lib/cpu.js';
import { fmt } from '../lib/format.js';
import { runLimited } from '../lib/lanes.js';
import { secondsSince } from '../lib/stats.js';
import { errorText, execFileAsync, isElf } from '../lib/tool.js';
import { Rounds, skipped, type PhaseContext, type PhaseResult } from './phase.js';

export interface CliTool {
  /** The phase's name in --phases, the table and the JSON line. */
  name: 'vipsthumbnail' | 'imagemagick';
  /** The binary run (a fixed path: a stand-in earlier on $PATH is not measured). */
  file: string;
  /** The Debian package that has it, for the message when it is missing. */
  aptPackage: string;
  /** Refuse a script in its place (it would measure the script). */
  mustBeBinary: boolean;
  versionArgs: string[];
  /** Its version from what `versionArgs` print, or why the program found is not the tool. */
  versionOf(stdout: string): string | { missing: string };
  /** The environment its processes run with. */
  env(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Argument lists of the processes that make one image's outputs in `outDir` (pure). */
  commands(image: CorpusImage, index: number, outDir: string, processing: Processing): string[][];
  /** The start of the phase's note: the tool and how it was run. */
  describe(version: string, threads: number, env: NodeJS.ProcessEnv): string;
}

export interface CliToolResult extends PhaseResult {
  /** null when the tool is missing. */
  version: string | null;
}

async function probe(tool: CliTool): Promise<{ version: string } | { missing: string }> {
  try {
    await stat(tool.file);
  } catch {
    return { missing: `${tool.file} not found (apt-get install -y ${tool.aptPackage})` };
  }
  try {
    if (tool.mustBeBinary && !(await isElf(tool.file))) return { missing: `${tool.file} is not a binary (a stand-in script?)` };
    const { stdout } = await execFileAsync(tool.file, tool.versionArgs);
    const version = tool.versionOf(stdout);
    return typeof version === 'string' ? { version } : version;
  } catch (error) {
    return { missing: `${tool.file} does not run: ${errorText(error)}` };
  }
}

export async function cliToolPhase(tool: CliTool, ctx: PhaseContext): Promise<CliToolResult> {
  const { corpus, progress } = ctx;
  const found = await probe(tool);
  if ('missing' in found) {
    progress(`${tool.name}: ${found.missing}; reporting null`);
    return { ...skipped(corpus.length, found.missing), version: null };
  }
  progress(`${tool.name} (${found.version}) ...`);
  const env = tool.env(process.env);
  const result = await timedRuns(tool, env, ctx);
  progress(`${tool.name} ... ${fmt(result.imgPerSec)} img/s`);
  return { ...result, note: `${tool.describe(found.version, ctx.threads, env)}; ${result.note}`, version: found.version };
}

async function timedRuns(tool: CliTool, env: NodeJS.ProcessEnv, { corpus, processing, threads, warmCount, rounds, workDir, progress }: PhaseContext): Promise<PhaseResult> {
  const run = async (images: readonly CorpusImage[], outDir: string): Promise<{ seconds: number; failures: string[]; cpu: string }> => {
    await mkdir(outDir, { recursive: true });
    const failures: string[] = [];
    const cpu = cpuMeter();
    const started = performance.now();
    await runLimited(images, threads, async (image, index) => {
      for (const args of tool.commands(image, index, outDir, processing)) {
        try {
          await execFileAsync(tool.file, args, { env, maxBuffer: 1024 * 1024 });
        } catch (error) {
          failures.push(`${image.name}: ${errorText(error)}`);
        }
      }
    });
    return { seconds: secondsSince(started), failures, cpu: cpu() };
  };
  const warmDir = join(workDir, `${tool.name}-warm`);
  const warm = await run(corpus.slice(0, warmCount), warmDir);
  if (warm.failures.length === warmCount && warmCount > 0) {
    return { ...skipped(corpus.length, `warm-up failed: ${warm.failures[0]}`), failures: warm.failures.length };
  }
  await rm(warmDir, { recursive: true, force: true });
  const timing = new Rounds(corpus.length);
  const expected = corpus.length * processing.sizes.length * processing.formats.length;
  let made = 0;
  let failures = 0;
  let outputBytes = 0;
  for (let round = 0; round < rounds; round++) {
    const outDir = join(workDir, `${tool.name}-${round}`);
    const timed = await run(corpus, outDir);
    const files = await readdir(outDir);
    made = files.length;
    outputBytes = 0;
    for (const file of files) outputBytes += (await stat(join(outDir, file))).size;
    failures = timed.failures.length;
    if (failures > 0) progress(`${tool.name}: ${failures} failed, first: ${timed.failures[0]}`);
    if (made !== expected) progress(`${tool.name}: made ${made} files, expected ${expected}`);
    await rm(outDir, { recursive: true, force: true });
    const rate = timing.add(timed.seconds, timed.cpu.replace('bench process', 'bench process (not its children)'));
    if (rounds > 1) progress(`${tool.name} round ${round + 1}/${rounds} ... ${rate.toFixed(1)} img/s`);
  }
  const best = timing.best!;
  return { imgPerSec: best.imgPerSec, seconds: best.seconds, images: corpus.length, failures, note: `${made}/${expected} files, ${Math.round(outputBytes / corpus.length)} bytes/image; ${timing.note}${best.cpu}` };
}

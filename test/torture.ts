/**
 * `npm run torture [-- --urls 2000 --kills 20 --engines 3 --skew +1h,-40s,+40s]`: the long forms of
 * the crash and several-engine torture (the suite runs short ones), the latter also with the engines'
 * clocks skewed (libfaketime). Progress on stderr, a summary line last.
 */
import { parseArgs } from 'node:util';
import { crashTorture, enginesTorture } from './support/torture.js';
import { faketimeMissing } from './support/faketime.js';
import { tempDir } from './support/temp.js';

const { values } = parseArgs({ options: { urls: { type: 'string', default: '2000' }, kills: { type: 'string', default: '20' }, engines: { type: 'string', default: '3' }, skew: { type: 'string', default: '+1h,-40s,+40s' } } });
const urls = Number(values.urls);
const kills = Number(values.kills);
const engines = Number(values.engines);
/** The engines' clocks in the skewed part (libfaketime): the last one listed is that of the engine killed. */
const skews = values.skew.split(',').filter((s) => s !== '');
const progress = (line: string): void => void process.stderr.write(`torture: ${line}\n`);

let failed = false;
const results: string[] = [];
for (const [name, run] of [
  ['crash', async (dir: string) => {
    const r = await crashTorture(dir, { urls, kills, progress });
    return `crash: ${urls} URLs, ${r.kills} SIGKILLs, all checks passed in ${r.seconds.toFixed(0)} s`;
  }],
  ['engines', async (dir: string) => {
    const r = await enginesTorture(dir, { urls, engines, progress });
    return `engines: ${engines} on ${urls} URLs, thumbed ${r.thumbedBy.join('/')}, none twice; ${r.heldAtKill} claims of the killed one taken over in ${r.takeoverSeconds.toFixed(1)} s; ${r.seconds.toFixed(0)} s`;
  }],
  ['skew', async (dir: string) => {
    const missing = faketimeMissing();
    if (skews.length === 0) return 'skew: not run (--skew "")';
    if (missing !== undefined) throw new Error(`cannot skew clocks: ${missing}`);
    const r = await enginesTorture(dir, { urls, engines, skews, progress });
    return `skew: ${engines} engines with clocks ${skews.join(' ')} (the last killed) on ${urls} URLs, thumbed ${r.thumbedBy.join('/')}, none twice; ${r.heldAtKill} claims of the killed one taken over in ${r.takeoverSeconds.toFixed(1)} s; ${r.seconds.toFixed(0)} s`;
  }],
] as const) {
  const { dir, cleanup } = await tempDir();
  try {
    progress(`${name} ...`);
    results.push(await run(dir));
  } catch (error) {
    failed = true;
    results.push(`${name}: FAILED: ${(error as Error).message}`);
    console.error(error);
  } finally {
    await cleanup();
  }
}
for (const line of results) console.log(line);
console.log(failed ? 'torture: FAILED' : 'torture: passed');
process.exitCode = failed ? 1 : 0;

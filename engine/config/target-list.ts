/** The check of `sweep.targets`: named frontends whose dest rsync can use. Pure. */
import { ConfigError } from './error.js';
import { destProblem, type SweepTarget } from './targets.js';
import { integer, matching, namedList, nonEmptyString, type Check } from './validators.js';

const bwlimit = integer(0);

/** A list of `{ name, dest, bwlimitKiB? }`, no name twice; `name` and `dest` are required. */
export const targetList: Check<SweepTarget[]> = namedList<SweepTarget>({
  expected: 'an array of {name, dest}',
  nonEmpty: false,
  fields: ['name', 'dest', 'bwlimitKiB'],
  name: matching(/^[a-zA-Z0-9_-]{1,32}$/, 'a name of 1-32 letters, digits, _ or -'),
  noun: 'target',
  entry: (fields, at, name) => {
    const dest = nonEmptyString(fields.dest, `${at}.dest`);
    const problem = destProblem(dest);
    if (problem) throw new ConfigError(`${at}.dest`, problem, dest);
    return fields.bwlimitKiB === undefined ? { name, dest } : { name, dest, bwlimitKiB: bwlimit(fields.bwlimitKiB, `${at}.bwlimitKiB`) };
  },
});

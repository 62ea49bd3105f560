import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HostQueue } from '../engine/scheduler/host-queue.js';

interface Item { host?: string; id: string }
const item = (host: string | undefined, id: string): Item => (host === undefined ? { id } : { host, id });
const takeAll = (queue: HostQueue<Item>, mayStart: (host: string) => boolean = () => true): string[] => {
  const out: string[] = [];
  for (let next = queue.take(mayStart); next; next = queue.take(mayStart)) out.push(next.id);
  return out;
};

test('hosts are served in turn, each in its own order, whatever their backlogs', () => {
  const queue = new HostQueue<Item>();
  for (let i = 0; i < 5; i++) queue.push(item('a:80', `a${i}`));
  queue.push(item('b:80', 'b0'));
  queue.push(item('b:80', 'b1'));
  queue.push(item(undefined, 'scan0'));
  assert.is(queue.length, 8);
  assert.is(queue.lengthOf('a:80'), 5);
  assert.equal(takeAll(queue), ['a0', 'b0', 'a1', 'b1', 'a2', 'a3', 'a4', 'scan0'], 'known hosts in turn, jobs of unknown host after them');
  assert.is(queue.length, 0);
});

test('jobs of unknown host are served when no known host may start', () => {
  const queue = new HostQueue<Item>();
  queue.push(item('a:80', 'a0'));
  queue.push(item('a:80', 'a1'));
  queue.push(item(undefined, 'scan0'));
  assert.equal(takeAll(queue, (host) => host !== 'a:80'), ['scan0']);
  assert.equal(takeAll(queue, (host) => host !== ''), ['a0', 'a1']);
});

test('a host that may not start is passed over, not waited for; it keeps its place in its line', () => {
  const queue = new HostQueue<Item>();
  for (let i = 0; i < 3; i++) queue.push(item('slow:80', `s${i}`));
  queue.push(item('fast:80', 'f0'));
  queue.push(item('fast:80', 'f1'));
  assert.equal(takeAll(queue, (host) => host !== 'slow:80'), ['f0', 'f1']);
  assert.is(queue.length, 3);
  assert.equal(takeAll(queue), ['s0', 's1', 's2']);
});

test('unshift puts due work first in its host\'s line; drain returns everything', () => {
  const queue = new HostQueue<Item>();
  queue.push(item('a:80', 'a0'));
  queue.unshift(item('a:80', 'retry'));
  queue.push(item('b:80', 'b0'));
  assert.equal([...queue].map((i) => i.id), ['retry', 'a0', 'b0']);
  assert.equal(queue.drain().map((i) => i.id), ['retry', 'a0', 'b0']);
  assert.is(queue.length, 0);
  assert.is(queue.take(() => true), undefined);
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeJob, encodeJob, forRetry, newJob, parseBatchLine, withFailure } from '../spool/job.js';
import { hashForUrl } from '../engine/core/hash.js';
import { ImageSysError } from '../engine/core/errors.js';

const now = new Date('2026-11-28T12:00:00Z');

test('a job survives encode and decode', () => {
  const job = withFailure(newJob({ url: 'http://example.com/a.jpg', country: 'uk', datasource: '16' }, now), { code: 'http_server_error', message: 'HTTP 500' }, now, new Date('2026-11-28T12:01:00Z'));
  const back = decodeJob(encodeJob(job), 'uk', now);
  assert.equal(back, job);
  assert.is(back.attempts, 1);
  assert.is(back.notBefore, '2026-11-28T12:01:00.000Z');
});

test('the encoding is readable: one key per line, the reason on its own line', () => {
  const job = withFailure(newJob({ url: 'http://example.com/a.jpg', country: 'uk' }, now), { code: 'http_not_found', message: 'HTTP 404\nfrom example.com' }, now);
  const text = encodeJob(job);
  assert.ok(text.split('\n').some((line) => /^ {2}"error": "HTTP 404 from example.com",?$/.test(line)), text);
  assert.ok(text.includes('"errorCode": "http_not_found"'));
  assert.is(job.notBefore, undefined);
});

test('a hand-written job needs only a url; country from the directory, hash from the url', () => {
  const job = decodeJob('{"url": " http://example.com/b.jpg "}', 'de', now);
  assert.is(job.url, 'http://example.com/b.jpg');
  assert.is(job.country, 'de');
  assert.is(job.hash, hashForUrl('http://example.com/b.jpg'));
  assert.is(job.attempts, 0);
  assert.is(job.createdAt, now.toISOString());
});

test('a job that lies about its hash gets the real one', () => {
  const job = decodeJob(JSON.stringify({ url: 'http://example.com/c.jpg', hash: 'ffffffffffffffffffffffffffffffff' }), 'uk', now);
  assert.is(job.hash, hashForUrl('http://example.com/c.jpg'));
});

test('corrupt jobs are bad_job errors', () => {
  for (const text of ['', '{', '[]', '{"url": 3}', 'null', '{"url":"http://x/a.jpg","attempts":"x","error":5}']) {
    assert.throws(() => decodeJob(text, 'uk', now), (e: unknown) => e instanceof ImageSysError && e.code === 'bad_job', text);
  }
});

test('batch lines: URL, optional TAB datasource, blanks and comments skipped', () => {
  assert.equal(parseBatchLine('http://example.com/a.jpg'), { url: 'http://example.com/a.jpg' });
  assert.equal(parseBatchLine('http://example.com/a.jpg\t16\r'), { url: 'http://example.com/a.jpg', datasource: '16' });
  assert.is(parseBatchLine('   '), undefined);
  assert.is(parseBatchLine('# comment'), undefined);
});

test('retry resets attempts and the backoff but keeps the last reason', () => {
  const failed = withFailure(withFailure(newJob({ url: 'http://example.com/a.jpg', country: 'uk' }, now), { code: 'connect_failed', message: 'refused' }, now, now), { code: 'connect_failed', message: 'refused' }, now);
  assert.is(failed.attempts, 2);
  const again = forRetry(failed, now);
  assert.is(again.attempts, 0);
  assert.is(again.notBefore, undefined);
  assert.is(again.errorCode, 'connect_failed');
});

test.run();

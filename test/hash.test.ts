import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hashForUrl, isHash, normaliseUrl, pathForHash } from '../engine/core/hash.js';
import { ImageSysError } from '../engine/core/errors.js';

// Pinned vectors: changing the algorithm would orphan every image in the tree.
const VECTORS: Array<[string, string]> = [
  ['http://example.com/a.jpg', '4fd63207a70baba7076795ee9c335785'],
  ['https://img.example.com/photos/123/main.jpg?w=1&x=2', '2216eb18950cbe1ef5d2e9119de4e57b'],
  ['https://example.com:443/a%20b.jpg', '2c7a538882fff2dd8cccc10071c4357d'],
];

test('hash vectors are stable', () => {
  for (const [url, hash] of VECTORS) assert.is(hashForUrl(url), hash, url);
});

test('the hash is the first 32 hex digits of SHA-256 of the normalised URL', () => {
  const url = 'http://example.com/a.jpg';
  assert.is(hashForUrl(url), createHash('sha256').update(url).digest('hex').slice(0, 32));
});

test('normalisation: trim, case of scheme and host, default port, fragment, dot segments', () => {
  const same = ['  HTTP://Example.COM:80/a.jpg#frag ', 'http://EXAMPLE.com/a.jpg', 'http://example.com/x/../a.jpg'];
  for (const url of same) assert.is(normaliseUrl(url), 'http://example.com/a.jpg', url);
  assert.is.not(hashForUrl('http://example.com/A.jpg'), hashForUrl('http://example.com/a.jpg'), 'the path keeps its case');
  assert.is.not(hashForUrl('http://example.com/a.jpg?x=1'), hashForUrl('http://example.com/a.jpg'), 'the query counts');
  assert.is.not(hashForUrl('http://example.com:8080/a.jpg'), hashForUrl('http://example.com/a.jpg'), 'a non-default port counts');
});

test('only http and https URLs are accepted', () => {
  for (const bad of ['ftp://example.com/a.jpg', 'file:///etc/passwd', 'not a url', '', 'javascript:alert(1)']) {
    try {
      hashForUrl(bad);
      assert.unreachable(`accepted ${bad}`);
    } catch (error) {
      assert.instance(error, ImageSysError);
      assert.is((error as ImageSysError).code, 'invalid_url');
    }
  }
});

test('pathForHash splits the first four digits into two levels', () => {
  assert.is(pathForHash('4fd63207a70baba7076795ee9c335785'), '4f/d6/4fd63207a70baba7076795ee9c335785');
  assert.ok(isHash('4fd63207a70baba7076795ee9c335785'));
  assert.not.ok(isHash('4FD63207A70BABA7076795EE9C335785'));
  assert.throws(() => pathForHash('../../etc/passwd'), /not a hash/);
});

test.run();

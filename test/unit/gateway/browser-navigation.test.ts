/**
 * Browser navigation detection (src/gateway/pipeline/authenticate.ts): GET/HEAD whose
 * Accept prefers text/html gets a login redirect; everything else gets 401 JSON.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isBrowserNavigation } from '../../../src/gateway/pipeline/authenticate.js';

const CHROME =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';
const FIREFOX = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const SAFARI = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('isBrowserNavigation', () => {
  test('real browser navigations', () => {
    for (const accept of [CHROME, FIREFOX, SAFARI]) {
      assert.equal(isBrowserNavigation('GET', accept), true, accept);
      assert.equal(isBrowserNavigation('HEAD', accept), true, accept);
    }
  });
  test('methods other than GET and HEAD are never navigations', () => {
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'get']) assert.equal(isBrowserNavigation(m, 'text/html'), false, m);
  });
  test('no Accept header, wildcards and JSON clients are not navigations', () => {
    assert.equal(isBrowserNavigation('GET', undefined), false);
    assert.equal(isBrowserNavigation('GET', ''), false);
    assert.equal(isBrowserNavigation('GET', '*/*'), false);
    assert.equal(isBrowserNavigation('GET', 'text/*'), false);
    assert.equal(isBrowserNavigation('GET', 'application/json'), false);
    assert.equal(isBrowserNavigation('GET', 'application/json, text/plain, */*'), false);
  });
  test('q-values decide between text/html and application/json', () => {
    assert.equal(isBrowserNavigation('GET', 'application/json, text/html;q=0.5'), false);
    assert.equal(isBrowserNavigation('GET', 'text/html;q=0.5, application/json;q=0.4'), true);
    assert.equal(isBrowserNavigation('GET', 'text/html;q=0.5, application/json;q=0.5'), true, 'a tie favours html');
    assert.equal(isBrowserNavigation('GET', 'application/json;q=0.9, text/html'), true);
    assert.equal(isBrowserNavigation('GET', 'text/html; q=0.2 , application/json ; q=0.3'), false);
  });
  test('text/html with q=0 is refused, not preferred', () => {
    assert.equal(isBrowserNavigation('GET', 'text/html;q=0'), false);
    assert.equal(isBrowserNavigation('GET', 'text/html;q=0, */*'), false);
  });
  test('media types compare case-insensitively; other parameters are ignored', () => {
    assert.equal(isBrowserNavigation('GET', 'TEXT/HTML'), true);
    assert.equal(isBrowserNavigation('GET', 'text/html; charset=utf-8'), true);
    assert.equal(isBrowserNavigation('GET', 'text/html;level=1;q=0.7, application/json;q=0.6'), true);
  });
  test('a malformed q-value does not make html preferred', () => {
    assert.equal(isBrowserNavigation('GET', 'text/html;q=abc'), false);
    assert.equal(isBrowserNavigation('GET', 'text/html;q'), false);
  });
  test('the best q of repeated entries counts', () => {
    assert.equal(isBrowserNavigation('GET', 'text/html;q=0.1, application/json;q=0.5, text/html;q=0.9'), true);
  });
  test('text/htmlx and similar are not text/html', () => {
    assert.equal(isBrowserNavigation('GET', 'text/htmlx'), false);
    assert.equal(isBrowserNavigation('GET', 'application/xhtml+xml'), false);
  });
});

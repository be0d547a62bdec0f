import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.js';
import { withDerivedKratosDefaults } from '../../../src/embedded-kratos-defaults.js';

/** The parts of a kratos.yml these tests read. */
type KratosYml = {
  serve: { public: { base_url: string } };
  selfservice: {
    default_browser_return_url: string;
    whitelisted_return_urls: string[];
    flows: { login: { ui_url: string }; error: { ui_url: string }; logout: { after: { default_browser_return_url: string } } };
  };
};

const gateway = parseConfig({ proxy: { public_base_url: 'http://127.0.0.1:5555' }, ui: { prefix: '/auth' } });

test('the embedded identity server follows the gateway origin when kratos.yml leaves URLs unset', () => {
  const c = withDerivedKratosDefaults({ secrets: { cookie: ['x'] } }, gateway) as KratosYml;
  assert.equal(c.serve.public.base_url, 'http://127.0.0.1:5555/.ory/kratos/public/');
  assert.equal(c.selfservice.default_browser_return_url, 'http://127.0.0.1:5555/');
  assert.equal(c.selfservice.flows.login.ui_url, 'http://127.0.0.1:5555/auth/login');
  assert.equal(c.selfservice.flows.error.ui_url, 'http://127.0.0.1:5555/auth/error');
  assert.equal(c.selfservice.flows.logout.after.default_browser_return_url, 'http://127.0.0.1:5555/auth/login');
  assert.deepEqual(c.selfservice.whitelisted_return_urls, ['http://127.0.0.1:5555']);
});

test('values set in kratos.yml win, and the gateway origin is added to the return allow-list once', () => {
  const raw = {
    serve: { public: { base_url: 'https://id.example/' } },
    selfservice: { whitelisted_return_urls: ['https://app.example'], flows: { login: { ui_url: 'https://app.example/login' } } },
  };
  const c = withDerivedKratosDefaults(raw, gateway) as KratosYml;
  assert.equal(c.serve.public.base_url, 'https://id.example/');
  assert.equal(c.selfservice.flows.login.ui_url, 'https://app.example/login');
  assert.deepEqual(c.selfservice.whitelisted_return_urls, ['https://app.example', 'http://127.0.0.1:5555']);
  assert.equal(raw.selfservice.whitelisted_return_urls.length, 1, 'the input object is not mutated');
  const again = withDerivedKratosDefaults(c, gateway) as KratosYml;
  assert.deepEqual(again.selfservice.whitelisted_return_urls, ['https://app.example', 'http://127.0.0.1:5555']);
});

/**
 * policyWarnings: a valid policy whose `all` checks a verified address and compares an address
 * trait in separate conditions is warned about (the two may hold on different addresses); the
 * binding form and unrelated combinations are not.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { policyWarnings } from '../../../src/config/policy-lint.js';
import { parseConfig } from '../../../src/config/load.js';

const EMAILS = 'identity.traits.emails';
const corp = { path: EMAILS, ends_with: '@corp.example' };

function warnings(...policies: unknown[]): string[] {
  const config = parseConfig({
    routes: policies.map((policy, i) => ({ name: `r${i}`, match: { path_prefix: `/r${i}` }, upstream: 'http://127.0.0.1:1', policy })),
  });
  return policyWarnings(config.routes);
}

describe('route policy warnings', () => {
  test('a comparison on a trait and verified_address: any (or on that trait) in one all', () => {
    const [any, same] = [
      warnings({ all: [corp, { verified_address: 'any' }] }),
      warnings({ all: [{ aal: 'aal2' }, { verified_address: EMAILS }, corp] }),
    ];
    assert.equal(any.length, 1, JSON.stringify(any));
    assert.match(
      any[0]!,
      /^routes\.0\.policy\.all\.0 \(ends_with on identity\.traits\.emails\) and routes\.0\.policy\.all\.1 \(verified_address: any\)/,
    );
    assert.match(any[0]!, /write \{ verified_address: \{ path: identity\.traits\.emails, ends_with: … \} \}/);
    assert.equal(same.length, 1, JSON.stringify(same));
    assert.match(
      same[0]!,
      /^routes\.0\.policy\.all\.2 \(ends_with on identity\.traits\.emails\) and routes\.0\.policy\.all\.1 \(verified_address: identity\.traits\.emails\)/,
    );
  });

  test('nested: an all inside an all is one requirement; an all inside an any is its own', () => {
    const nested = warnings({ all: [{ all: [{ path: EMAILS, matches: '@corp' }] }, { verified_address: 'any' }] });
    assert.equal(nested.length, 1, JSON.stringify(nested));
    assert.match(nested[0]!, /^routes\.0\.policy\.all\.0\.all\.0 \(matches on identity\.traits\.emails\) and routes\.0\.policy\.all\.1 /);
    const inAny = warnings({
      any: [{ schema_id: 'x' }, { all: [{ path: EMAILS, one_of: ['a@corp.example'] }, { verified_address: 'any' }] }],
    });
    assert.equal(inAny.length, 1, JSON.stringify(inAny));
    assert.match(
      inAny[0]!,
      /^routes\.0\.policy\.any\.1\.all\.0 \(one_of on identity\.traits\.emails\) and routes\.0\.policy\.any\.1\.all\.1 /,
    );
  });

  test('through an any: a comparison or a verified_address that one branch requires together with the other side', () => {
    const cmpInAny = warnings({ all: [{ any: [corp, { schema_id: 'x' }] }, { verified_address: 'any' }] });
    assert.equal(cmpInAny.length, 1, JSON.stringify(cmpInAny));
    assert.match(
      cmpInAny[0]!,
      /^routes\.0\.policy\.all\.0\.any\.0 \(ends_with on identity\.traits\.emails\) and routes\.0\.policy\.all\.1 /,
    );
    const verifiedInAny = warnings({
      all: [corp, { any: [{ aal: 'aal2' }, { all: [{ verified_address: EMAILS }, { schema_id: 'x' }] }] }],
    });
    assert.equal(verifiedInAny.length, 1, JSON.stringify(verifiedInAny));
    assert.match(
      verifiedInAny[0]!,
      /^routes\.0\.policy\.all\.0 \(ends_with on identity\.traits\.emails\) and routes\.0\.policy\.all\.1\.any\.1\.all\.0 /,
    );
  });

  test('a verified_address mapping next to a separate comparison on its trait (or with no path) in one all', () => {
    const [withPath, withoutPath] = [
      warnings({ all: [{ verified_address: { path: EMAILS, matches: '^ceo@' } }, corp] }),
      warnings({ all: [corp, { verified_address: { matches: '^ceo@' } }] }),
    ];
    assert.equal(withPath.length, 1, JSON.stringify(withPath));
    assert.match(
      withPath[0]!,
      /^routes\.0\.policy\.all\.1 \(ends_with on identity\.traits\.emails\) and routes\.0\.policy\.all\.0 \(verified_address with matches on identity\.traits\.emails\)/,
    );
    assert.match(withPath[0]!, /one verified_address mapping/);
    assert.equal(withoutPath.length, 1, JSON.stringify(withoutPath));
    assert.match(withoutPath[0]!, /\(verified_address with matches\)/);
  });

  test('a verified_address ends_with that starts with neither @ nor . admits other domains', () => {
    const [domain, address] = [
      warnings({ verified_address: { ends_with: 'corp.example' } }),
      warnings({ all: [{ aal: 'aal2' }, { verified_address: { path: EMAILS, ends_with: 'ceo@corp.example' } }] }),
    ];
    assert.deepEqual(domain, [
      'routes.0.policy.verified_address.ends_with: "corp.example" starts with neither "@" nor ".", so it also admits addresses that merely end with it, such as "a@xcorp.example"; write "@corp.example" for that domain, ".corp.example" for its subdomains, or equals for one address',
    ]);
    assert.equal(address.length, 1, JSON.stringify(address));
    assert.match(address[0]!, /^routes\.0\.policy\.all\.1\.verified_address\.ends_with: .* such as "xceo@corp\.example"/);
  });

  test('not warned: the binding form, alternatives, another trait, metadata_public, no verified_address', () => {
    assert.deepEqual(
      warnings(
        { verified_address: { ends_with: '@corp.example' } },
        { all: [{ verified_address: { path: EMAILS, ends_with: '@corp.example' } }, { aal: 'aal2' }] },
        { any: [corp, { verified_address: 'any' }] },
        { all: [{ any: [corp, { verified_address: 'any' }] }, { aal: 'aal2' }] },
        { any: [{ verified_address: { ends_with: '@corp.example' } }, { verified_address: { ends_with: '.corp.example' } }] },
        { all: [corp, { verified_address: 'identity.traits.backup' }] },
        { all: [{ path: 'identity.metadata_public.role', equals: 'admin' }, { verified_address: 'any' }] },
        { all: [corp, { aal: 'aal2' }] },
        { aal: 'aal2' },
      ),
      [],
    );
  });
});

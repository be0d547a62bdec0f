/**
 * kratos_instances (src/config/kratos-instances.ts, src/gateway/tenancy/tenant-table.ts): which
 * hosts an instance answers, and the sets of instances that are configuration errors, each
 * named by key path.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../../src/config/load.js';
import { applyEnvOverrides } from '../../../src/config/env.js';
import { TenantTable } from '../../../src/gateway/tenancy/tenant-table.js';

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail(`expected ${JSON.stringify(raw)} to be rejected`);
}

const instance = (hosts: string[], port: number) => ({ public_url: `http://kratos-${port}:4433`, hosts });

describe('kratos_instances: valid sets and defaults', () => {
  test('defaults follow the top-level kratos block: ory_kratos_session, 1000 ms', () => {
    const c = parseConfig({ kratos_instances: { acme: instance(['a.example.com'], 1) } });
    assert.deepEqual(c.kratos_instances.acme, {
      public_url: 'http://kratos-1:4433',
      hosts: ['a.example.com'],
      session_cookie: 'ory_kratos_session',
      whoami_timeout_ms: 1000,
    });
    assert.deepEqual(parseConfig({}).kratos_instances, {});
  });

  test('disjoint wildcards and exact hosts of several instances are accepted', () => {
    const c = parseConfig({
      kratos_instances: {
        acme: instance(['*.acme.example.com', 'acme.example.com'], 1),
        beta: instance(['*.beta.example.com', 'beta.test'], 2),
      },
    });
    assert.deepEqual(Object.keys(c.kratos_instances), ['acme', 'beta']);
  });

  test('an instance is set from the environment like any key (the name lower-cased, as env segments are)', () => {
    const raw = applyEnvOverrides(
      {},
      {
        KRATOS_GATEWAY_KRATOS_INSTANCES__ACME__PUBLIC_URL: 'http://kratos-acme:4433',
        KRATOS_GATEWAY_KRATOS_INSTANCES__ACME__HOSTS: '[a.example.com]',
        KRATOS_GATEWAY_KRATOS_INSTANCES__ACME__WHOAMI_TIMEOUT_MS: '250',
      },
    );
    const c = parseConfig(raw);
    assert.deepEqual(c.kratos_instances.acme?.hosts, ['a.example.com']);
    assert.equal(c.kratos_instances.acme?.whoami_timeout_ms, 250);
  });
});

describe('kratos_instances: configuration errors', () => {
  test('the same exact host in two instances (any letter case)', () => {
    assert.deepEqual(problems({ kratos_instances: { acme: instance(['a.example.com'], 1), beta: instance(['A.Example.com'], 2) } }), [
      'kratos_instances.beta.hosts.0: "A.Example.com" overlaps kratos_instances.acme.hosts.0 ("a.example.com"): a host must have one Kratos',
    ]);
  });

  test('a wildcard covering another instance exact host, in either order', () => {
    assert.deepEqual(problems({ kratos_instances: { acme: instance(['*.example.com'], 1), beta: instance(['x.y.example.com'], 2) } }), [
      'kratos_instances.beta.hosts.0: "x.y.example.com" overlaps kratos_instances.acme.hosts.0 ("*.example.com"): a host must have one Kratos',
    ]);
    assert.deepEqual(problems({ kratos_instances: { acme: instance(['x.example.com'], 1), beta: instance(['*.example.com'], 2) } }), [
      'kratos_instances.beta.hosts.0: "*.example.com" overlaps kratos_instances.acme.hosts.0 ("x.example.com"): a host must have one Kratos',
    ]);
  });

  test('a wildcard covering another wildcard', () => {
    assert.deepEqual(problems({ kratos_instances: { acme: instance(['*.example.com'], 1), beta: instance(['*.b.example.com'], 2) } }), [
      'kratos_instances.beta.hosts.0: "*.b.example.com" overlaps kratos_instances.acme.hosts.0 ("*.example.com"): a host must have one Kratos',
    ]);
  });

  test('not overlaps: *.example.com and example.com or evil-example.com; *.a.test and *.b.test', () => {
    const c = parseConfig({
      kratos_instances: {
        acme: instance(['*.example.com', '*.a.test'], 1),
        beta: instance(['example.com', 'evil-example.com', '*.b.test'], 2),
      },
    });
    assert.equal(Object.keys(c.kratos_instances).length, 2);
  });

  test('an instance name that is not a safe identifier, and "default" (the top-level kratos label)', () => {
    assert.deepEqual(problems({ kratos_instances: { 'Acme-1': instance(['a.test'], 1), default: instance(['b.test'], 2) } }), [
      'kratos_instances.Acme-1: an instance name is a lower-case letter, then up to 31 lower-case letters, digits or "_"',
      'kratos_instances.default: "default" names the top-level kratos; choose another name',
    ]);
  });

  test('two instances, or an instance and the top-level kratos, at the same Kratos', () => {
    assert.deepEqual(
      problems({
        kratos: { public_url: 'http://kratos:4433' },
        kratos_instances: {
          acme: { public_url: 'http://kratos:4433/', hosts: ['a.test'] },
          beta: { public_url: 'http://b:1', hosts: ['b.test'] },
          gamma: { public_url: 'http://b:1', hosts: ['c.test'] },
        },
      }),
      [
        'kratos_instances.acme.public_url: the same Kratos as kratos.public_url (one Kratos per instance: identity ids and sessions are per Kratos)',
        'kratos_instances.gamma.public_url: the same Kratos as kratos_instances.beta.public_url (one Kratos per instance: identity ids and sessions are per Kratos)',
      ],
    );
  });

  test('an instance needs its public_url and at least one host; hosts carry no port', () => {
    assert.deepEqual(problems({ kratos_instances: { acme: { hosts: [] } } }), [
      'kratos_instances.acme.public_url: expected string, received undefined',
      'kratos_instances.acme.hosts: Too small: expected array to have >=1 items',
    ]);
    assert.deepEqual(problems({ kratos_instances: { acme: { public_url: 'http://a:1', hosts: ['a.test:8080'] } } }), [
      'kratos_instances.acme.hosts.0: must be a host name or *.suffix, without port',
    ]);
  });
});

describe('host → instance table', () => {
  const table = new TenantTable(
    parseConfig({ kratos_instances: { acme: instance(['a.example.com', '*.acme.test'], 1), beta: instance(['B.example.com'], 2) } })
      .kratos_instances,
  );
  const name = (host: string | undefined) => table.match(host)?.name;

  test('exact hosts: any letter case, port and a trailing dot ignored', () => {
    assert.equal(name('a.example.com'), 'acme');
    assert.equal(name('A.EXAMPLE.com:8443'), 'acme');
    assert.equal(name('a.example.com.'), 'acme');
    assert.equal(name('b.example.com'), 'beta');
  });

  test('*.suffix is one or more labels, never the suffix itself or a name merely ending in it', () => {
    assert.equal(name('x.acme.test'), 'acme');
    assert.equal(name('x.y.acme.test:80'), 'acme');
    assert.equal(name('acme.test'), undefined);
    assert.equal(name('evil-acme.test'), undefined);
    assert.equal(name('xacme.test'), undefined);
  });

  test('every other host (or none) is the top-level kratos', () => {
    assert.equal(name('example.com'), undefined);
    assert.equal(name('127.0.0.1:4455'), undefined);
    assert.equal(name(undefined), undefined);
    assert.equal(name('[::1]:4455'), undefined);
  });
});

/**
 * The Helm chart, checked without helm (none is installable on this machine; `helm lint`
 * and `helm template` run elsewhere): values.yaml and every example values file against
 * values.schema.json with ajv (helm enforces the same schema at install time), values
 * that must be rejected, every `.Values.…` path a template reads present in values.yaml,
 * template block structure, and the chart's invariants (drain time, security context,
 * ports shared with the Dockerfile and the gateway's config defaults).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { configSchema } from '../../../src/config/schema.js';
import { chartDir, repoRoot, readValuesSchema, gatewayConfigJsonSchema, mergeValues } from './values-schema.js';
import { parseDockerfile, stages } from './dockerfile-parse.js';
import { typeCheck, type TypedValue } from './k8s-typecheck.js';
import { aclCommandIn } from './acl-command.js';

type Json = Record<string, unknown>;
const readYaml = (path: string) => parseYaml(readFileSync(path, 'utf8')) as Json;
const clone = <T>(v: T): T => structuredClone(v);

const chartValues = readYaml(join(chartDir, 'values.yaml'));
/** image.repository has no default (no public image): every install provides one, so do the tests. */
const testImage = { image: { repository: 'registry.example.com/platform/kratos-gateway' } };
const values = mergeValues(chartValues, testImage) as Json;
const exampleDir = join(chartDir, 'examples');
const exampleFiles = readdirSync(exampleDir).filter((f) => f.endsWith('.yaml'));
const templatesDir = join(chartDir, 'templates');
// Helm renders subdirectories too (templates/tests/).
const templateFiles = (readdirSync(templatesDir, { recursive: true }) as string[]).filter((f) => statSync(join(templatesDir, f)).isFile());
const template = (name: string) => readFileSync(join(templatesDir, name), 'utf8');
const schema = readValuesSchema();

const ajv = new Ajv({ allErrors: true, strict: true });
const validateValues = ajv.compile(schema);

const merge = mergeValues;
const effective = (file: string) => merge(values, readYaml(join(exampleDir, file))) as Json;
const errorsOf = (v: unknown): ErrorObject[] => (validateValues(v) ? [] : (validateValues.errors ?? []));
const describeErrors = (errs: ErrorObject[]) => errs.map((e) => `${e.instancePath} ${e.message}`).join('; ');

describe('values.schema.json (ajv)', () => {
  it('values.yaml is valid once image.repository is given', () => {
    assert.deepEqual(describeErrors(errorsOf(values)), '');
  });

  it('values.yaml alone is refused for the missing image.repository, and for nothing else', () => {
    const errs = errorsOf(chartValues);
    assert.deepEqual(
      errs.map((e) => e.instancePath),
      ['/image/repository'],
    );
    assert.deepEqual(describeErrors(errorsOf(mergeValues(chartValues, { image: { repository: 'kratos-gateway' } }))), '');
  });

  for (const file of exampleFiles) {
    // Helm validates the merged values, so that is what is checked; unknown keys in the
    // example still fail (additionalProperties: false).
    it(`examples/${file} merged over values.yaml is valid`, () => {
      assert.deepEqual(describeErrors(errorsOf(effective(file))), '');
    });
  }

  const bad: Array<[string, (v: Json) => void, string]> = [
    ['an unknown mode', (v) => (v['mode'] = 'daemonset'), '/mode'],
    ['an unknown top-level key', (v) => (v['replicas'] = 3), ''],
    ['a port out of range', (v) => ((v['ports'] as Json)['proxy'] = 70000), '/ports/proxy'],
    ['a port given as a string', (v) => ((v['ports'] as Json)['admin'] = '4456'), '/ports/admin'],
    ['root allowed in the pod', (v) => ((v['podSecurityContext'] as Json)['runAsNonRoot'] = false), '/podSecurityContext/runAsNonRoot'],
    [
      'privilege escalation',
      (v) => ((v['securityContext'] as Json)['allowPrivilegeEscalation'] = true),
      '/securityContext/allowPrivilegeEscalation',
    ],
    ['an externally exposed admin Service', (v) => ((v['adminService'] as Json)['type'] = 'LoadBalancer'), '/adminService/type'],
    ['a misspelt gateway config key', (v) => (((v['config'] as Json)['kratos'] as Json)['publicUrl'] = 'http://kratos'), '/config/kratos'],
    [
      'a gateway config value of the wrong type',
      (v) => (((v['config'] as Json)['kratos'] as Json)['whoami_timeout_ms'] = '1s'),
      '/config/kratos/whoami_timeout_ms',
    ],
    ['a config without routes', (v) => delete (v['config'] as Json)['routes'], '/config'],
    ['an empty route table', (v) => ((v['config'] as Json)['routes'] = []), '/config/routes'],
    [
      'the embedded identity server',
      (v) => ((v['config'] as Json)['embedded_kratos'] = { enabled: true }),
      '/config/embedded_kratos/enabled',
    ],
    [
      'a route with an unknown auth mode',
      (v) => ((((v['config'] as Json)['routes'] as Json[])[0] as Json)['auth'] = 'maybe'),
      '/config/routes/0/auth',
    ],
    [
      'an invalid identity header name',
      (v) => (((v['config'] as Json)['identity_headers'] as Json)['X User'] = 'identity.id'),
      '/config/identity_headers',
    ],
    [
      'an unknown topology spread policy',
      (v) => (((v['topologySpreadConstraints'] as Json[])[0] as Json)['whenUnsatisfiable'] = 'Maybe'),
      '/topologySpreadConstraints/0/whenUnsatisfiable',
    ],
    ['a bad scrape interval', (v) => ((v['serviceMonitor'] as Json)['interval'] = 'often'), '/serviceMonitor/interval'],
    ['a selector on the ServiceMonitor', (v) => ((v['serviceMonitor'] as Json)['selectorLabels'] = { a: 'b' }), '/serviceMonitor'],
    [
      'a bad ingress pathType',
      (v) => ((((v['ingress'] as Json)['hosts'] as Json[])[0] as Json)['paths'] = [{ path: '/', pathType: 'Glob' }]),
      '/ingress/hosts/0/paths/0/pathType',
    ],
    ['a non-numeric image digest', (v) => ((v['image'] as Json)['digest'] = 'latest'), '/image/digest'],
    [
      'a shared-cache URL that is not redis:// or rediss://',
      (v) => (((v['sharedCache'] as Json)['redis'] as Json)['url'] = 'http://redis:6379'),
      '/sharedCache/redis/url',
    ],
    [
      'both a shared-cache URL and an existing Secret for it',
      (v) => Object.assign((v['sharedCache'] as Json)['redis'] as Json, { url: 'redis://redis:6379', existingSecret: 'redis' }),
      '/sharedCache/redis',
    ],
    [
      'a misspelt sharedCache key',
      (v) => (((v['sharedCache'] as Json)['redis'] as Json)['existingSecretName'] = 'redis'),
      '/sharedCache/redis',
    ],
    [
      'a password Secret name that is not a Kubernetes name',
      (v) => (((v['sharedCache'] as Json)['redis'] as Json)['passwordSecret'] = { name: 'Redis_PW', key: 'password' }),
      '/sharedCache/redis/passwordSecret/name',
    ],
    ['a non-numeric worker count', (v) => (((v['config'] as Json)['proxy'] as Json)['workers'] = 'all'), '/config/proxy/workers'],
  ];
  for (const [what, mutate, path] of bad) {
    it(`rejects ${what}`, () => {
      const v = clone(values);
      mutate(v);
      const errs = errorsOf(v);
      assert.ok(errs.length > 0, 'expected a schema error');
      assert.ok(
        errs.some((e) => e.instancePath === path || e.instancePath.startsWith(path + '/')),
        `expected an error at ${path}, got: ${describeErrors(errs)}`,
      );
    });
  }

  it('accepts every way of giving the shared cache its Redis', () => {
    for (const redis of [
      { url: 'redis://redis.data.svc:6379' },
      { url: 'rediss://kratos-gateway:pw@redis.data.svc:6380/2' },
      { existingSecret: 'platform-redis', existingSecretKey: 'url' },
      { existingSecret: 'platform-redis', passwordSecret: { name: 'platform-redis-pw', key: 'password' } },
    ]) {
      assert.deepEqual(describeErrors(errorsOf(merge(values, { sharedCache: { redis } }))), '', JSON.stringify(redis));
    }
  });

  it('embeds the gateway config schema generated from src/config/schema.ts (regenerate: node --import tsx test/unit/deploy/values-schema.ts --write)', () => {
    assert.deepEqual(schema.definitions['gatewayConfig'], gatewayConfigJsonSchema());
  });
});

describe('chart configuration is a valid gateway configuration', () => {
  const cases: Array<[string, Json]> = [
    ['values.yaml', values],
    ...exampleFiles.map((f): [string, Json] => [`examples/${f}`, effective(f)]),
  ];
  for (const [name, v] of cases) {
    it(`${name}: config passes the gateway's own schema with the chart's listener overrides`, () => {
      const ports = v['ports'] as { proxy: number; admin: number };
      const raw = merge(v['config'], {
        proxy: { listen: { host: '0.0.0.0', port: ports.proxy } },
        admin: { listen: { host: '0.0.0.0', port: ports.admin } },
      });
      const cfg = configSchema.parse(raw);
      assert.equal(cfg.embedded_kratos.enabled, false);
      assert.equal(cfg.demo_upstream.enabled, false);
      assert.ok(cfg.routes.length > 0);
      assert.notEqual(cfg.proxy.listen.port, cfg.admin.listen.port);
    });

    it(`${name}: terminationGracePeriodSeconds exceeds the preStop sleep plus the drain period`, () => {
      const cfg = configSchema.parse(v['config']);
      const grace = v['terminationGracePeriodSeconds'] as number;
      const preStop = v['preStopSleepSeconds'] as number;
      assert.ok(grace * 1000 > preStop * 1000 + cfg.proxy.shutdown_grace_ms, `${grace}s vs ${preStop}s + ${cfg.proxy.shutdown_grace_ms}ms`);
    });
  }

  it('the sidecar example proxies to the application on loopback and renders no Deployment', () => {
    const v = effective('values-sidecar.yaml');
    assert.equal(v['mode'], 'sidecar');
    const cfg = configSchema.parse(v['config']);
    for (const r of cfg.routes) assert.match(r.upstream, /^http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(Object.keys((v['podMonitor'] as Json)['selectorLabels'] as Json).length > 0, 'sidecar scraping needs the app pod labels');
    assert.match(template('deployment.yaml'), /^\{\{- if eq \.Values\.mode "deployment" \}\}/);
  });
});

describe('examples/values-fleet.yaml', () => {
  const fleet = effective('values-fleet.yaml');
  const text = readFileSync(join(exampleDir, 'values-fleet.yaml'), 'utf8');
  it('runs more than one pod with a shared cache from an existing Secret, and a number of workers equal to the CPU limit', () => {
    const cfg = configSchema.parse(fleet['config']);
    assert.equal((fleet['autoscaling'] as Json)['enabled'], true);
    const redis = (fleet['sharedCache'] as Json)['redis'] as Json;
    assert.ok(redis['existingSecret'], 'the URL comes from a Secret the user manages');
    assert.equal(cfg.session_cache.shared.redis_url, undefined, 'never in the ConfigMap');
    assert.equal(typeof cfg.proxy.workers, 'number', 'not auto');
    assert.equal(String(((fleet['resources'] as Json)['limits'] as Json)['cpu']), String(cfg.proxy.workers));
    assert.ok(cfg.session_cache.revalidate_after_ms !== undefined && cfg.session_cache.revalidate_after_ms < cfg.session_cache.ttl_cap_ms);
  });

  it('the ACL user it shows is confined to the configured key prefix, for keys and channels', () => {
    const prefix = configSchema.parse(fleet['config']).session_cache.shared.key_prefix;
    const acl = aclCommandIn(text, /^#/).split(/\s+/);
    assert.ok(acl.includes(`~${prefix}*`), acl.join(' '));
    assert.ok(acl.includes(`&${prefix}*`), acl.join(' '));
    assert.ok(acl.includes('resetchannels'), 'channels start from none, also where acl-pubsub-default is allchannels');
    assert.ok(!acl.some((a) => a === 'allkeys' || a === '~*' || a === 'allchannels' || a === '&*' || a === '+@all' || a === '+@dangerous'));
    // The URL in the example Secret names that user and no password (the password is the mounted file).
    assert.match(text, /redis-url=redis:\/\/kratos-gateway@[^\s:]+:\d+/);
  });

  it('docs/fleet.md shows the same ACL command', () => {
    const docs = readFileSync(join(repoRoot, 'docs/fleet.md'), 'utf8');
    assert.equal(aclCommandIn(docs), aclCommandIn(text, /^#/));
  });
});

describe('Kubernetes objects passed through from values', () => {
  // Values copied verbatim into the pod spec (toYaml) must be valid Kubernetes objects:
  // type-checked against kubernetes-models' interfaces, which reject misspelt keys.
  const passThrough: Array<[string, string, string]> = [
    ['securityContext', 'v1/SecurityContext', 'ISecurityContext'],
    ['podSecurityContext', 'v1/PodSecurityContext', 'IPodSecurityContext'],
    ['resources', 'v1/ResourceRequirements', 'IResourceRequirements'],
    ['tolerations', 'v1/Toleration', 'IToleration[]'],
    ['affinity', 'v1/Affinity', 'IAffinity'],
    ['extraEnv', 'v1/EnvVar', 'IEnvVar[]'],
    ['extraVolumes', 'v1/Volume', 'IVolume[]'],
    ['extraVolumeMounts', 'v1/VolumeMount', 'IVolumeMount[]'],
    ['imagePullSecrets', 'v1/LocalObjectReference', 'ILocalObjectReference[]'],
    ['updateStrategy', 'apps/v1/DeploymentStrategy', 'IDeploymentStrategy'],
    ['topologySpreadConstraints', 'v1/TopologySpreadConstraint', 'ITopologySpreadConstraint[]'],
    ['ingress.tls', 'networking.k8s.io/v1/IngressTLS', 'IIngressTLS[]'],
    ['networkPolicy.proxyFrom', 'networking.k8s.io/v1/NetworkPolicyPeer', 'INetworkPolicyPeer[]'],
    ['networkPolicy.adminFrom', 'networking.k8s.io/v1/NetworkPolicyPeer', 'INetworkPolicyPeer[]'],
  ];
  it('values.yaml and every example, merged, type-check against the Kubernetes types', () => {
    const checks: TypedValue[] = [];
    for (const [name, v] of [['values.yaml', values] as const, ...exampleFiles.map((f) => [`examples/${f}`, effective(f)] as const)]) {
      for (const [path, module, type] of passThrough) {
        const value = path.split('.').reduce<unknown>((node, k) => (node as Json)[k], v);
        assert.notEqual(value, undefined, `${name}: ${path}`);
        checks.push({ module: `kubernetes-models/${module}`, type, value, label: `${name}: ${path}` });
      }
    }
    checks.push({
      module: 'kubernetes-models/v1/SecurityContext',
      type: 'ISecurityContext',
      value: { readOnlyRootFileSystem: true },
      label: 'deliberate typo',
    });
    const diagnostics = typeCheck(checks);
    assert.equal(diagnostics.filter((d) => d.startsWith('deliberate typo:')).length, 1, diagnostics.join('\n'));
    assert.deepEqual(
      diagnostics.filter((d) => !d.startsWith('deliberate typo:')),
      [],
    );
  });
});

describe('values.yaml defaults', () => {
  const defaults = configSchema.parse({});

  it('container ports equal the gateway defaults and the Dockerfile EXPOSE', () => {
    const ports = values['ports'] as { proxy: number; admin: number };
    assert.equal(ports.proxy, defaults.proxy.listen.port);
    assert.equal(ports.admin, defaults.admin.listen.port);
    const df = stages(parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8')));
    const exposed = df[df.length - 1]!.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.words.map(Number));
    assert.deepEqual(exposed.sort(), [ports.proxy, ports.admin].sort());
  });

  it('hardened security context: non-root uid of the image, read-only root, no capabilities, RuntimeDefault seccomp', () => {
    const pod = values['podSecurityContext'] as Json;
    const ctr = values['securityContext'] as Json;
    const user = parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'))
      .filter((i) => i.keyword === 'USER')
      .pop()!;
    assert.equal(pod['runAsNonRoot'], true);
    assert.equal(String(pod['runAsUser']), user.raw.split(':')[0]);
    assert.deepEqual(pod['seccompProfile'], { type: 'RuntimeDefault' });
    assert.equal(ctr['runAsNonRoot'], true);
    assert.equal(ctr['readOnlyRootFilesystem'], true);
    assert.equal(ctr['allowPrivilegeEscalation'], false);
    assert.deepEqual(ctr['capabilities'], { drop: ['ALL'] });
    assert.deepEqual(ctr['seccompProfile'], { type: 'RuntimeDefault' });
  });

  it('resources, topology spread, PDB and probes are set', () => {
    const res = values['resources'] as Json;
    assert.ok((res['requests'] as Json)['cpu'] && (res['requests'] as Json)['memory'] && (res['limits'] as Json)['memory']);
    const spread = values['topologySpreadConstraints'] as Json[];
    assert.deepEqual(spread.map((s) => s['topologyKey']).sort(), ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    assert.equal((values['podDisruptionBudget'] as Json)['enabled'], true);
    assert.ok((values['replicaCount'] as number) >= 2, 'a PDB with one replica would block node drains');
    const helpers = template('_helpers.tpl');
    assert.match(helpers, /livenessProbe:\n\s+httpGet:\n\s+path: \/health\/alive\n\s+port: kg-admin/);
    assert.match(helpers, /readinessProbe:\n\s+httpGet:\n\s+path: \/health\/ready\n\s+port: kg-admin/);
    assert.match(helpers, /startupProbe:\n\s+httpGet:\n\s+path: \/health\/alive\n\s+port: kg-admin/);
  });
});

/** Leaf-or-branch paths `a.b.c` present in a values tree. */
function hasPath(tree: unknown, path: string[]): boolean {
  let node: unknown = tree;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !(key in (node as Json))) return false;
    node = (node as Json)[key];
  }
  return true;
}

describe('templates', () => {
  const all = templateFiles.map((f) => [f, template(f)] as const);

  it('every .Values path a template reads exists in values.yaml', () => {
    const missing: string[] = [];
    let count = 0;
    for (const [file, text] of all) {
      for (const m of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        count++;
        const path = m[1]!.slice(1).split('.');
        if (!hasPath(values, path)) missing.push(`${file}: .Values.${path.join('.')}`);
      }
    }
    assert.ok(count > 50, `found ${count} .Values references`);
    assert.deepEqual(missing, []);
  });

  it('every top-level value is used by some template', () => {
    const text = all.map(([, t]) => t).join('\n');
    const unused = Object.keys(values).filter((k) => !new RegExp(`\\.Values\\.${k}\\b`).test(text));
    assert.deepEqual(unused, []);
  });

  it('blocks are balanced and every include names a defined template', () => {
    const defined = new Set<string>();
    for (const [, text] of all) for (const m of text.matchAll(/\{\{-?\s*define\s+"([^"]+)"/g)) defined.add(m[1]!);
    for (const [file, text] of all) {
      const actions = [...text.replace(/\{\{\/\*[\s\S]*?\*\/\}\}/g, '').matchAll(/\{\{-?\s*([\s\S]*?)\s*-?\}\}/g)].map((m) => m[1]!);
      let depth = 0;
      for (const a of actions) {
        if (/^(if|range|with|define|block)\b/.test(a)) depth++;
        else if (/^end\b/.test(a)) depth--;
        assert.ok(depth >= 0, `${file}: {{ end }} without an opening block`);
      }
      assert.equal(depth, 0, `${file}: unclosed block`);
      for (const m of text.replace(/\{\{\/\*[\s\S]*?\*\/\}\}/g, '').matchAll(/include\s+"([^"]+)"/g)) {
        assert.ok(defined.has(m[1]!), `${file}: include "${m[1]}" has no define`);
      }
      assert.doesNotMatch(text, /\t/, `${file}: tabs are not valid YAML indentation`);
      const opens = (text.match(/\{\{/g) ?? []).length;
      const closes = (text.match(/\}\}/g) ?? []).length;
      assert.equal(opens, closes, `${file}: unbalanced {{ }}`);
    }
  });

  it('renders every object the chart promises, with the mode guards', () => {
    const kinds = new Map<string, string>();
    for (const [file, text] of all) {
      for (const m of text.matchAll(/^kind: (\w+)$/gm)) kinds.set(m[1]!, file);
    }
    for (const k of [
      'Deployment',
      'Service',
      'ConfigMap',
      'Secret',
      'ServiceAccount',
      'Ingress',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'ServiceMonitor',
      'PodMonitor',
      'NetworkPolicy',
    ]) {
      assert.ok(kinds.has(k), `a template renders ${k}`);
    }
    // Deployment-only objects are guarded by the mode; ConfigMap, Secret and PodMonitor serve both modes.
    for (const f of [
      'deployment.yaml',
      'service.yaml',
      'service-admin.yaml',
      'ingress.yaml',
      'hpa.yaml',
      'pdb.yaml',
      'serviceaccount.yaml',
      'servicemonitor.yaml',
      'networkpolicy.yaml',
      'tests/test-connection.yaml',
    ]) {
      assert.match(template(f).split('\n')[0]!, /eq \.Values\.mode "deployment"/, f);
    }
    assert.match(template('servicemonitor.yaml'), /port: admin\n\s+path: \/metrics/);
    assert.match(template('podmonitor.yaml'), /port: kg-admin\n\s+path: \/metrics/);
    assert.match(template('configmap.yaml'), /gateway\.yaml: \|\n\s+\{\{- toYaml \.Values\.config \| nindent 4 \}\}/);
    assert.ok(templateFiles.includes('NOTES.txt'));
  });

  it('has a helm test hook that checks readiness through the admin Service', () => {
    const t = template('tests/test-connection.yaml');
    assert.match(t, /^kind: Pod$/m);
    assert.match(t, /"helm\.sh\/hook": test$/m);
    assert.match(
      t,
      /-admin\.%s\.svc:%v\/health\/ready" \(include "kratos-gateway\.fullname" \.\) \.Release\.Namespace \.Values\.adminService\.port/,
    );
    // The chart's selector labels would put the test pod behind the Services and the PDB.
    assert.doesNotMatch(t, /include "kratos-gateway\.(selectorLabels|labels)"/);
  });

  it('offers the sidecar container and its volumes as named templates that need only Values and Release', () => {
    const helpers = template('_helpers.tpl');
    assert.match(helpers, /define "kratos-gateway\.sidecarContainer"/);
    assert.match(helpers, /define "kratos-gateway\.sidecarVolumes"/);
    // Everything reachable from the sidecar templates must work with (dict "Values" … "Release" …):
    const body = (name: string) =>
      new RegExp(`\\{\\{-? define "${name.replace(/\./g, '\\.')}" -?\\}\\}([\\s\\S]*?)\\n\\{\\{- end \\}\\}\\n`).exec(helpers)?.[1] ?? '';
    const seen = new Set<string>();
    const queue = ['kratos-gateway.sidecarContainer', 'kratos-gateway.sidecarVolumes'];
    while (queue.length) {
      const name = queue.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      const text = body(name);
      assert.ok(text.length > 0, `define "${name}" found`);
      assert.doesNotMatch(text, /\.(Chart|Template|Capabilities|Files)\b/, `${name} uses only .Values and .Release`);
      for (const m of text.matchAll(/include "([^"]+)"/g)) queue.push(m[1]!);
    }
    assert.ok(seen.has('kratos-gateway.container') && seen.has('kratos-gateway.fullname'));
    // The Deployment uses the same container definition, so both modes run the same thing.
    assert.match(template('deployment.yaml'), /include "kratos-gateway\.container" \. \| nindent 8/);
  });

  it('the docs, NOTES.txt and the helpers comment show the same sidecar include calls', () => {
    const call = (name: string) => `include "${name}" (dict "Values" (index .Values "kratos-gateway") "Release" .Release)`;
    const docs = readFileSync(join(repoRoot, 'docs/deploying.md'), 'utf8');
    for (const name of ['kratos-gateway.sidecarContainer', 'kratos-gateway.sidecarVolumes']) {
      for (const [where, text] of [
        ['docs/deploying.md', docs],
        ['NOTES.txt', template('NOTES.txt')],
        ['_helpers.tpl', template('_helpers.tpl')],
      ] as const) {
        assert.ok(text.includes(call(name)), `${where} shows ${call(name)}`);
      }
    }
  });

  it('the container binds 0.0.0.0 on the configured ports and reads the mounted configuration', () => {
    const helpers = template('_helpers.tpl');
    for (const l of ['PROXY', 'ADMIN']) {
      assert.match(helpers, new RegExp(`name: KRATOS_GATEWAY_${l}__LISTEN__HOST\\n\\s+value: "0\\.0\\.0\\.0"`));
      assert.match(
        helpers,
        new RegExp(`name: KRATOS_GATEWAY_${l}__LISTEN__PORT\\n\\s+value: \\{\\{ \\.Values\\.ports\\.${l.toLowerCase()} \\| quote \\}\\}`),
      );
    }
    assert.match(helpers, /args:\n\s+- --config\n\s+- \/etc\/kratos-gateway\/gateway\.yaml/);
    assert.match(helpers, /mountPath: \/etc\/kratos-gateway\n/);
  });
});

describe('Chart.yaml', () => {
  const chart = readYaml(join(chartDir, 'Chart.yaml'));
  it('names home, sources and maintainers', () => {
    assert.match(String(chart['home']), /^https:\/\//);
    const sources = chart['sources'] as unknown[];
    assert.ok(Array.isArray(sources) && sources.length > 0 && sources.every((u) => /^https:\/\//.test(String(u))));
    const maintainers = chart['maintainers'] as Array<{ name?: unknown }>;
    assert.ok(
      Array.isArray(maintainers) && maintainers.length > 0 && maintainers.every((m) => typeof m.name === 'string' && m.name.length > 0),
    );
  });

  it('is a v2 application chart whose appVersion is the package version and the helpers constant', () => {
    assert.equal(chart['apiVersion'], 'v2');
    assert.equal(chart['name'], 'kratos-gateway');
    assert.equal(chart['type'], 'application');
    assert.match(String(chart['version']), /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    assert.equal(chart['appVersion'], pkg.version);
    assert.match(
      template('_helpers.tpl'),
      new RegExp(`define "kratos-gateway\\.appVersion" -\\}\\}\\n${String(chart['appVersion']).replace(/\./g, '\\.')}\\n`),
    );
  });
});

describe('.helmignore', () => {
  /** .helmignore patterns as helm applies them: a pattern without "/" matches any path component's base name. */
  const patterns = readFileSync(join(chartDir, '.helmignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const toRegExp = (glob: string) =>
    new RegExp(
      '^' +
        glob
          .replace(/\/$/, '')
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]') +
        '$',
    );
  const ignored = (path: string) => patterns.some((p) => path.split('/').some((part) => toRegExp(p).test(part)));

  it('exists and leaves editor and VCS files out', () => {
    for (const junk of [
      '.git/config',
      'values.yaml.swp',
      '.DS_Store',
      'templates/x.yaml~',
      '.vscode/settings.json',
      '.idea/workspace.xml',
    ]) {
      assert.ok(ignored(junk), `${junk} is ignored`);
    }
  });

  it('ignores nothing the chart needs', () => {
    const needed = [
      'Chart.yaml',
      'values.yaml',
      'values.schema.json',
      'README.md',
      ...templateFiles.map((f) => `templates/${f}`),
      ...exampleFiles.map((f) => `examples/${f}`),
    ];
    assert.deepEqual(needed.filter(ignored), []);
  });
});

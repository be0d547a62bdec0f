/**
 * The chart rendered, as close to `helm template` as this machine allows: Go's
 * text/template (Helm's engine) with Helm's include and the Sprig functions the chart
 * uses (helm-render/main.go). Every rendered object is validated with kubernetes-models
 * and type-checked against its Kubernetes interface, and the objects are checked against
 * each other (selectors, port names, mounts, the gateway configuration they produce).
 *
 * Needs `go` (Debian's golang-go, installed by .ci/run).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Pod, type IPod } from 'kubernetes-models/v1/Pod';
import { Ingress, type IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { applyEnvOverrides } from '../../../src/config/env.js';
import { parseConfig } from '../../../src/config/load.js';
import { chartDir, mergeValues } from '../../unit/deploy/values-schema.js';
import { typeCheck, type TypedValue } from '../../unit/deploy/k8s-typecheck.js';
import { cleanupRenderer, manifests, render, type Manifest, type Rendered } from './helm-render.js';
import { execFile } from 'node:child_process';
import { startTestGateway } from '../../helpers/servers.js';

type Json = Record<string, unknown>;
const readYaml = (p: string) => parseYaml(readFileSync(p, 'utf8')) as Json;
const chartValues = readYaml(join(chartDir, 'values.yaml'));
/** image.repository has no default (no public image is published): installs provide one. */
const values = mergeValues(chartValues, { image: { repository: 'registry.example.com/platform/kratos-gateway' } }) as Json;
// Over the chart's own values.yaml: the examples must name their image themselves.
const example = (f: string) => mergeValues(chartValues, readYaml(join(chartDir, 'examples', f))) as Json;
const withValues = (over: Json) => mergeValues(values, over) as Json;

const models: Record<string, { model: new (data: never) => { validate(): void }; module: string; type: string }> = {
  'apps/v1/Deployment': { model: Deployment as never, module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  'v1/Service': { model: Service as never, module: 'kubernetes-models/v1/Service', type: 'IService' },
  'v1/ConfigMap': { model: ConfigMap as never, module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  'v1/Secret': { model: Secret as never, module: 'kubernetes-models/v1/Secret', type: 'ISecret' },
  'v1/ServiceAccount': { model: ServiceAccount as never, module: 'kubernetes-models/v1/ServiceAccount', type: 'IServiceAccount' },
  'v1/Pod': { model: Pod as never, module: 'kubernetes-models/v1/Pod', type: 'IPod' },
  'networking.k8s.io/v1/Ingress': { model: Ingress as never, module: 'kubernetes-models/networking.k8s.io/v1/Ingress', type: 'IIngress' },
  'networking.k8s.io/v1/NetworkPolicy': {
    model: NetworkPolicy as never,
    module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
    type: 'INetworkPolicy',
  },
  'policy/v1/PodDisruptionBudget': {
    model: PodDisruptionBudget as never,
    module: 'kubernetes-models/policy/v1/PodDisruptionBudget',
    type: 'IPodDisruptionBudget',
  },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    model: HorizontalPodAutoscaler as never,
    module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    type: 'IHorizontalPodAutoscaler',
  },
};

/** Renders, asserts no template failed, validates every object with its model. */
async function renderOk(v: Json, release = 'gw'): Promise<{ rendered: Rendered; objs: Manifest[] }> {
  const rendered = await render(v, { release });
  assert.deepEqual(rendered.errors, {});
  const objs = manifests(rendered).map((m) => m.obj);
  for (const o of objs) {
    const m = models[`${o.apiVersion}/${o.kind}`];
    if (m) assert.doesNotThrow(() => new m.model(o as never).validate(), `${o.kind} ${o.metadata.name}`);
    else assert.equal(o.apiVersion, 'monitoring.coreos.com/v1', `no model for ${o.apiVersion}/${o.kind}`);
  }
  return { rendered, objs };
}

const kinds = (objs: Manifest[]) => objs.map((o) => o.kind).sort();
const one = <T>(objs: Manifest[], kind: string, pred: (o: T) => boolean = () => true): T => {
  const found = objs
    .filter((o) => o.kind === kind)
    .map((o) => o as unknown as T)
    .filter(pred);
  assert.equal(found.length, 1, `exactly one ${kind}`);
  return found[0]!;
};
const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/**
 * The gateway configuration this container runs with: mounted ConfigMap file plus its env, with
 * secretKeyRef variables resolved from `secrets` (Secret name → key → value; a missing one fails).
 */
function gatewayConfigOf(
  objs: Manifest[],
  pod: NonNullable<IDeployment['spec']>['template']['spec'],
  c: IContainer,
  secrets: Record<string, Record<string, string>> = {},
) {
  const path = c.args![1]!;
  const mount = c.volumeMounts!.find((m) => m.mountPath === dirname(path))!;
  const volume = pod!.volumes!.find((v) => v.name === mount.name)!;
  const cm = one<IConfigMap>(objs, 'ConfigMap', (m) => m.metadata?.name === volume.configMap?.name);
  const env: NodeJS.ProcessEnv = {};
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) {
      const value = secrets[ref.name!]?.[ref.key];
      assert.ok(value !== undefined, `${e.name}: Secret ${ref.name} key ${ref.key} exists`);
      env[e.name] = value;
    } else env[e.name] = e.value;
  }
  return parseConfig(applyEnvOverrides(parseYaml(cm.data![basename(path)]!) as Record<string, unknown>, env));
}

const allTyped: TypedValue[] = [];
function collectForTypeCheck(label: string, objs: Manifest[]) {
  for (const o of objs) {
    const m = models[`${o.apiVersion}/${o.kind}`];
    if (m) allTyped.push({ module: m.module, type: m.type, value: o, label: `${label}: ${o.kind} ${o.metadata.name}` });
  }
}

/**
 * An application chart's Deployment including the gateway's named templates (as in
 * docs/deploying.md), rendered with `values` under the subchart's name, checked against the
 * Kubernetes schema and collected for the type check as `label`.
 */
async function parentDeployment(values: Json, label: string): Promise<IDeployment> {
  const parentTemplate = [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: orders',
    'spec:',
    '  selector:',
    '    matchLabels:',
    '      app.kubernetes.io/name: orders',
    '  template:',
    '    metadata:',
    '      labels:',
    '        app.kubernetes.io/name: orders',
    '    spec:',
    '      terminationGracePeriodSeconds: 30',
    '      containers:',
    '        - name: orders',
    '          image: registry.example.com/apps/orders:1.4.2',
    '        {{- include "kratos-gateway.sidecarContainer" (dict "Values" (index .Values "kratos-gateway") "Release" .Release) | nindent 8 }}',
    '      volumes:',
    '        {{- include "kratos-gateway.sidecarVolumes" (dict "Values" (index .Values "kratos-gateway") "Release" .Release) | nindent 8 }}',
    '',
  ].join('\n');
  const parent = await render(
    { 'kratos-gateway': values },
    { release: 'orders', extra: { 'orders/templates/deployment.yaml': parentTemplate } },
  );
  assert.equal(parent.errors['orders/templates/deployment.yaml'], undefined, parent.errors['orders/templates/deployment.yaml']);
  const d = parseYaml(parent.files['orders/templates/deployment.yaml']!) as IDeployment;
  new Deployment(d).validate();
  allTyped.push({ module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment', value: d, label });
  return d;
}

after(() => cleanupRenderer());

describe('helm template (Go text/template) — deployment mode, values.yaml', () => {
  it('renders the Deployment and its companions, each a valid Kubernetes object', async () => {
    const { objs } = await renderOk(values);
    collectForTypeCheck('values.yaml', objs);
    assert.deepEqual(kinds(objs), ['ConfigMap', 'Deployment', 'Pod', 'PodDisruptionBudget', 'Service', 'Service', 'ServiceAccount']);
    const d = one<IDeployment>(objs, 'Deployment');
    const pod = d.spec!.template;
    assert.equal(d.spec!.replicas, 2);
    assert.ok(matches(d.spec!.selector.matchLabels!, pod.metadata!.labels));
    assert.equal(pod.spec!.serviceAccountName, one<Manifest>(objs, 'ServiceAccount').metadata.name);
    assert.equal(pod.spec!.automountServiceAccountToken, false);
    assert.equal(pod.spec!.terminationGracePeriodSeconds, 30);
    assert.match(pod.metadata!.annotations!['checksum/config']!, /^[0-9a-f]{64}$/);
    for (const t of pod.spec!.topologySpreadConstraints!) assert.ok(matches(t.labelSelector!.matchLabels!, pod.metadata!.labels));

    const c = pod.spec!.containers[0]!;
    assert.equal(c.image, 'registry.example.com/platform/kratos-gateway:0.1.0');
    assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'] });
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.deepEqual(c.lifecycle?.preStop?.exec?.command, ['sleep', '5']);
    const cfg = gatewayConfigOf(objs, pod.spec, c);
    assert.deepEqual(cfg.proxy.listen, { host: '0.0.0.0', port: 4455 });
    assert.deepEqual(cfg.admin.listen, { host: '0.0.0.0', port: 4456 });
    assert.equal(cfg.kratos.public_url, 'http://kratos-public');

    const portNames = new Set(c.ports!.map((p) => p.name));
    for (const svc of objs.filter((o) => o.kind === 'Service') as unknown as IService[]) {
      assert.ok(matches(svc.spec!.selector!, pod.metadata!.labels));
      for (const p of svc.spec!.ports!) assert.ok(portNames.has(String(p.targetPort)), `${svc.metadata?.name} targets ${p.targetPort}`);
    }
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) assert.ok(portNames.has(String(probe!.httpGet!.port)));
    const pdb = one<IPodDisruptionBudget>(objs, 'PodDisruptionBudget');
    assert.equal(pdb.spec!.maxUnavailable, 1);
    assert.equal(pdb.spec!.minAvailable, undefined);
    assert.ok(matches(pdb.spec!.selector!.matchLabels!, pod.metadata!.labels));
  });

  it('the helm test Pod is a test hook that polls /health/ready on the admin Service', async () => {
    const { objs } = await renderOk(values);
    const pod = one<IPod>(objs, 'Pod');
    assert.equal(pod.metadata!.annotations!['helm.sh/hook'], 'test');
    const admin = one<IService>(objs, 'Service', (s) => s.metadata?.labels?.['app.kubernetes.io/component'] === 'admin');
    const c = pod.spec!.containers[0]!;
    assert.equal(c.image, 'registry.example.com/platform/kratos-gateway:0.1.0', 'the gateway image: nothing else to mirror');
    assert.deepEqual(c.command!.slice(-2), [
      `http://${admin.metadata!.name}.gateway.svc:${admin.spec!.ports![0]!.port}/health/ready`,
      '60',
    ]);
    assert.equal(pod.spec!.restartPolicy, 'Never');
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    // Not selected by the gateway's Services (or PDB, NetworkPolicy): it is not a gateway.
    for (const svc of objs.filter((o) => o.kind === 'Service') as unknown as IService[])
      assert.ok(!matches(svc.spec!.selector!, pod.metadata!.labels));
  });

  it('the helm test command passes against a ready gateway and fails against a draining one', async () => {
    const { objs } = await renderOk(values);
    const [node, flag, script] = one<IPod>(objs, 'Pod').spec!.containers[0]!.command!;
    assert.equal(node, 'node');
    const run = (url: string, seconds: string) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        execFile(process.execPath, [flag!, script!, url, seconds], { timeout: 30_000 }, (err, stdout, stderr) => {
          const code: unknown = err ? (err as { code?: unknown }).code : 0;
          resolve({ code: typeof code === 'number' ? code : -1, out: stdout + stderr });
        });
      });
    const gw = await startTestGateway({
      log: { access_log: false },
      routes: [{ name: 'app', match: { path_prefix: '/' }, upstream: 'http://127.0.0.1:9' }],
    });
    try {
      const ok = await run(`${gw.adminUrl}/health/ready`, '5');
      assert.equal(ok.code, 0, ok.out);
      assert.match(ok.out, /health\/ready 200/);
      gw.core.draining = true;
      const draining = await run(`${gw.adminUrl}/health/ready`, '0');
      assert.equal(draining.code, 1, draining.out);
      assert.match(draining.out, /health\/ready 503/);
    } finally {
      await gw.shutdown();
    }
  });

  it('NOTES.txt renders without template errors', async () => {
    const r = await render(values);
    const notes = r.files['kratos-gateway/templates/NOTES.txt']!;
    assert.match(notes, /running as Deployment gw-kratos-gateway/);
    assert.doesNotMatch(notes, /%!|<nil>/);
  });
});

describe('helm template — examples/values-standalone.yaml', () => {
  it('adds Ingress, HPA, ServiceMonitor and NetworkPolicy that point at what exists', async () => {
    const { objs } = await renderOk(example('values-standalone.yaml'));
    collectForTypeCheck('values-standalone.yaml', objs);
    assert.deepEqual(kinds(objs), [
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'Ingress',
      'NetworkPolicy',
      'Pod',
      'PodDisruptionBudget',
      'Service',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
    ]);
    const d = one<IDeployment>(objs, 'Deployment');
    assert.equal(d.spec!.replicas, undefined, 'the HPA owns the replica count');
    const hpa = one<IHorizontalPodAutoscaler>(objs, 'HorizontalPodAutoscaler');
    assert.equal(hpa.spec!.scaleTargetRef.name, d.metadata!.name);
    assert.equal(hpa.spec!.metrics!.length, 1);
    const proxy = one<IService>(objs, 'Service', (s) => s.metadata?.labels?.['app.kubernetes.io/component'] === 'proxy');
    const admin = one<IService>(objs, 'Service', (s) => s.metadata?.labels?.['app.kubernetes.io/component'] === 'admin');
    const ing = one<IIngress>(objs, 'Ingress');
    assert.equal(ing.spec!.ingressClassName, 'nginx');
    const backend = ing.spec!.rules![0]!.http!.paths[0]!.backend.service!;
    assert.equal(backend.name, proxy.metadata!.name);
    assert.ok(proxy.spec!.ports!.some((p) => p.name === backend.port!.name));
    const sm = one<
      Manifest & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string; path: string }> } }
    >(objs, 'ServiceMonitor');
    assert.ok(matches(sm.spec.selector.matchLabels, admin.metadata!.labels));
    assert.ok(!matches(sm.spec.selector.matchLabels, proxy.metadata!.labels), 'selects only the admin Service');
    assert.ok(admin.spec!.ports!.some((p) => p.name === sm.spec.endpoints[0]!.port));
    assert.equal(sm.metadata.labels!['release'], 'kube-prometheus-stack');
    const np = one<INetworkPolicy>(objs, 'NetworkPolicy');
    const ports = np.spec!.ingress!.flatMap((r) => r.ports!.map((p) => p.port));
    assert.deepEqual(ports, ['kg-proxy', 'kg-admin']);
    assert.ok(np.spec!.ingress!.every((r) => (r.from ?? []).length > 0));
    assert.equal(one<IPodDisruptionBudget>(objs, 'PodDisruptionBudget').spec!.minAvailable, 2);
    const cfg = gatewayConfigOf(objs, d.spec!.template.spec, d.spec!.template.spec!.containers[0]!);
    assert.deepEqual(
      cfg.routes.map((r) => r.name),
      ['health', 'api', 'web'],
    );
  });
});

describe('helm template — sidecar mode', () => {
  const sidecar = example('values-sidecar.yaml');

  it('the chart itself renders only the ConfigMap and the PodMonitor', async () => {
    const { objs } = await renderOk(sidecar, 'orders');
    collectForTypeCheck('values-sidecar.yaml', objs);
    assert.deepEqual(kinds(objs), ['ConfigMap', 'PodMonitor']);
    const pm = one<
      Manifest & { spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: Array<{ port: string }> } }
    >(objs, 'PodMonitor');
    assert.deepEqual(pm.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'orders' });
    assert.equal(pm.spec.podMetricsEndpoints[0]!.port, 'kg-admin');
  });

  it('an application chart gets a working pod from the named templates (as in docs/deploying.md)', async () => {
    // The parent chart renders with its own values; the subchart's sit under its name.
    const d = await parentDeployment(sidecar, 'parent chart Deployment');
    const pod = d.spec!.template.spec!;
    assert.deepEqual(
      pod.containers.map((c) => c.name),
      ['orders', 'kratos-gateway'],
    );
    // The volume names the ConfigMap the subchart renders in the same release.
    const sub = await renderOk(sidecar, 'orders');
    const cm = one<IConfigMap>(sub.objs, 'ConfigMap');
    assert.equal(pod.volumes!.find((v) => v.name === 'kratos-gateway-config')?.configMap?.name, cm.metadata!.name);
    const cfg = gatewayConfigOf(sub.objs, pod, pod.containers[1]!);
    assert.equal(cfg.routes[0]!.upstream, 'http://127.0.0.1:8080');
    assert.equal(cfg.proxy.listen.port, pod.containers[1]!.ports!.find((p) => p.name === 'kg-proxy')!.containerPort);
  });

  it('NOTES.txt explains the include', async () => {
    const r = await render(sidecar, { release: 'orders' });
    assert.match(r.files['kratos-gateway/templates/NOTES.txt']!, /\{\{- include "kratos-gateway\.sidecarContainer"/);
  });
});

const REDIS_URL_ENV = 'KRATOS_GATEWAY_SESSION_CACHE__SHARED__REDIS_URL';
const notesOf = (r: Rendered) => r.files['kratos-gateway/templates/NOTES.txt']!;
const FLEET_WARNING =
  /WARNING: .* no shared session cache is configured\.[\s\S]*ttl_cap_ms \(60000 ms\)[\s\S]*sharedCache\.redis\.existingSecret/;

describe('helm template — shared session cache (sharedCache.redis)', () => {
  const fleet = example('values-fleet.yaml');

  it('examples/values-fleet.yaml: the URL comes from the Secret through secretKeyRef, the password Secret is the password_file', async () => {
    const { rendered, objs } = await renderOk(fleet);
    collectForTypeCheck('values-fleet.yaml', objs);
    // The Secret is the user's (existingSecret): the chart renders none.
    assert.ok(!kinds(objs).includes('Secret'));
    const d = one<IDeployment>(objs, 'Deployment');
    const pod = d.spec!.template.spec!;
    const c = pod.containers[0]!;
    const url = c.env!.find((e) => e.name === REDIS_URL_ENV)!;
    assert.deepEqual(url.valueFrom, { secretKeyRef: { name: 'kratos-gateway-redis', key: 'redis-url' } });
    assert.equal(url.value, undefined);
    const pwFile = c.env!.find((e) => e.name === 'KRATOS_GATEWAY_SESSION_CACHE__SHARED__PASSWORD_FILE')!.value!;
    const mount = c.volumeMounts!.find((m) => m.mountPath === dirname(pwFile))!;
    assert.equal(mount.readOnly, true);
    const volume = pod.volumes!.find((v) => v.name === mount.name)!;
    assert.equal(volume.secret?.secretName, 'kratos-gateway-redis');
    assert.deepEqual(volume.secret?.items, [{ key: 'password', path: basename(pwFile) }]);
    assert.equal(volume.secret?.defaultMode, 0o444);

    const secretUrl = 'redis://kratos-gateway@kv-valkey-primary.gateway.svc.cluster.local:6379';
    const cfg = gatewayConfigOf(objs, pod, c, { 'kratos-gateway-redis': { 'redis-url': secretUrl, password: 'x' } });
    assert.equal(cfg.session_cache.shared.redis_url, secretUrl);
    assert.equal(cfg.session_cache.shared.password_file, pwFile);
    assert.equal(cfg.session_cache.shared.key_prefix, 'kratos-gateway:');
    assert.equal(cfg.session_cache.revalidate_after_ms, 10_000);
    assert.equal(cfg.proxy.workers, 2);
    // No Redis location or credential in the ConfigMap.
    assert.doesNotMatch(one<IConfigMap>(objs, 'ConfigMap').data!['gateway.yaml']!, /redis_url|password_file|rediss?:/);
    assert.doesNotMatch(notesOf(rendered), /WARNING/);
  });

  it('sharedCache.redis.url is stored in a Secret the chart creates, and appears nowhere else', async () => {
    const url = 'rediss://kratos-gateway:s3cr3t-pw@redis.data.svc:6380/0';
    const { rendered, objs } = await renderOk(withValues({ sharedCache: { redis: { url } } }));
    collectForTypeCheck('sharedCache.redis.url', objs);
    const secret = one<ISecret>(objs, 'Secret');
    assert.equal(secret.metadata!.name, 'gw-kratos-gateway-redis');
    assert.deepEqual(secret.stringData, { 'redis-url': url });
    const c = one<IDeployment>(objs, 'Deployment').spec!.template.spec!.containers[0]!;
    assert.deepEqual(c.env!.find((e) => e.name === REDIS_URL_ENV)!.valueFrom, {
      secretKeyRef: { name: 'gw-kratos-gateway-redis', key: 'redis-url' },
    });
    assert.equal(c.envFrom, undefined, 'not through envFrom: only the one key reaches the container');
    for (const [file, text] of Object.entries(rendered.files)) {
      if (file.endsWith('/secret-redis.yaml')) continue;
      assert.ok(!text.includes('s3cr3t-pw') && !text.includes('redis.data.svc'), `${file} does not contain the URL`);
    }
    const d = one<IDeployment>(objs, 'Deployment');
    const cfg = gatewayConfigOf(objs, d.spec!.template.spec, c, { 'gw-kratos-gateway-redis': { 'redis-url': url } });
    assert.equal(cfg.session_cache.shared.redis_url, url);
    assert.equal(cfg.session_cache.shared.password_file, undefined);
  });

  it('an existingSecret with its own key name is referenced as given', async () => {
    const { objs } = await renderOk(withValues({ sharedCache: { redis: { existingSecret: 'platform-redis', existingSecretKey: 'url' } } }));
    const c = one<IDeployment>(objs, 'Deployment').spec!.template.spec!.containers[0]!;
    assert.deepEqual(c.env!.find((e) => e.name === REDIS_URL_ENV)!.valueFrom, { secretKeyRef: { name: 'platform-redis', key: 'url' } });
    assert.equal(
      c.env!.find((e) => e.name === 'KRATOS_GATEWAY_SESSION_CACHE__SHARED__PASSWORD_FILE'),
      undefined,
    );
    assert.ok(!c.volumeMounts!.some((m) => m.name === 'kratos-gateway-redis'));
  });

  it('sidecar mode: the application pod gets the same variables, mount and volume; the subchart renders the URL Secret', async () => {
    const sidecar = mergeValues(example('values-sidecar.yaml'), {
      sharedCache: { redis: { url: 'redis://kratos-gateway@redis.data.svc:6379', passwordSecret: { name: 'orders-redis', key: 'pw' } } },
    }) as Json;
    const sub = await renderOk(sidecar, 'orders');
    collectForTypeCheck('sidecar + sharedCache', sub.objs);
    assert.deepEqual(kinds(sub.objs), ['ConfigMap', 'PodMonitor', 'Secret']);
    const secret = one<ISecret>(sub.objs, 'Secret');
    const d = await parentDeployment(sidecar, 'parent chart Deployment + sharedCache');
    const pod = d.spec!.template.spec!;
    const c = pod.containers[1]!;
    assert.deepEqual(c.env!.find((e) => e.name === REDIS_URL_ENV)!.valueFrom, {
      secretKeyRef: { name: secret.metadata!.name, key: 'redis-url' },
    });
    const volume = pod.volumes!.find((v) => v.secret?.secretName === 'orders-redis')!;
    assert.deepEqual(volume.secret!.items, [{ key: 'pw', path: 'password' }]);
    assert.ok(!pod.containers[0]!.volumeMounts, 'the application container does not mount the password');
    const cfg = gatewayConfigOf(sub.objs, pod, c, {
      [secret.metadata!.name!]: secret.stringData!,
      'orders-redis': { pw: 'x' },
    });
    const mount = c.volumeMounts!.find((m) => m.name === volume.name)!;
    assert.equal(cfg.session_cache.shared.password_file, `${mount.mountPath}/password`);
    assert.equal(cfg.session_cache.shared.redis_url, 'redis://kratos-gateway@redis.data.svc:6379');
  });

  describe('NOTES.txt warns when more than one gateway runs without a shared cache', () => {
    const cases: Array<[string, Json, boolean]> = [
      ['values.yaml (replicaCount 2)', values, true],
      ['replicaCount 1', withValues({ replicaCount: 1 }), false],
      ['replicaCount 2 with sharedCache.redis.url', withValues({ sharedCache: { redis: { url: 'redis://r:6379' } } }), false],
      ['replicaCount 2 with sharedCache.redis.existingSecret', withValues({ sharedCache: { redis: { existingSecret: 'r' } } }), false],
      [
        'replicaCount 2 with the variable in secret.env',
        withValues({ secret: { create: true, env: { [REDIS_URL_ENV]: 'redis://r:6379' } } }),
        false,
      ],
      ['replicaCount 2 with the variable in extraEnv', withValues({ extraEnv: [{ name: REDIS_URL_ENV, value: 'redis://r:6379' }] }), false],
      ['the HPA with replicaCount 1', withValues({ replicaCount: 1, autoscaling: { enabled: true } }), true],
      [
        'the HPA with a shared cache',
        withValues({ autoscaling: { enabled: true }, sharedCache: { redis: { existingSecret: 'r' } } }),
        false,
      ],
    ];
    for (const [name, v, warns] of cases) {
      it(`${name}: ${warns ? 'warns' : 'no warning'}`, async () => {
        const r = await render(v);
        assert.deepEqual(r.errors, {});
        if (warns) assert.match(notesOf(r), FLEET_WARNING);
        else assert.doesNotMatch(notesOf(r), /WARNING/);
      });
    }

    it('names the replica count or the HPA maximum, and the ttl cap in force', async () => {
      assert.match(notesOf(await render(withValues({ replicaCount: 3 }))), /WARNING: 3 gateway pods run/);
      const hpa = notesOf(await render(withValues({ autoscaling: { enabled: true, maxReplicas: 7 } })));
      assert.match(hpa, /WARNING: the HorizontalPodAutoscaler runs up to 7 gateway pods/);
      // Helm's numbers are float64: without `int`, 1000000 would print as 1e+06.
      const cap = notesOf(await render(withValues({ config: { session_cache: { ttl_cap_ms: 1_000_000 } } })));
      assert.match(cap, /ttl_cap_ms \(1000000 ms\)/);
    });

    it('with secret.existingSecret (unreadable at render time) it says when to ignore the warning', async () => {
      const notes = notesOf(await render(withValues({ secret: { existingSecret: 'gateway-env' } })));
      assert.match(notes, FLEET_WARNING);
      assert.match(notes, /If Secret gateway-env already sets KRATOS_GATEWAY_SESSION_CACHE__SHARED__REDIS_URL, ignore this warning/);
    });

    it('sidecar mode cannot see the application replica count: a note without a shared cache, none with it', async () => {
      const sidecar = example('values-sidecar.yaml');
      const without = notesOf(await render(sidecar, { release: 'orders' }));
      assert.match(without, /NOTE: every replica of your application's pods runs its own gateway, and no shared session\ncache/);
      const withCache = notesOf(
        await render(mergeValues(sidecar, { sharedCache: { redis: { existingSecret: 'r' } } }), { release: 'orders' }),
      );
      assert.doesNotMatch(withCache, /NOTE: every replica/);
    });

    it('workers: "auto" gets a note to use a number equal to the CPU limit', async () => {
      const auto = notesOf(await render(withValues({ config: { proxy: { workers: 'auto' } }, resources: { limits: { cpu: '1500m' } } })));
      assert.match(auto, /config\.proxy\.workers is "auto"[\s\S]*equal to resources\.limits\.cpu \(1500m\)/);
      assert.doesNotMatch(notesOf(await render(withValues({ config: { proxy: { workers: 2 } } }))), /workers is "auto"/);
      assert.doesNotMatch(notesOf(await render(values)), /workers is "auto"/);
    });
  });

  it('refuses a Redis URL in the ConfigMap, two URL sources, and a password without a URL', async () => {
    const errorOf = async (over: Json) => (await render(withValues(over))).errors['kratos-gateway/templates/configmap.yaml'] ?? '';
    assert.match(
      await errorOf({ config: { session_cache: { shared: { redis_url: 'redis://u:pw@r:6379' } } } }),
      /config\.session_cache\.shared\.redis_url would put the Redis URL .* into the ConfigMap: set sharedCache\.redis\.url/,
    );
    assert.match(await errorOf({ sharedCache: { redis: { url: 'redis://r:6379', existingSecret: 'r' } } }), /both set: set one/);
    assert.match(
      await errorOf({ sharedCache: { redis: { passwordSecret: { name: 'pw' } } } }),
      /passwordSecret needs sharedCache\.redis\.url/,
    );
    assert.match(
      await errorOf({
        sharedCache: { redis: { existingSecret: 'r', passwordSecret: { name: 'pw' } } },
        config: { session_cache: { shared: { password_file: '/x' } } },
      }),
      /password_file and sharedCache\.redis\.passwordSecret are both set/,
    );
  });
});

describe('helm template — TLS on the proxy port (tls.existingSecret)', () => {
  /** The Secret mounted whole (a renewal swaps its ..data symlink; a subPath mount would never see it), read-only, as proxy.tls. */
  function assertTlsMounted(objs: Manifest[], pod: NonNullable<IDeployment['spec']>['template']['spec'], c: IContainer): void {
    const volume = pod!.volumes!.find((v) => v.secret?.secretName === 'gateway-tls')!;
    assert.deepEqual(volume.secret!.items, [
      { key: 'tls.crt', path: 'tls.crt' },
      { key: 'tls.key', path: 'tls.key' },
    ]);
    const mount = c.volumeMounts!.find((m) => m.name === volume.name)!;
    assert.equal(mount.readOnly, true);
    assert.equal(mount.subPath, undefined);
    const cfg = gatewayConfigOf(objs, pod, c);
    assert.equal(cfg.proxy.tls.cert_file, `${mount.mountPath}/tls.crt`);
    assert.equal(cfg.proxy.tls.key_file, `${mount.mountPath}/tls.key`);
    assert.equal(cfg.proxy.tls.min_version, 'TLSv1.3', 'config.proxy.tls.min_version still applies');
    // Probes stay on the plain-HTTP admin port.
    for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) assert.equal(probe!.httpGet!.port, 'kg-admin');
  }
  const tls = { tls: { existingSecret: 'gateway-tls' }, config: { proxy: { tls: { min_version: 'TLSv1.3' } } } };

  it('deployment mode: the Secret is mounted for proxy.tls, and the Service and NOTES.txt say https', async () => {
    const { rendered, objs } = await renderOk(withValues(tls));
    assert.match(notesOf(rendered), /curl -i --insecure https:\/\/127\.0\.0\.1:8080\//);
    collectForTypeCheck('tls.existingSecret', objs);
    const pod = one<IDeployment>(objs, 'Deployment').spec!.template.spec!;
    assertTlsMounted(objs, pod, pod.containers[0]!);
    const port = one<IService>(objs, 'Service', (x) => x.metadata?.name === 'gw-kratos-gateway').spec!.ports![0]!;
    assert.deepEqual([port.name, port.targetPort, port.appProtocol], ['http', 'kg-proxy', 'https']);
    const plain = (await renderOk(values)).objs;
    assert.equal(one<IService>(plain, 'Service', (x) => x.metadata?.name === 'gw-kratos-gateway').spec!.ports![0]!.appProtocol, 'http');
    assert.equal(
      gatewayConfigOf(
        plain,
        one<IDeployment>(plain, 'Deployment').spec!.template.spec,
        one<IDeployment>(plain, 'Deployment').spec!.template.spec!.containers[0]!,
      ).proxy.tls.cert_file,
      undefined,
    );
  });

  it('sidecar mode: the gateway container mounts it, the application container does not', async () => {
    const sidecar = mergeValues(example('values-sidecar.yaml'), tls) as Json;
    const sub = await renderOk(sidecar, 'orders');
    const pod = (await parentDeployment(sidecar, 'parent chart Deployment + tls')).spec!.template.spec!;
    assertTlsMounted(sub.objs, pod, pod.containers[1]!);
    assert.ok(!pod.containers[0]!.volumeMounts, 'the application container does not mount the key');
  });

  it('refuses config.proxy.tls files beside tls.existingSecret', async () => {
    const r = await render(
      withValues({ tls: { existingSecret: 'gateway-tls' }, config: { proxy: { tls: { cert_file: '/x.crt', key_file: '/x.key' } } } }),
    );
    assert.match(
      r.errors['kratos-gateway/templates/configmap.yaml'] ?? '',
      /config\.proxy\.tls\.cert_file\/key_file and tls\.existingSecret are both set/,
    );
  });
});

describe('helm template — options and refusals', () => {
  it('secrets, digests and every pass-through value land where they belong', async () => {
    const v = withValues({
      image: { digest: 'sha256:' + 'a'.repeat(64) },
      secret: { create: true, env: { KRATOS_GATEWAY_KRATOS__PUBLIC_URL: 'http://user:pw@kratos' } },
      extraEnv: [{ name: 'KRATOS_GATEWAY_LOG__LEVEL', value: 'debug' }],
      extraVolumes: [{ name: 'ca', configMap: { name: 'ca-bundle' } }],
      extraVolumeMounts: [{ name: 'ca', mountPath: '/etc/ssl/custom', readOnly: true }],
      imagePullSecrets: [{ name: 'registry' }],
      podAnnotations: { 'example.com/team': 'platform' },
      podLabels: { team: 'platform' },
      priorityClassName: 'high',
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gateway', effect: 'NoSchedule' }],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['edge'] }] }],
          },
        },
      },
      topologySpreadConstraints: [
        {
          maxSkew: 2,
          topologyKey: 'kubernetes.io/hostname',
          whenUnsatisfiable: 'DoNotSchedule',
          labelSelector: { matchLabels: { team: 'platform' } },
        },
      ],
      service: { annotations: { 'example.com/lb': 'internal' } },
      podMonitor: { enabled: true, relabelings: [{ action: 'drop', sourceLabels: ['__meta_x'] }] },
      serviceMonitor: { enabled: true, metricRelabelings: [{ action: 'drop', regex: 'go_.*', sourceLabels: ['__name__'] }] },
      podDisruptionBudget: { minAvailable: '50%' },
      autoscaling: { enabled: true, targetMemoryUtilizationPercentage: 80 },
      ingress: { enabled: true, tls: [{ hosts: ['app.example.com'], secretName: 'tls' }] },
    });
    const { objs } = await renderOk(v);
    collectForTypeCheck('all options', objs);
    const d = one<IDeployment>(objs, 'Deployment');
    const pod = d.spec!.template;
    const c = pod.spec!.containers[0]!;
    assert.equal(c.image, `registry.example.com/platform/kratos-gateway@sha256:${'a'.repeat(64)}`);
    const secret = one<ISecret>(objs, 'Secret');
    assert.deepEqual(secret.stringData, { KRATOS_GATEWAY_KRATOS__PUBLIC_URL: 'http://user:pw@kratos' });
    assert.deepEqual(c.envFrom, [{ secretRef: { name: secret.metadata!.name } }]);
    assert.deepEqual(c.env!.at(-1), { name: 'KRATOS_GATEWAY_LOG__LEVEL', value: 'debug' });
    assert.deepEqual(c.volumeMounts!.at(-1), { name: 'ca', mountPath: '/etc/ssl/custom', readOnly: true });
    assert.deepEqual(pod.spec!.volumes!.at(-1), { name: 'ca', configMap: { name: 'ca-bundle' } });
    assert.deepEqual(pod.spec!.imagePullSecrets, [{ name: 'registry' }]);
    assert.equal(pod.metadata!.annotations!['example.com/team'], 'platform');
    assert.equal(pod.metadata!.labels!['team'], 'platform');
    assert.equal(pod.spec!.priorityClassName, 'high');
    assert.equal(pod.spec!.tolerations![0]!.key, 'dedicated');
    assert.ok(pod.spec!.affinity?.nodeAffinity);
    assert.deepEqual(pod.spec!.topologySpreadConstraints![0]!.labelSelector, { matchLabels: { team: 'platform' } });
    assert.equal(
      one<IService>(objs, 'Service', (s) => s.metadata?.labels?.['app.kubernetes.io/component'] === 'proxy').metadata!.annotations![
        'example.com/lb'
      ],
      'internal',
    );
    assert.equal(one<IPodDisruptionBudget>(objs, 'PodDisruptionBudget').spec!.minAvailable, '50%');
    assert.equal(one<IHorizontalPodAutoscaler>(objs, 'HorizontalPodAutoscaler').spec!.metrics!.length, 2);
    assert.equal(one<IIngress>(objs, 'Ingress').spec!.tls![0]!.secretName, 'tls');
    assert.deepEqual(
      kinds(objs).filter((k) => k.endsWith('Monitor')),
      ['PodMonitor', 'ServiceMonitor'],
    );
    // The Secret's override reaches the gateway the way envFrom would deliver it.
    const env: NodeJS.ProcessEnv = { ...secret.stringData };
    for (const e of c.env ?? []) env[e.name] = e.value;
    const cm = one<IConfigMap>(objs, 'ConfigMap');
    const cfg = parseConfig(applyEnvOverrides(parseYaml(cm.data!['gateway.yaml']!) as Record<string, unknown>, env));
    assert.equal(cfg.kratos.public_url, 'http://user:pw@kratos');
    assert.equal(cfg.log.level, 'debug');
  });

  it('an existing Secret is referenced, not created', async () => {
    const { objs } = await renderOk(withValues({ secret: { existingSecret: 'gateway-env' } }));
    assert.ok(!kinds(objs).includes('Secret'));
    assert.deepEqual(one<IDeployment>(objs, 'Deployment').spec!.template.spec!.containers[0]!.envFrom, [
      { secretRef: { name: 'gateway-env' } },
    ]);
  });

  it('fails to render when the kill timeout does not cover the preStop sleep and the drain', async () => {
    const r = await render(withValues({ terminationGracePeriodSeconds: 15 }));
    assert.match(
      r.errors['kratos-gateway/templates/configmap.yaml'] ?? '',
      /terminationGracePeriodSeconds \(15\) must be larger than .* \(15 s in total\)/,
    );
    const ok = await render(withValues({ terminationGracePeriodSeconds: 16 }));
    assert.deepEqual(ok.errors, {});
    const longer = await render(withValues({ terminationGracePeriodSeconds: 30, config: { proxy: { shutdown_grace_ms: 25_001 } } }));
    assert.match(longer.errors['kratos-gateway/templates/configmap.yaml'] ?? '', /\(31 s in total\)/);
  });

  it('fails to render a sidecar PodMonitor without pod labels, and a ServiceMonitor without the admin Service', async () => {
    const pm = await render(mergeValues(example('values-sidecar.yaml'), { podMonitor: { selectorLabels: null } }));
    assert.match(pm.errors['kratos-gateway/templates/configmap.yaml'] ?? '', /podMonitor\.selectorLabels/);
    const sm = await render(withValues({ serviceMonitor: { enabled: true }, adminService: { enabled: false } }));
    assert.match(sm.errors['kratos-gateway/templates/configmap.yaml'] ?? '', /adminService\.enabled/);
  });

  it('refuses to render without image.repository (no public image to default to), with a message that says what to do', async () => {
    for (const repository of ['', undefined]) {
      const v = structuredClone(chartValues) as { image: Json };
      if (repository === undefined) delete v.image['repository'];
      const r = await render(v);
      for (const file of ['kratos-gateway/templates/deployment.yaml', 'kratos-gateway/templates/tests/test-connection.yaml']) {
        assert.match(
          r.errors[file] ?? '',
          /image\.repository is required: no public kratos-gateway image is published\. Build the repository's Dockerfile, push it/,
          file,
        );
      }
    }
    // In sidecar mode the application chart's pod template is where the image is used.
    const parentTemplate =
      'containers:\n  {{- include "kratos-gateway.sidecarContainer" (dict "Values" (index .Values "kratos-gateway") "Release" .Release) | nindent 2 }}\n';
    const sidecar = mergeValues(example('values-sidecar.yaml'), { image: { repository: '' } });
    const parent = await render(
      { 'kratos-gateway': sidecar },
      { release: 'orders', extra: { 'orders/templates/deployment.yaml': parentTemplate } },
    );
    assert.match(parent.errors['orders/templates/deployment.yaml'] ?? '', /image\.repository is required/);
  });

  it('fullnameOverride and a release named like the chart give the expected names', async () => {
    const a = await renderOk(withValues({ fullnameOverride: 'edge' }));
    assert.deepEqual([...new Set(a.objs.map((o) => o.metadata.name))].sort(), ['edge', 'edge-admin', 'edge-test-connection']);
    const b = await renderOk(values, 'kratos-gateway');
    assert.ok(
      b.objs.every((o) => o.metadata.name.startsWith('kratos-gateway') && !o.metadata.name.startsWith('kratos-gateway-kratos-gateway')),
    );
  });

  it('every rendered object type-checks against its Kubernetes interface (no unknown fields)', () => {
    assert.ok(allTyped.length > 20, `${allTyped.length} objects collected`);
    assert.deepEqual(typeCheck(allTyped), []);
  });
});

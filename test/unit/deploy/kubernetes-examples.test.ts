/**
 * The hand-written manifests under config/examples/kubernetes/ (and the ingress-nginx
 * Ingress): every object validated with kubernetes-models (types, required fields) and
 * type-checked against its TypeScript interface (misspelt keys), then read as a whole:
 * the mounted gateway configuration, with the container's environment applied exactly as
 * the gateway applies it, is valid; probes, ports, Services and monitors point at things
 * that exist; the sidecar can only be reached through the gateway.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { applyEnvOverrides } from '../../../src/config/env.js';
import { parseConfig } from '../../../src/config/load.js';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from './values-schema.js';
import { typeCheck, type TypedValue } from './k8s-typecheck.js';

type Obj = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
};

const k8sDir = join(repoRoot, 'config/examples/kubernetes');
const files = [
  ...readdirSync(k8sDir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(k8sDir, f)),
  join(repoRoot, 'config/examples/ingress-nginx/ingress.yaml'),
];
const docs: Array<{ file: string; obj: Obj }> = files.flatMap((file) =>
  parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    assert.deepEqual(d.errors, [], `${file} parses`);
    return { file: basename(file), obj: d.toJS() as Obj };
  }),
);
const ofKind = <T>(kind: string, file?: string) =>
  docs.filter((d) => d.obj.kind === kind && (file === undefined || d.file === file)).map((d) => d.obj as unknown as T);

const models: Record<string, { model: new (data: never) => { validate(): void }; module: string; type: string }> = {
  'apps/v1/Deployment': { model: Deployment as never, module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  'v1/Service': { model: Service as never, module: 'kubernetes-models/v1/Service', type: 'IService' },
  'v1/ConfigMap': { model: ConfigMap as never, module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  'networking.k8s.io/v1/Ingress': { model: Ingress as never, module: 'kubernetes-models/networking.k8s.io/v1/Ingress', type: 'IIngress' },
};
const monitorKinds = ['monitoring.coreos.com/v1/ServiceMonitor', 'monitoring.coreos.com/v1/PodMonitor'];

const gatewayContainer = (d: IDeployment): IContainer => {
  const c = d.spec!.template.spec!.containers.find((x) => x.image?.includes('kratos-gateway'));
  assert.ok(c, `${d.metadata?.name} has a kratos-gateway container`);
  return c;
};

/** The configuration the gateway in this container would run with. */
function effectiveConfig(file: string, d: IDeployment) {
  const c = gatewayContainer(d);
  const args = c.args ?? [];
  assert.equal(args[0], '--config');
  const path = args[1]!;
  const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === dirname(path));
  assert.ok(mount, `${path} is on a mounted volume`);
  const volume = d.spec!.template.spec!.volumes?.find((v) => v.name === mount.name);
  const cmName = volume?.configMap?.name;
  assert.ok(cmName, `volume ${mount.name} is a ConfigMap`);
  const cm = ofKind<IConfigMap>('ConfigMap', file).find((m) => m.metadata?.name === cmName);
  assert.ok(cm, `ConfigMap ${cmName} is defined in ${file}`);
  const text = cm.data?.[basename(path)];
  assert.ok(text, `ConfigMap has key ${basename(path)}`);
  const env: NodeJS.ProcessEnv = {};
  for (const e of c.env ?? []) env[e.name] = e.value;
  return parseConfig(applyEnvOverrides(parseYaml(text) as Record<string, unknown>, env));
}

describe('Kubernetes example manifests', () => {
  it('every object is a known kind', () => {
    assert.ok(docs.length >= 8);
    for (const { file, obj } of docs) {
      const key = `${obj.apiVersion}/${obj.kind}`;
      assert.ok(key in models || monitorKinds.includes(key), `${file}: ${key}`);
      assert.ok(obj.metadata?.name, `${file}: ${key} has a name`);
    }
  });

  it('kubernetes-models validates every object', () => {
    for (const { file, obj } of docs) {
      const m = models[`${obj.apiVersion}/${obj.kind}`];
      if (!m) continue;
      assert.doesNotThrow(() => new m.model(obj as never).validate(), `${file}: ${obj.kind} ${obj.metadata.name}`);
    }
  });

  it('no object has a field its Kubernetes type does not know (TypeScript excess-property check)', () => {
    const values: TypedValue[] = [];
    for (const { file, obj } of docs) {
      const m = models[`${obj.apiVersion}/${obj.kind}`];
      if (m) values.push({ module: m.module, type: m.type, value: obj, label: `${file}: ${obj.kind} ${obj.metadata.name}` });
    }
    // The check itself must catch a misspelt key.
    const typo = structuredClone(ofKind<IDeployment>('Deployment')[0]!) as unknown as {
      spec: { template: { spec: { containers: Array<Record<string, unknown>> } } };
    };
    typo.spec.template.spec.containers[0]!['imagePulPolicy'] = 'Always';
    values.push({ module: models['apps/v1/Deployment']!.module, type: 'IDeployment', value: typo, label: 'deliberate typo' });
    const diagnostics = typeCheck(values);
    assert.equal(diagnostics.filter((d) => d.startsWith('deliberate typo:')).length, 1, diagnostics.join('\n'));
    assert.deepEqual(
      diagnostics.filter((d) => !d.startsWith('deliberate typo:')),
      [],
    );
  });

  for (const file of ['standalone.yaml', 'sidecar-deployment.yaml']) {
    describe(file, () => {
      const [deployment] = ofKind<IDeployment>('Deployment', file);
      assert.ok(deployment);
      const pod = deployment.spec!.template.spec!;
      const gw = gatewayContainer(deployment);
      const port = (name: string) => gw.ports?.find((p) => p.name === name)?.containerPort;

      it('the mounted configuration plus the container environment is a valid gateway configuration listening on the container ports', () => {
        const cfg = effectiveConfig(file, deployment);
        assert.equal(cfg.proxy.listen.host, '0.0.0.0');
        assert.equal(cfg.admin.listen.host, '0.0.0.0');
        assert.equal(cfg.proxy.listen.port, port('kg-proxy'));
        assert.equal(cfg.admin.listen.port, port('kg-admin'));
        assert.equal(cfg.embedded_kratos.enabled, false);
        assert.equal(cfg.demo_upstream.enabled, false);
      });

      if (file === 'standalone.yaml')
        it('lists the ingress controller in proxy.trusted_proxies: the ingress-nginx recipe asks this admin Service with X-Original-*', () => {
          const { trusted_proxies } = effectiveConfig(file, deployment).proxy;
          assert.ok(trusted_proxies.length > 0, 'without it every decision the recipe asks for is a 400');
          // A pod range, not everyone: listing every address would believe any client's X-Original-URI.
          for (const cidr of trusted_proxies) assert.ok(Number(/\/(\d+)$/.exec(cidr)?.[1] ?? 32) >= 8, `${cidr} is at most a /8`);
        });

      it('probes /health/alive and /health/ready on the admin port', () => {
        assert.deepEqual(gw.livenessProbe?.httpGet, { path: '/health/alive', port: 'kg-admin' });
        assert.deepEqual(gw.startupProbe?.httpGet, { path: '/health/alive', port: 'kg-admin' });
        assert.deepEqual(gw.readinessProbe?.httpGet, { path: '/health/ready', port: 'kg-admin' });
      });

      it('runs hardened: non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp', () => {
        const sc = gw.securityContext!;
        assert.equal(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, true);
        assert.equal(sc.readOnlyRootFilesystem, true);
        assert.equal(sc.allowPrivilegeEscalation, false);
        assert.deepEqual(sc.capabilities?.drop, ['ALL']);
        assert.equal((sc.seccompProfile ?? pod.securityContext?.seccompProfile)?.type, 'RuntimeDefault');
        assert.ok(gw.resources?.requests?.['memory'] && gw.resources.limits?.['memory']);
      });

      it('terminationGracePeriodSeconds exceeds the preStop sleep plus the drain period', () => {
        const cfg = effectiveConfig(file, deployment);
        const sleep = Number(gw.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
        assert.deepEqual(gw.lifecycle?.preStop?.exec?.command?.[0], 'sleep');
        assert.ok((pod.terminationGracePeriodSeconds ?? 30) * 1000 > sleep * 1000 + cfg.proxy.shutdown_grace_ms);
      });

      it('the Service selects these pods and targets the gateway proxy port', () => {
        const services = ofKind<IService>('Service', file).filter((s) => s.spec?.ports?.some((p) => p.targetPort === 'kg-proxy'));
        assert.equal(services.length, 1);
        const svc = services[0]!;
        const labels = deployment.spec!.template.metadata!.labels!;
        for (const [k, v] of Object.entries(svc.spec!.selector!)) assert.equal(labels[k], v, `selector ${k}`);
        assert.equal(svc.metadata?.namespace, deployment.metadata?.namespace);
        assert.equal(svc.spec?.type, 'ClusterIP');
      });
    });
  }

  it('sidecar: the gateway proxies to the application on loopback, and the application exposes no port', () => {
    const [d] = ofKind<IDeployment>('Deployment', 'sidecar-deployment.yaml');
    const cfg = effectiveConfig('sidecar-deployment.yaml', d!);
    const app = d!.spec!.template.spec!.containers.find((c) => !c.image?.includes('kratos-gateway'))!;
    const listen = app.env?.find((e) => e.name === 'LISTEN_ADDR')?.value;
    assert.equal(listen, '127.0.0.1:8080');
    for (const r of cfg.routes) assert.equal(new URL(r.upstream).host, listen);
    assert.equal(app.ports, undefined);
  });

  it('standalone: the admin Service is cluster-internal and targets the admin port', () => {
    const admin = ofKind<IService>('Service', 'standalone.yaml').find((s) => s.spec?.ports?.some((p) => p.targetPort === 'kg-admin'));
    assert.ok(admin);
    assert.equal(admin.spec?.type, 'ClusterIP');
    assert.equal(admin.metadata?.labels?.['app.kubernetes.io/component'], 'admin');
  });
});

describe('Prometheus Operator monitors (no model available: shape checked by hand)', () => {
  type Endpoint = { port?: string; path?: string; scheme?: string; interval?: string; scrapeTimeout?: string };
  type Monitor = Obj & {
    spec: {
      namespaceSelector: { matchNames: string[] };
      selector: { matchLabels: Record<string, string> };
      endpoints?: Endpoint[];
      podMetricsEndpoints?: Endpoint[];
    };
  };
  const duration = /^([0-9]+(ms|s|m|h))+$/;
  const checkShape = (m: Monitor, endpointsKey: 'endpoints' | 'podMetricsEndpoints') => {
    assert.equal(m.apiVersion, 'monitoring.coreos.com/v1');
    assert.deepEqual(Object.keys(m).sort(), ['apiVersion', 'kind', 'metadata', 'spec']);
    assert.deepEqual(Object.keys(m.spec).sort(), ['namespaceSelector', 'selector', endpointsKey].sort());
    const eps = m.spec[endpointsKey]!;
    assert.equal(eps.length, 1);
    const ep = eps[0]!;
    for (const k of Object.keys(ep))
      assert.ok(['port', 'path', 'scheme', 'interval', 'scrapeTimeout'].includes(k), `unknown endpoint key ${k}`);
    assert.equal(ep.path, '/metrics');
    assert.equal(ep.scheme, 'http');
    assert.match(ep.interval!, duration);
    assert.match(ep.scrapeTimeout!, duration);
    return ep;
  };

  it('the ServiceMonitor selects the admin Service and scrapes its named port', () => {
    const [sm] = ofKind<Monitor>('ServiceMonitor', 'servicemonitor.yaml');
    assert.ok(sm);
    const ep = checkShape(sm, 'endpoints');
    const admin = ofKind<IService>('Service', 'standalone.yaml').filter((s) =>
      Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => s.metadata?.labels?.[k] === v),
    );
    assert.equal(admin.length, 1, 'selects exactly the admin Service');
    assert.ok(sm.spec.namespaceSelector.matchNames.includes(admin[0]!.metadata!.namespace!));
    assert.ok(admin[0]!.spec!.ports!.some((p) => p.name === ep.port && p.targetPort === 'kg-admin'));
  });

  it('the PodMonitor selects the sidecar pods and scrapes the gateway admin port', () => {
    const [pm] = ofKind<Monitor>('PodMonitor', 'servicemonitor.yaml');
    assert.ok(pm);
    const ep = checkShape(pm, 'podMetricsEndpoints');
    const [d] = ofKind<IDeployment>('Deployment', 'sidecar-deployment.yaml');
    const labels = d!.spec!.template.metadata!.labels!;
    for (const [k, v] of Object.entries(pm.spec.selector.matchLabels)) assert.equal(labels[k], v);
    assert.ok(pm.spec.namespaceSelector.matchNames.includes(d!.metadata!.namespace!));
    assert.ok(gatewayContainer(d!).ports!.some((p) => p.name === ep.port));
  });
});

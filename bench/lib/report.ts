/** The JSON report's shape and its Markdown rendering (bench/results/latest.md). */
import type { Sample } from './measure.js';
import type { FleetExtra, FleetMode } from './fleet.js';
import { grpcSection } from './grpc-report.js';

export interface Row {
  rps: number;
  p50: number;
  p99: number;
  whoami: number;
  rssMiB: number;
  rssPeakMiB: number;
  perCoreSecond: number;
  otherBusy: number;
  non2xx: number;
  errors: number;
}

export interface ScenarioReport {
  title: string;
  rows: Record<string, Row>;
  raw: Record<string, Sample[]>;
  extra: Record<string, unknown>;
}

export interface Report {
  date: string;
  machine: {
    cores: number;
    cpu: string;
    memGiB: number;
    node: string;
    loadavgAtStart: number[];
    loadavgAtEnd?: number[];
    nginx?: string;
    caddy?: string;
  };
  settings: Record<string, unknown>;
  systems: Record<string, string>;
  scenarios: Record<string, ScenarioReport>;
  notes: string[];
  totalSeconds?: number;
}

const f0 = (x: number | null | undefined) =>
  x === undefined || x === null || Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US');
const f1 = (x: number | null | undefined) => (x === undefined || x === null || Number.isNaN(x) ? '–' : x.toFixed(1));
const f2 = (x: number | null | undefined) => (x === undefined || x === null || Number.isNaN(x) ? '–' : x.toFixed(2));
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !b ? '–' : `${(a / b).toFixed(2)}×`);

function table(r: Report, sc: ScenarioReport, opts: { whoamiLabel?: string; okLabel?: string } = {}): string[] {
  const direct = sc.rows.direct?.rps;
  const out = [
    `| system | req/s | × direct | p50 ms | p99 ms | ${opts.whoamiLabel ?? 'whoami calls (median per run)'} | RSS MiB (end / peak) | req per CPU-second | ${opts.okLabel ?? 'non-2xx'} | other load (max) |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [id, row] of Object.entries(sc.rows)) {
    out.push(
      `| ${r.systems[id] ?? id} | ${f0(row.rps)} | ${id === 'direct' ? '1.00×' : ratio(row.rps, direct)} | ${f1(row.p50)} | ${f1(row.p99)} | ${id === 'direct' ? '–' : f0(row.whoami)} | ${id === 'direct' ? '–' : `${f1(row.rssMiB)} / ${f1(row.rssPeakMiB)}`} | ${id === 'direct' ? '–' : f0(row.perCoreSecond)} | ${row.non2xx}${row.errors ? ` (+${row.errors} errors)` : ''} | ${Math.round(row.otherBusy * 100)}% |`,
    );
  }
  return out;
}

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? '–' : ok ? '**met**' : '**not met**';
}

export function renderMarkdown(r: Report): string {
  const m = r.machine;
  const s = r.settings as {
    duration: number;
    warmup: number;
    reps: number;
    connections: number;
    kratos: string;
    kratosDelayMs: number;
    peerCpus: number;
  };
  const lines: string[] = [];
  lines.push(`# kratos-gateway benchmark — ${r.date.slice(0, 16).replace('T', ' ')} UTC`, '');
  lines.push(
    `**Machine:** ${m.cores} cores (${m.cpu}), ${m.memGiB} GiB, Node ${m.node}${m.nginx ? `, ${m.nginx}` : ''}${m.caddy ? `, ${m.caddy}` : ''}; load average at start ${m.loadavgAtStart.join(' / ')}${m.loadavgAtEnd ? `, at end ${m.loadavgAtEnd.join(' / ')}` : ''}.`,
  );
  // The grpc scenario describes its own method (gRPC clients, not autocannon).
  if (Object.keys(r.scenarios).some((k) => k !== 'grpc'))
    lines.push(
      `**Method:** every system, the upstream (plain \`node:http\`), Kratos and the load generator (autocannon 9, \`-c ${s.connections}\`) in separate processes on 127.0.0.1; ${s.warmup} s warm-up, ${s.duration} s measured, median of ${s.reps} repetitions (systems interleaved). Kratos: **${s.kratos === 'embedded' ? 'the embedded identity server (real whoami)' : 'the fake whoami (bench/servers/whoami.ts)'}**${s.kratosDelayMs ? `, behind a ${s.kratosDelayMs} ms delay (remote Kratos)` : ', no added delay'}. nginx \`worker_processes ${s.peerCpus}\`, Caddy \`GOMAXPROCS=${s.peerCpus}\`, kratos-gateway one Node process: one core each. Access logs on for every system (to /dev/null). "req per CPU-second" divides requests by the CPU time the system under test used, which is steadier than req/s when other work shares the machine; "other load (max)" is the largest share of the machine used by processes outside the harness during any repetition.`,
    );
  if (r.totalSeconds) lines.push(`**Run time:** ${r.totalSeconds} s. Rerun: \`npm run bench\` (see bench/README.md).`);
  lines.push('');
  const headerEnd = lines.length;

  const targets: string[][] = [];
  const a = r.scenarios.a;
  if (a) {
    lines.push(`## ${a.title}`, '', ...table(r, a), '');
    const kg = a.rows.kg?.rps;
    const hp = a.extra.halfPeak as { rate: number; directP99: number; kgP99: number; p99Added: number } | undefined;
    if (hp)
      lines.push(
        `At half of kratos-gateway's peak (${f0(hp.rate)} req/s): direct p99 ${f1(hp.directP99)} ms, kratos-gateway p99 ${f1(hp.kgP99)} ms → **${f1(hp.p99Added)} ms added**.`,
        '',
      );
    if (kg !== undefined) {
      lines.push('kratos-gateway against each system in (a):', '', '| vs | req/s ratio | req per CPU-second ratio |', '|---|---:|---:|');
      for (const [id, row] of Object.entries(a.rows))
        if (id !== 'kg')
          lines.push(
            `| ${r.systems[id] ?? id} | ${ratio(kg, row.rps)} | ${id === 'direct' ? '–' : ratio(a.rows.kg!.perCoreSecond, row.perCoreSecond)} |`,
          );
      lines.push('');
      const t = (id: string, min: number, label: string) => {
        const row = a.rows[id];
        if (row) targets.push([`(a) ${label}`, `≥ ${min}×`, ratio(kg, row.rps), verdict(kg / row.rps >= min)]);
      };
      t('nginx-cache', 0.5, 'vs nginx auth_request + proxy_cache');
      t('baseline', 3, 'vs express + http-proxy-3 + lru-cache');
      t('caddy', 4, 'vs Caddy forward_auth');
      if (hp) targets.push(['(a) p99 added over direct at half peak', '≤ 2 ms', `${f1(hp.p99Added)} ms`, verdict(hp.p99Added <= 2)]);
    }
  }
  const b = r.scenarios.b;
  if (b) {
    lines.push(`## ${b.title}`, '', ...table(r, b), '');
    const ctl = b.extra.kgOneSessionSameGenerator as { rps: number } | undefined;
    const kgB = b.rows.kg?.rps;
    if (ctl && kgB !== undefined) {
      lines.push(
        `Control, same load-generator path (a token header set per request) with one session: kratos-gateway ${f0(ctl.rps)} req/s; 10,000 sessions / one session = ${ratio(kgB, ctl.rps)}.`,
        '',
      );
      targets.push(['(b) 10,000 warm sessions within 10% of one session', '≥ 0.90×', ratio(kgB, ctl.rps), verdict(kgB / ctl.rps >= 0.9)]);
    }
  }
  const c = r.scenarios.c;
  if (c) {
    lines.push(
      `## ${c.title}`,
      '',
      'Each run sends 2,000 requests, each with its own never-seen valid token, over 64 connections. autocannon ends a fixed-count run on its 1 s tick, so "req/s" here is only a lower bound (2,000 / whole seconds); compare latencies and whoami calls.',
      '',
      ...table(r, c),
      '',
    );
    if (c.rows.kg) targets.push(['(c) whoami calls = distinct tokens', '2,000', f0(c.rows.kg.whoami), verdict(c.rows.kg.whoami === 2000)]);
  }
  const d = r.scenarios.d;
  if (d) {
    lines.push(
      `## ${d.title}`,
      '',
      '500 connections each send one request with the same token, never seen before. As in (c), "req/s" is a lower bound; whoami calls and latencies are the result.',
      '',
      ...table(r, d),
      '',
    );
    if (d.rows.kg)
      targets.push([
        '(d) whoami calls for 500 concurrent requests with one new token',
        '1',
        f0(d.rows.kg.whoami),
        verdict(d.rows.kg.whoami === 1),
      ]);
  }
  const e = r.scenarios.e;
  if (e) {
    lines.push(
      `## ${e.title}`,
      '',
      'Every request carries a token never seen before that Kratos refuses; every answer must be 401, so non-2xx equals the number of requests (the JSON has the 2xx count per run: 0 everywhere means nothing leaked).',
      '',
      ...table(r, e, { okLabel: 'non-2xx (expected: all)' }),
      '',
    );
    if (e.rows.kg)
      targets.push([
        '(e) peak RSS under cache bound (64 MiB) + 64 MiB',
        '≤ 128 MiB',
        `${f1(e.rows.kg.rssPeakMiB)} MiB`,
        verdict(e.rows.kg.rssPeakMiB <= 128),
      ]);
  }
  const fsc = r.scenarios.f;
  if (fsc) {
    lines.push(
      `## ${fsc.title}`,
      '',
      "Per trial: a session is used twice (cached where there is a cache), then logged out — through the gateway's Kratos mount for kratos-gateway, at Kratos directly for the others (they have no logout hook) — and the same credential is retried until the first 401 (for at most 2 s; a system still serving the revoked session after 2 s on its first three trials is not tried further). Times are from the logout response to the 401 response, as seen by the client.",
      '',
    );
    lines.push(
      '| system | trials | first request after logout rejected | still served after 2 s | median ms | max ms |',
      '|---|---:|---:|---:|---:|---:|',
    );
    for (const [id, v] of Object.entries(fsc.extra)) {
      const x = v as { trials: number; firstRequestRejected: number; staleAfter2s: number; medianMs: number; maxMs: number | null };
      lines.push(
        `| ${r.systems[id] ?? id} | ${x.trials} | ${x.firstRequestRejected} | ${x.staleAfter2s} | ${f2(x.medianMs)} | ${x.maxMs === null ? '–' : f2(x.maxMs)} |`,
      );
    }
    lines.push('');
    const kgf = fsc.extra.kg as { trials: number; firstRequestRejected: number; maxMs: number | null } | undefined;
    if (kgf)
      targets.push([
        '(f) first 401 after the logout response',
        '≤ 1 ms (next request)',
        `${kgf.firstRequestRejected}/${kgf.trials} next-request rejections, max ${kgf.maxMs === null ? '–' : f2(kgf.maxMs)} ms`,
        verdict(kgf.firstRequestRejected === kgf.trials),
      ]);
  }
  const h = r.scenarios.h;
  if (h) {
    lines.push(
      `## ${h.title}`,
      '',
      `Kratos for this scenario: ${String(h.extra.kratos)}. RSS and V8 heap (after forced GC) before and after 100,000 distinct sessions pass through, per cache entry held (kratos-gateway maps an email and a name header and keeps entries 10 minutes, so its cache ends full at its default \`max_bytes\`, 64 MiB). "RSS per cached byte": RSS growth / the cache's estimate of what it holds.`,
      '',
    );
    lines.push(
      '| system | cache entries | RSS before → after MiB | RSS bytes / entry | heap bytes / entry | cache estimate MiB | RSS per cached byte |',
      '|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const [id, v] of Object.entries(h.extra)) {
      if (id === 'kratos') continue;
      const x = v as {
        cacheEntries?: number;
        rssBeforeMiB: number;
        rssAfterMiB: number;
        rssBytesPerSession: number;
        heapBytesPerSession?: number;
        cacheBytes?: number;
        rssPerCachedByte?: number;
      };
      lines.push(
        `| ${r.systems[id] ?? id} | ${x.cacheEntries ?? '–'} | ${f1(x.rssBeforeMiB)} → ${f1(x.rssAfterMiB)} | ${f0(x.rssBytesPerSession)} | ${f0(x.heapBytesPerSession)} | ${x.cacheBytes === undefined ? '–' : f1(x.cacheBytes / 2 ** 20)} | ${f2(x.rssPerCachedByte)} |`,
      );
    }
    lines.push('');
    const kgh = h.extra.kg as { rssBytesPerSession: number; heapBytesPerSession?: number } | undefined;
    if (kgh) {
      targets.push([
        '(h) memory per cached session',
        '≤ 1 KiB',
        `${f0(kgh.rssBytesPerSession)} B of RSS, ${f0(kgh.heapBytesPerSession)} B of V8 heap`,
        `RSS ${verdict(kgh.rssBytesPerSession <= 1024)}, heap ${verdict((kgh.heapBytesPerSession ?? Infinity) <= 1024)}`,
      ]);
    }
  }
  const g = r.scenarios.g;
  if (g)
    lines.push(
      `## ${g.title}`,
      '',
      '"req/s" is completed handshake + echo + close cycles per second.',
      '',
      ...table(r, g, { okLabel: 'failed' }),
      '',
    );

  const x = r.scenarios['ext-authz'];
  if (x)
    lines.push(
      `## ${x.title}`,
      '',
      'The same decision (one cached session, the production configuration) asked of one kratos-gateway both ways, alternating, in this run; "CPU per call" is the gateway process\'s CPU time over the calls it answered. The gRPC load is node:http2 sending one CheckRequest encoded by Envoy\'s definitions (pseudo-headers, the session token, four more headers); a call counts when its answer is an allow.',
      '',
      ...(x.extra.table as string[]),
      '',
    );
  const w = r.scenarios.w;
  if (w)
    lines.push(
      `## ${w.title}`,
      '',
      'The whole gateway process tree (primary + workers) from /proc; "machine busy" is every core during the run (load generator and upstream included).',
      '',
      ...(w.extra.table as string[]),
      '',
    );
  const fl = r.scenarios.fleet;
  if (fl) lines.push(...fleetSection(r, fl, targets));
  const grpcSc = r.scenarios.grpc;
  if (grpcSc) lines.push(...grpcSection(r, grpcSc, targets));

  if (targets.length) {
    lines.splice(
      headerEnd,
      0,
      fl ? '## Targets (performance and fleet)' : grpcSc ? '## Targets (performance and gRPC)' : '## Targets (performance)',
      '',
      '| target | goal | measured | |',
      '|---|---|---|---|',
      ...targets.map((t) => `| ${t.join(' | ')} |`),
      '',
    );
  }
  if (r.notes.length) lines.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}

const us = (perCoreSecond: number | undefined) => (perCoreSecond ? `${(1e6 / perCoreSecond).toFixed(1)} µs` : '–');

/** The fleet scenario (bench/lib/fleet.ts): whoami per new credential, propagation, hot path and spread. */
function fleetSection(r: Report, sc: ScenarioReport, targets: string[][]): string[] {
  const x = sc.extra as unknown as FleetExtra;
  const label = (id: string) => r.systems[id] ?? id;
  const out = [
    `## ${sc.title}`,
    '',
    `Three kratos-gateway processes (production configuration, as \`kg\`) in front of the same Kratos and upstream; "L1 + L2" adds \`session_cache.shared\` on one ${x.redis || 'redis-server'} (no persistence). All on loopback, on the same machine as everything else.`,
    '',
    "**whoami calls per new credential, for the whole fleet** (counted at Kratos; the gateways' own `/metrics` in brackets):",
    '',
    '| fleet | credentials | burst: concurrent first requests over A, B, C | whoami / credential (burst) | whoami / credential (first used on A, then B, then C) | non-200 |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const [id, w] of Object.entries(x.whoami)) {
    out.push(
      `| ${label(id)} | ${w.credentials} | ${w.burstSize} | ${f2(w.burst)} (${f2(w.burstGatewayMetric)}) | ${f2(w.sequence)} | ${w.burstNon200 + w.sequenceNon200} |`,
    );
  }
  out.push(
    '',
    "**Revocation propagation**: a session used on A and B (cached on both), logged out through A's Kratos mount; B is then asked back to back until its first 401. Time from A's logout response to B's 401, as the client sees it (each sample is at most one request's latency late). Without a shared tier B serves the revoked session until its cache entry expires; three trials show it.",
    '',
    '| fleet | trials | rejected by B within 2 s | first request rejected | p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const [id, p] of Object.entries(x.propagation)) {
    out.push(
      `| ${label(id)} | ${p.trials} | ${p.rejected} | ${p.firstRequestRejected} | ${f2(p.p50Ms)} | ${f2(p.p99Ms)} | ${p.maxMs === null ? '–' : f2(p.maxMs)} |`,
    );
  }
  out.push(
    '',
    '**Hot path on one instance** (one cached session, load on instance A only; `kg` is the single gateway of this run, shared off): the L1 hit must cost the same whichever the mode.',
    '',
    ...table(r, { ...sc, rows: x.hot }),
    '',
    `CPU per request: ${Object.entries(x.hot)
      .map(([id, row]) => `${label(id)} ${us(row.perCoreSecond)}`)
      .join(
        '; ',
      )}${Number.isNaN(x.redisCpuUsPerRequest.hot) ? '' : `; Redis during the L1 + L2 run: ${x.redisCpuUsPerRequest.hot.toFixed(2)} µs per request`}.`,
    '',
    '**Spread credentials**: sessions first used on A (not measured), then each sent once to B: with L1 only every one is a whoami from B, with L1 + L2 an L2 hit. As in (c), "req/s" of a fixed-count run is a lower bound; compare CPU per request and whoami calls.',
    '',
    ...table(r, { ...sc, rows: x.spread }),
    '',
    `CPU per request on B: ${Object.entries(x.spread)
      .map(([id, row]) => `${label(id)} ${us(row.perCoreSecond)}`)
      .join(
        '; ',
      )}${Number.isNaN(x.redisCpuUsPerRequest.spread) ? '' : `; Redis during the L1 + L2 run: ${x.redisCpuUsPerRequest.spread.toFixed(2)} µs per request`}.`,
    '',
  );
  if (x.notes.length) out.push(...x.notes.map((n) => `- ${n}`), '');
  const l2w = x.whoami['fleet-l2' as FleetMode];
  if (l2w) {
    targets.push([
      `(fleet) whoami calls per new credential, ${l2w.burstSize} concurrent over 3 instances`,
      '1 (must: ≤ 3)',
      f2(l2w.burst),
      verdict(l2w.burst <= 1),
    ]);
  }
  const l2p = x.propagation['fleet-l2' as FleetMode];
  if (l2p)
    targets.push([
      '(fleet) revocation on A → rejected on B, p99',
      '≤ 100 ms',
      `p99 ${f2(l2p.p99Ms)} ms (p50 ${f2(l2p.p50Ms)} ms), ${l2p.rejected}/${l2p.trials} within 2 s`,
      verdict(l2p.staleAfter2s === 0 && l2p.p99Ms <= 100),
    ]);
  const kg = x.hot.kg;
  const l1 = x.hot['fleet-l1'];
  if (kg && l1)
    targets.push([
      '(fleet) hot path with shared off: CPU per request, fleet instance vs single gateway',
      'unchanged',
      `${us(l1.perCoreSecond)} vs ${us(kg.perCoreSecond)} (${ratio(kg.perCoreSecond, l1.perCoreSecond)})`,
      '–',
    ]);
  return out;
}

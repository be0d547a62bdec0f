/** One measured load run against one system, with the accounting around it. */
import { runLoad, type LoadResult, type LoadSpec } from './load.js';
import { cpuSeconds, machineCpu, sampleRss, waitForQuiet } from './proc.js';
import type { Kratos } from './kratos.js';
import type { RunningSystem } from './systems.js';
import { cpus } from 'node:os';
import type { Row } from './report.js';

export interface Sample extends LoadResult {
  system: string;
  /** whoami calls Kratos saw during the measured phase. */
  whoami: number;
  /** whoami calls the gateway itself counted (kratos_gateway_whoami_requests_total), when it is one. */
  gatewayWhoami?: number;
  rssEnd: number;
  rssPeak: number;
  /** CPU seconds the system under test used in the measured phase. */
  sutCpu: number;
  /** Requests per CPU-second of the system under test: robust to other load on the machine. */
  perCoreSecond: number;
  /** Fraction of the machine busy with processes that are not the harness's during the run. */
  otherBusy: number;
  quietBefore: number;
}

export interface MeasureContext {
  kratos: Kratos;
  /** pids of the harness's own helpers (upstream, Kratos) for the contention figure. */
  helperPids: number[];
  quietWaitMs: number;
}

export async function gatewayWhoamiTotal(adminUrl: string): Promise<number> {
  const text = await (await fetch(adminUrl + '/metrics')).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('kratos_gateway_whoami_requests_total{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

export async function measure(ctx: MeasureContext, sys: RunningSystem, spec: LoadSpec): Promise<Sample> {
  const quietBefore = ctx.quietWaitMs > 0 ? await waitForQuiet(ctx.quietWaitMs) : 0;
  const whoamiBefore = await ctx.kratos.whoamiCalls();
  const gwBefore = sys.adminUrl ? await gatewayWhoamiTotal(sys.adminUrl) : undefined;
  const cpuBefore = cpuSeconds(sys.pid);
  const helpersBefore = ctx.helperPids.reduce((a, p) => a + cpuSeconds(p), 0);
  const machineBefore = machineCpu();
  const rss = sys.pid > 0 ? sampleRss(sys.pid) : undefined;
  const result = await runLoad(spec);
  const machineAfter = machineCpu();
  const rssPeak = rss?.stop() ?? 0;
  const sutCpu = cpuSeconds(sys.pid) - cpuBefore;
  const helpers = ctx.helperPids.reduce((a, p) => a + cpuSeconds(p), 0) - helpersBefore;
  const whoami = (await ctx.kratos.whoamiCalls()) - whoamiBefore;
  const gatewayWhoami = sys.adminUrl && gwBefore !== undefined ? (await gatewayWhoamiTotal(sys.adminUrl)) - gwBefore : undefined;
  const wall = machineAfter.total - machineBefore.total; // all cores
  const ours = sutCpu + helpers + result.loadCpu;
  const otherBusy = Math.max(0, (machineAfter.busy - machineBefore.busy - ours) / Math.max(0.001, wall));
  return {
    ...result,
    system: sys.id,
    whoami,
    ...(gatewayWhoami !== undefined ? { gatewayWhoami } : {}),
    rssEnd: sys.rss(),
    rssPeak,
    sutCpu,
    perCoreSecond: sutCpu > 0 ? result.total / sutCpu : 0,
    otherBusy,
    quietBefore,
  };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The medians (and the worst of RSS peak and other load, the sums of failures) of a system's samples: a report row. */
export function summarize(samples: Sample[]): Row {
  return {
    rps: median(samples.map((s) => s.rps)),
    p50: median(samples.map((s) => s.p50)),
    p99: median(samples.map((s) => s.p99)),
    whoami: median(samples.map((s) => s.whoami)),
    rssMiB: median(samples.map((s) => s.rssEnd)) / 2 ** 20,
    rssPeakMiB: Math.max(...samples.map((s) => s.rssPeak)) / 2 ** 20,
    perCoreSecond: median(samples.map((s) => s.perCoreSecond)),
    otherBusy: Math.max(...samples.map((s) => s.otherBusy)),
    non2xx: samples.reduce((a, s) => a + s.non2xx, 0),
    errors: samples.reduce((a, s) => a + s.errors + s.timeouts, 0),
  };
}

export const CORES = cpus().length;

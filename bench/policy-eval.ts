/**
 * `node --import tsx bench/policy-eval.ts`: what `bench:quick --policy`'s five-condition policy
 * costs per request, alone and in one process (parsed as at load, evaluated on a session summary
 * as the route-policy authorizer does on a cache hit), so a busy machine moves it far less than the
 * whole-gateway CPU-per-request ratio. Bounded: --evaluations (default 1,000,000).
 */
import { parsePolicy } from '../src/config/policy.js';
import { evaluateCondition } from '../src/gateway/pipeline/authz/route-policy.js';
import { summarizeSession } from '../src/gateway/session/session-summary.js';
import { num, parseArgs } from './lib/args.js';
import { BENCH_POLICY } from './lib/policy.js';

const evaluations = Math.min(50_000_000, num(parseArgs(process.argv.slice(2)), 'evaluations', 1_000_000));
const problems: string[] = [];
const policy = parsePolicy(BENCH_POLICY, 'policy', problems);
if (policy === undefined) throw new Error(problems.join('\n'));
const now = Date.now();
const summary = summarizeSession(
  {
    id: 'sess',
    active: true,
    expires_at: new Date(now + 3_600_000).toISOString(),
    authenticated_at: new Date(now).toISOString(),
    identity: { id: 'id-1', traits: { email: 'user-1a2b3c4d@example.com', name: { first: 'Bench', last: 'User' } } },
  },
  ['identity.traits.email', 'identity.traits.name.first', 'identity.traits.name.last'],
  now,
);
if (summary === 'inactive') throw new Error('inactive');
const input = { method: 'GET', session: summary, nowMs: now };
if (evaluateCondition(policy, input) !== undefined) throw new Error('the bench session must satisfy the policy');
for (let i = 0; i < 100_000; i++) evaluateCondition(policy, input);
let refused = 0;
const t0 = process.hrtime.bigint();
for (let i = 0; i < evaluations; i++)
  if (evaluateCondition(policy, { method: 'GET', session: summary, nowMs: Date.now() }) !== undefined) refused++;
const ns = Number(process.hrtime.bigint() - t0) / evaluations;
console.log(
  `five-condition policy: ${ns.toFixed(0)} ns per evaluation (${evaluations} evaluations, ${refused} refused), node ${process.version}`,
);

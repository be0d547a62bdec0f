/**
 * `node --import tsx bench/assertion-sign.ts`: the cost of one identity-assertion signature, the
 * gateway's way (AssertionMinter: node:crypto `sign`, synchronous, inside the mutator) against
 * jose's `SignJWT` (async: WebCrypto `subtle.sign`, one promise chain per token), same key, same
 * claims, in one process, one token at a time (as the hot path would need it): wall time and
 * process CPU (all threads) per token. Every token of
 * both kinds is then verified with jose's `jwtVerify`, so the two are measured doing the same job.
 *
 *   --tokens 2000   (per algorithm and signer; RS256 uses a quarter of it)
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { num, parseArgs } from './lib/args.js';
import { loadAssertionKeys, type AssertionAlgorithm } from '../src/gateway/assertion/keys.js';
import { AssertionMinter } from '../src/gateway/assertion/minter.js';
import type { SessionSummary } from '../src/gateway/session/session-summary.js';

const args = parseArgs(process.argv.slice(2));
const tokens = num(args, 'tokens', 2_000);

function summary(i: number): SessionSummary {
  // A new session id each time: the minter's per-session cache must not answer.
  return {
    identityId: '9f425a8d-7efc-4768-8f23-7647a74fdf13',
    sessionId: `bench-${i}`,
    expiresAtMs: Date.now() + 3_600_000,
    values: new Map([['identity.traits.email', 'alice@example.com']]),
  };
}

async function measure(algorithm: AssertionAlgorithm): Promise<void> {
  const n = algorithm === 'RS256' ? Math.max(1, Math.floor(tokens / 4)) : tokens;
  const keys = loadAssertionKeys({ enabled: true, header: 'x', algorithm, ttl_ms: 300_000, claims: {} }, process.cwd());
  const minter = new AssertionMinter(keys, {
    issuer: 'https://app.example',
    ttlMs: 300_000,
    claims: [['email', 'identity.traits.email']],
    maxEntries: n + 1,
  });
  const ours: string[] = [];
  const theirs: string[] = [];
  // Warm both paths (JIT, key import) before timing.
  for (let i = 0; i < 50; i++) minter.tokenFor(summary(-1 - i), 'api');
  const joseSign = (i: number, key: KeyObject) =>
    new SignJWT({ sid: `bench-${i}`, email: 'alice@example.com' })
      .setProtectedHeader({ alg: algorithm, kid: keys.signingKid, typ: 'JWT' })
      .setIssuer('https://app.example')
      .setSubject('9f425a8d-7efc-4768-8f23-7647a74fdf13')
      .setAudience('api')
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('5m')
      .setJti(crypto.randomUUID())
      .sign(key);
  for (let i = 0; i < 50; i++) await joseSign(-1 - i, keys.signingKey);

  // Wall time per token, and process CPU (every thread: WebCrypto signs on the libuv pool) per token.
  const cpuUs = (c: NodeJS.CpuUsage) => (c.user + c.system) / n;
  let t0 = process.hrtime.bigint();
  let c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) ours.push(minter.tokenFor(summary(i), 'api'));
  const oursNs = Number(process.hrtime.bigint() - t0) / n;
  const oursCpu = cpuUs(process.cpuUsage(c0));
  t0 = process.hrtime.bigint();
  c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) theirs.push(await joseSign(i, keys.signingKey));
  const joseNs = Number(process.hrtime.bigint() - t0) / n;
  const joseCpu = cpuUs(process.cpuUsage(c0));

  const pub = createPublicKey(keys.signingKey);
  for (const t of [...ours, ...theirs])
    await jwtVerify(t, pub, { algorithms: [algorithm], audience: 'api', issuer: 'https://app.example' });
  console.log(
    `${algorithm.padEnd(6)} node:crypto (AssertionMinter) ${(oursNs / 1000).toFixed(1).padStart(6)} µs wall ${oursCpu.toFixed(1).padStart(6)} µs CPU   jose SignJWT ${(joseNs / 1000).toFixed(1).padStart(6)} µs wall ${joseCpu.toFixed(1).padStart(6)} µs CPU   jose/ours wall ${(joseNs / oursNs).toFixed(2)}× CPU ${(joseCpu / oursCpu).toFixed(2)}×   (${n} each, all ${2 * n} verified by jose jwtVerify)`,
  );
}

/** What a request of a hot session pays instead: the minter's cache hit (lookup and same-session check). */
function measureHit(): void {
  const keys = loadAssertionKeys({ enabled: true, header: 'x', algorithm: 'ES256', ttl_ms: 300_000, claims: {} }, process.cwd());
  const minter = new AssertionMinter(keys, { issuer: 'https://app.example', ttlMs: 300_000, claims: [['email', 'identity.traits.email']] });
  const s = summary(0);
  const n = Math.max(1, tokens * 500);
  for (let i = 0; i < 10_000; i++) minter.tokenFor(s, 'api');
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) minter.tokenFor(s, 'api');
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(`cached token (a hot session's request): ${ns.toFixed(0)} ns per request (${n} lookups, ${minter.minted} signature)`);
}

console.log(`assertion signing, node ${process.version}, one token at a time`);
for (const algorithm of ['ES256', 'EdDSA', 'RS256'] as const) await measure(algorithm);
measureHit();

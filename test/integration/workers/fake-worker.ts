/**
 * A stand-in for a cluster worker (src/cluster/worker.ts) in tests of the primary alone: it
 * speaks the IPC protocol without running a gateway, so a test can make a worker send what a
 * real one never does (malformed messages) or answer at chosen moments. REVIEW_FAKE_MODE picks
 * the behaviour; cluster.worker.id tells the workers of one test apart.
 */
import cluster from 'node:cluster';

// 1 for the first worker a test's primary forks (worker ids go on across clusters in one process).
const id = (cluster.worker?.id ?? 0) - Number(process.env.REVIEW_FAKE_BASE ?? 0);
const mode = process.env.REVIEW_FAKE_MODE ?? '';
let scrapes = 0;
const send = (message: unknown, then?: () => void) => process.send!(message, undefined, undefined, () => then?.());

function counter(value: number): unknown[] {
  return [
    {
      name: 'review_fake_total',
      help: 'A counter of the fake worker.',
      type: 'counter',
      aggregator: 'sum',
      values: [{ value, labels: {} }],
    },
  ];
}

process.on('message', (message: { type?: string; seq?: number }) => {
  switch (message.type) {
    case 'kg:init':
      if (mode === 'malformed' && id === 1) {
        // What a real worker never sends: each used to be trusted as it came.
        send({ type: 'kg:invalidate', seq: 900 });
        send({ type: 'kg:invalidate', invalidation: 'not an object', seq: 901 });
        send({ type: 'kg:invalidate', invalidation: null, seq: 902 });
        send({ type: 'kg:listening', proxyUrl: 42 });
        send({ type: 'kg:failed' });
        send({ type: 'kg:reply' });
      }
      send({ type: 'kg:listening', proxyUrl: 'http://127.0.0.1:1' });
      return;
    case 'kg:metrics':
      if (mode === 'metrics' && id === 1) return send({ type: 'kg:reply', seq: message.seq, value: counter(5) }, () => process.exit(0));
      if (mode === 'metrics' && id === 2)
        return void setTimeout(() => send({ type: 'kg:reply', seq: message.seq, value: counter(5) }), 500);
      if (mode === 'slow' && id === 1 && scrapes++ > 0)
        return void setTimeout(() => send({ type: 'kg:reply', seq: message.seq, value: counter(5) }), 3_000);
      if (mode === 'slow' || mode === 'draining') return send({ type: 'kg:reply', seq: message.seq, value: counter(5) });
      return send({ type: 'kg:reply', seq: message.seq, value: counter(0) });
    case 'kg:invalidate':
      if (message.seq !== undefined) send({ type: 'kg:reply', seq: message.seq, value: 0 });
      return;
    case 'kg:shutdown':
      // 'draining': takes a second to drain, like a worker with connections open.
      if (mode === 'draining') return void setTimeout(() => process.exit(0), 1_000);
      process.exit(0);
  }
});
send({ type: 'kg:hello' });

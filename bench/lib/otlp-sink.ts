import { createServer } from 'node:http';

/**
 * An OTLP/HTTP JSON receiver that only counts: what a collector costs is not the gateway's
 * cost, but the gateway must have somewhere to send spans for the export path to be measured.
 */
export async function startOtlpSink(): Promise<{ url: string; readonly spans: number; readonly exports: number; close(): Promise<void> }> {
  let spans = 0;
  let exports = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      exports++;
      // Counting span ids is enough, and far cheaper than parsing every batch.
      const text = Buffer.concat(chunks).toString('utf8');
      for (let i = text.indexOf('"spanId"'); i !== -1; i = text.indexOf('"spanId"', i + 8)) spans++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${addr.port}`,
    get spans() {
      return spans;
    },
    get exports() {
      return exports;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect as connectH2, createServer as createH2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import { createH2cDispatcher, H2_PREFACE, protocolOf } from '../../../src/http/h2c-dispatch.js';

function answer(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (body += c));
  req.on('end', () => res.end(`${req.httpVersion} ${req.method} ${req.url} ${body}`));
}

async function start(prefaceTimeoutMs = 30_000) {
  const http1 = createServer(answer);
  const http2 = createH2Server(answer);
  const server = createH2cDispatcher({ http1, http2, prefaceTimeoutMs });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: async () => {
      http1.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function get1(port: number, path: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function get2(port: number, path: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = connectH2(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({ ':path': path, ':method': body === undefined ? 'GET' : 'POST' });
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (text += c));
    stream.on('end', () => {
      session.close();
      resolve(text);
    });
    stream.on('error', reject);
    stream.end(body);
  });
}

describe('h2c dispatch', () => {
  it('tells the protocols apart at the first byte that differs', () => {
    assert.equal(protocolOf(Buffer.from('G')), 'http1');
    assert.equal(protocolOf(Buffer.from('PO')), 'http1');
    assert.equal(protocolOf(Buffer.from('PRI * HTTP/1.1\r\n')), 'http1');
    assert.equal(protocolOf(Buffer.from('PRI * HTTP/2.0\r\n')), undefined);
    assert.equal(protocolOf(H2_PREFACE), 'h2');
    assert.equal(protocolOf(Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 0, 4])])), 'h2');
  });

  it('serves HTTP/1.1 and h2c on one port, bodies included', async () => {
    const s = await start();
    try {
      assert.equal(await get1(s.port, '/a?x=1'), '1.1 GET /a?x=1 ');
      assert.equal(await get1(s.port, '/b', 'hello'), '1.1 POST /b hello');
      assert.equal(await get2(s.port, '/c?y=2'), '2.0 GET /c?y=2 ');
      assert.equal(await get2(s.port, '/d', 'world'), '2.0 POST /d world');
    } finally {
      await s.close();
    }
  });

  it('decides on bytes that arrive one at a time', async () => {
    const s = await start();
    try {
      const text = await new Promise<string>((resolve, reject) => {
        const socket = connectTcp(s.port, '127.0.0.1');
        const bytes = Buffer.from('POST /split HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
        let i = 0;
        let out = '';
        socket.setEncoding('latin1');
        socket.on('data', (c: string) => (out += c));
        socket.on('end', () => resolve(out));
        socket.on('error', reject);
        const next = () => {
          if (i < bytes.length) socket.write(bytes.subarray(i, ++i), () => setImmediate(next));
        };
        socket.on('connect', next);
      });
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.ok(text.endsWith('1.1 POST /split ok'), text);
    } finally {
      await s.close();
    }
  });

  it('closes a connection that stalls inside the preface', async () => {
    const s = await start(200);
    try {
      const closed = await new Promise<string>((resolve) => {
        const socket = connectTcp(s.port, '127.0.0.1', () => socket.write(H2_PREFACE.subarray(0, 10)));
        socket.on('error', () => resolve('error'));
        socket.on('close', () => resolve('closed'));
      });
      assert.ok(closed === 'closed' || closed === 'error');
    } finally {
      await s.close();
    }
  });

  it("holds the HTTP/1.1 server's headers timeout on the sockets it is handed", async () => {
    // Node enforces headersTimeout only for servers it saw start listening; this one never listens itself.
    const http1 = createServer({ headersTimeout: 300, requestTimeout: 600, connectionsCheckingInterval: 100 }, answer);
    const server = createH2cDispatcher({ http1, http2: createH2Server(answer), prefaceTimeoutMs: 30_000 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const text = await new Promise<string>((resolve, reject) => {
        let out = '';
        // Headers that never end: only the server's timeout can end this connection.
        const socket = connectTcp(port, '127.0.0.1', () => socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n'));
        socket.setEncoding('latin1');
        // A generous bound, so that a server that never times the headers out fails the assertion.
        socket.setTimeout(20_000, () => socket.destroy());
        socket.on('data', (c: string) => (out += c));
        socket.on('close', () => resolve(out));
        socket.on('error', reject);
      });
      assert.match(text, /^HTTP\/1\.1 408 /);
    } finally {
      http1.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('survives a client that resets before choosing a protocol', async () => {
    const s = await start();
    try {
      await new Promise<void>((resolve) => {
        const socket = connectTcp(s.port, '127.0.0.1', () => {
          socket.write(H2_PREFACE.subarray(0, 5));
          socket.resetAndDestroy();
          resolve();
        });
      });
      assert.equal(await get1(s.port, '/after'), '1.1 GET /after ');
    } finally {
      await s.close();
    }
  });
});

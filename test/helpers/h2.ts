/**
 * HTTP/2 with prior knowledge (h2c) against a gateway: a `node:http2` client session and one
 * request at a time on it, collected whole.
 */
import { connect, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';

export interface H2Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Set when the stream was reset instead of answered: the RST_STREAM code. */
  resetCode?: number;
  json<T = Record<string, unknown>>(): T;
}

export function h2Connect(baseUrl: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(baseUrl);
    session.once('connect', () => {
      session.off('error', reject);
      session.on('error', () => {}); // a test that expects the gateway to end the session reads that from 'close'
      resolve(session);
    });
    session.once('error', reject);
  });
}

export function h2Request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string | Buffer): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'GET', ...headers }, { endStream: body === undefined });
    let status = 0;
    let responseHeaders: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      responseHeaders = h;
      status = Number(h[':status']);
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => {}); // a reset is reported through 'close' below
    stream.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (status === 0 && stream.rstCode === 0) return reject(new Error('stream closed without a response'));
      resolve({
        status,
        headers: responseHeaders,
        body: text,
        ...(status === 0 ? { resetCode: stream.rstCode } : {}),
        json: <T>() => JSON.parse(text) as T,
      });
    });
    if (body !== undefined) stream.end(body);
  });
}

/** One request on a session of its own, closed afterwards. */
export async function h2Once(baseUrl: string, headers: OutgoingHttpHeaders, body?: string | Buffer): Promise<H2Response> {
  const session = await h2Connect(baseUrl);
  try {
    return await h2Request(session, headers, body);
  } finally {
    session.close();
  }
}

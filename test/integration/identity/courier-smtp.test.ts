/** With courier.smtp.connection_uri set, emails are delivered over SMTP and marked sent. */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { it } from 'node:test';
import type { AddressInfo } from 'node:net';
import { Browser, courierMessages, csrfOf, flowIdFrom, startTestServer, kratosTestConfig, UI } from './helpers.js';

interface Received {
  from: string;
  to: string[];
  data: string;
}

/** Just enough SMTP (RFC 5321, no extensions) to accept one message per transaction. */
async function fakeSmtp() {
  const received: Received[] = [];
  let notify: () => void = () => undefined;
  const server = createServer((socket: Socket) => {
    let buffer = '';
    let inData = false;
    let current: Received = { from: '', to: [], data: '' };
    socket.write('220 fake ESMTP\r\n');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let idx: number;
      while ((idx = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, idx);
        buffer = buffer.slice(idx + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            received.push(current);
            current = { from: '', to: [], data: '' };
            socket.write('250 queued\r\n');
            notify();
          } else current.data += `${line}\n`;
          continue;
        }
        const cmd = line.slice(0, 4).toUpperCase();
        if (cmd === 'QUIT') {
          socket.end('221 bye\r\n');
          continue;
        }
        if (cmd === 'MAIL') current.from = line;
        if (cmd === 'RCPT') current.to.push(line);
        if (cmd === 'DATA') inData = true;
        socket.write(cmd === 'DATA' ? '354 go ahead\r\n' : '250 ok\r\n');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    received,
    next: () => new Promise<void>((r) => (notify = r)),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

it('delivers the recovery email over SMTP and records it as sent', async () => {
  const smtp = await fakeSmtp();
  const t = await startTestServer({
    config: kratosTestConfig({
      courier: { smtp: { connection_uri: `smtp://127.0.0.1:${smtp.port}/`, from_address: 'kratos@example.com' } },
    }),
  });
  try {
    const b = new Browser();
    const init = await b.get(`${t.publicUrl}/self-service/recovery/browser`);
    const id = flowIdFrom(init.location, `${UI}/recovery`);
    const flow = (await b.getJson(`${t.publicUrl}/self-service/recovery/flows?id=${id}`)).json;
    const delivered = smtp.next();
    await b.postForm(`${t.publicUrl}/self-service/recovery?flow=${id}`, {
      method: 'link',
      csrf_token: csrfOf(flow),
      email: 'nobody@example.com',
    });
    await delivered;
    const mail = smtp.received[0];
    assert.ok(mail);
    assert.match(mail.from, /kratos@example\.com/);
    assert.match(mail.to[0] ?? '', /nobody@example\.com/);
    assert.match(mail.data, /Subject: Account access attempted/);
    let status = '';
    for (let i = 0; i < 100 && status !== 'sent'; i++) {
      status = (await courierMessages(t.adminUrl))[0]?.status ?? '';
      if (status !== 'sent') await new Promise((r) => setImmediate(r));
    }
    assert.equal(status, 'sent');
    assert.ok(!t.logs.some((l) => l.includes('no SMTP configured')), 'with SMTP the email is not logged as the mailbox');
  } finally {
    await t.close();
    await smtp.close();
  }
});

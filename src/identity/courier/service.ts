/**
 * Queues courier emails in the database and delivers them: over SMTP when
 * courier.smtp.connection_uri is set, otherwise into the log so a developer can click the link.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from '../../log.js';
import type { Clock } from '../x/clock.js';
import type { CourierStore } from '../persistence/courier-store.js';
import { renderEmail, type TemplateType } from './templates.js';

const MAX_ATTEMPTS = 5;

/** Kratos's SMTP URI (`smtps://user:pass@host:port/?skip_ssl_verify=true`) as nodemailer options. */
export function smtpOptions(uri: string) {
  const u = new URL(uri);
  const secure = u.protocol === 'smtps:';
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : secure ? 465 : 587,
    secure,
    ...(u.username ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } } : {}),
    tls: { rejectUnauthorized: u.searchParams.get('skip_ssl_verify') !== 'true' },
  };
}

export class CourierService {
  private readonly transport: Transporter | undefined;
  private readonly pending = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: CourierStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    smtpUri: string | undefined,
    private readonly from: string,
  ) {
    this.transport = smtpUri ? nodemailer.createTransport(smtpOptions(smtpUri)) : undefined;
  }

  send(type: TemplateType, to: string, link?: string): void {
    const email = renderEmail(type, link === undefined ? { to } : { to, link });
    const msg = this.store.enqueue({ recipient: to, subject: email.subject, body: email.body, templateType: type }, this.clock.now());
    if (!this.transport) {
      // Deliberate: without SMTP the log is the mailbox (the link is what a developer needs).
      this.logger.info(
        { courier_message_id: msg.id, to, subject: email.subject, template: type, link },
        'courier: email (no SMTP configured)',
      );
      this.store.setStatus(msg.id, 'sent', this.clock.now());
      return;
    }
    this.deliver(msg.id, to, email.subject, email.body, 1);
  }

  /** Delivery outlives requests; a status update after close() must not crash the process. */
  private safeStatus(id: string, status: 'sent' | 'abandoned'): void {
    try {
      this.store.setStatus(id, status, this.clock.now());
    } catch (err) {
      this.logger.warn({ courier_message_id: id, err: (err as Error).message }, 'courier: could not record delivery status');
    }
  }

  private deliver(id: string, to: string, subject: string, text: string, attempt: number): void {
    this.transport
      ?.sendMail({ from: this.from, to, subject, text })
      .then(() => this.safeStatus(id, 'sent'))
      .catch((err: Error) => {
        this.logger.warn({ courier_message_id: id, attempt, err: err.message }, 'courier: SMTP delivery failed');
        if (attempt >= MAX_ATTEMPTS) {
          this.safeStatus(id, 'abandoned');
          return;
        }
        const t = setTimeout(
          () => {
            this.pending.delete(t);
            this.deliver(id, to, subject, text, attempt + 1);
          },
          1000 * 2 ** attempt,
        );
        t.unref();
        this.pending.add(t);
      });
  }

  list() {
    return this.store.list();
  }

  close(): void {
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
    this.transport?.close();
  }
}

import nodemailer, { type Transporter } from 'nodemailer';
import type { UnitConfig } from '../../registry/schema.ts';
import type { Channel, Delivery } from './channel.ts';

/** E-mail (SMTP_URL, e.g. smtp://user:pass@host:587) to the unit's addresses: one channel id, `email`. */
export class EmailChannel implements Channel {
  readonly kind = 'email';
  private readonly transport: Transporter;

  constructor(
    smtpUrl: string,
    private readonly from: string,
  ) {
    // short timeouts: a hung mail server must fail the attempt so it can be retried, not hang it
    this.transport = nodemailer.createTransport(smtpUrl, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 } as never);
  }

  idsOf(unit: UnitConfig): string[] {
    return unit.email.length ? ['email'] : [];
  }

  /** The notification id becomes the Message-ID, so a resend after a crash can be recognised. */
  async send(unit: UnitConfig, _id: string, d: Delivery): Promise<void> {
    if (!unit.email.length) throw new Error('the unit has no e-mail address');
    await this.transport.sendMail({ from: this.from, to: unit.email, subject: d.message.title, text: d.message.text, messageId: `<${d.notificationId}@risk-monitor>` });
  }

  target(unit: UnitConfig): string {
    return unit.email.join(',');
  }

  close() {
    this.transport.close();
  }
}

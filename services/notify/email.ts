import nodemailer, { type Transporter } from 'nodemailer';
import type { Message } from './message.ts';

/** The e-mail channel (SMTP_URL, e.g. smtp://user:pass@host:587). */
export class EmailChannel {
  private readonly transport: Transporter;

  constructor(
    smtpUrl: string,
    private readonly from: string,
  ) {
    // short timeouts: a hung mail server must fail the attempt so it can be retried, not hang it
    this.transport = nodemailer.createTransport(smtpUrl, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 } as never);
  }

  /** `notificationId` becomes the Message-ID, so a resend after a crash can be recognised. */
  async send(to: string[], m: Message, notificationId?: string): Promise<string> {
    const info = await this.transport.sendMail({ from: this.from, to, subject: m.title, text: m.text, ...(notificationId ? { messageId: `<${notificationId}@risk-monitor>` } : {}) });
    return info.messageId;
  }

  close() {
    this.transport.close();
  }
}

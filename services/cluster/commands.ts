import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Outcome } from '../../domain/types.ts';
import { AlertError, AlertNotFound, AlertStepPending } from '../alerts/alert-book.ts';
import type { Alert, Disposition, Transition } from '../alerts/model.ts';
import { DISPOSITIONS } from '../alerts/model.ts';
import type { Feedback } from '../alerts/lifecycle.ts';
import type { ClusterLog } from './log.ts';
import { inbound, reply } from './subjects.ts';

/**
 * What changes an enterprise's alerts and rules from outside the readings, in cluster mode: a
 * person's step on an alert (from any API node), a baseline, a maintenance window or suspension
 * order (what the rules read of the world), a rule to start afresh, the service's own alerts. Each
 * is a message in the enterprise's partition of the log, so the partition's one owner applies it
 * in order with the readings, and whoever replays the log later applies it at the same place.
 * Messages in the log are read back through this schema: nothing in it is trusted as typed.
 */
const value = z.union([z.number(), z.boolean()]).nullable();
const outcome = z.object({
  key: z.string(),
  change: z.enum(['raise', 'update', 'clear']),
  ruleId: z.string(),
  ruleKind: z.string(),
  enterpriseId: z.string(),
  deviceId: z.string(),
  metric: z.string(),
  pointId: z.string().nullable().optional(),
  pointName: z.string().nullable().optional(),
  severity: z.enum(['info', 'warning', 'major', 'critical']).nullable(),
  value,
  peak: value,
  threshold: z.number().nullable(),
  at: z.number(),
  message: z.string(),
  flapping: z.boolean().optional(),
}) satisfies z.ZodType<Outcome>;
const span = z.object({ enterpriseId: z.string(), deviceId: z.string().nullable(), from: z.number(), until: z.number() });
const feedback = z.object({ cause: z.string(), measures: z.string(), disposition: z.enum(DISPOSITIONS), photos: z.array(z.string()) });

export const commandSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('ack'), id: z.string(), alertId: z.string(), actor: z.string(), note: z.string().optional(), toldAt: z.number().int().nonnegative().max(8.64e15).optional() }),
  z.object({ op: z.literal('close'), id: z.string(), alertId: z.string(), actor: z.string(), disposition: z.enum(DISPOSITIONS), note: z.string() }),
  z.object({ op: z.literal('feedback'), id: z.string(), alertId: z.string(), actor: z.string(), feedback }),
  z.object({ op: z.literal('review'), id: z.string(), alertId: z.string(), actor: z.string(), accepted: z.boolean(), note: z.string() }),
  z.object({ op: z.literal('baseline'), deviceId: z.string(), metric: z.string(), value: z.number() }),
  /** an enterprise's maintenance spans and suspension, as they are now */
  z.object({ op: z.literal('world'), enterpriseId: z.string(), maintenance: z.array(span), suspended: z.boolean() }),
  z.object({ op: z.literal('forget'), key: z.string() }),
  z.object({ op: z.literal('outcomes'), outcomes: z.array(outcome) }),
]);
export type Command = z.infer<typeof commandSchema>;
export type AlertCommand = Extract<Command, { op: 'ack' | 'close' | 'feedback' | 'review' }>;

/** What a person's step came to, sent back to the one waiting. */
export type CommandAnswer = { ok: true; alert: Alert } | { ok: false; error: 'not_found' | 'conflict' | 'failed'; code?: string; message: string };

export function encodeCommand(c: Command): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(c));
}

export function decodeCommand(data: Uint8Array): Command | null {
  try {
    const parsed = commandSchema.safeParse(JSON.parse(new TextDecoder().decode(data)));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The answer a step came to, as the one waiting reads it. */
export function answerOf(result: Alert | Error): CommandAnswer {
  if (!(result instanceof Error)) return { ok: true, alert: result };
  if (result instanceof AlertNotFound) return { ok: false, error: 'not_found', message: result.message };
  if (result instanceof AlertError) return { ok: false, error: 'conflict', code: result.code, message: result.message };
  return { ok: false, error: 'failed', message: result.message };
}


/**
 * The alert book as an API node sees it in cluster mode: a person's step goes into the alert's
 * partition as a command, and the answer comes back from the partition's owner once the step is
 * in the record. Reads go to PostgreSQL; the alerts still open are kept from the database and
 * the live events.
 */
export class RemoteBook {
  private open = new Map<string, Alert>();

  constructor(
    private readonly log: ClusterLog,
    /** the enterprise an alert belongs to (its partition is the enterprise's) */
    private readonly enterpriseOf: (alertId: string) => Promise<string | null>,
    private readonly clock: () => number,
    private readonly timeoutMs = 10_000,
  ) {}

  /** The open alerts as read from the database, then kept up by the live events. */
  useOpen(alerts: Alert[]) {
    this.open = new Map(alerts.map((a) => [a.id, a]));
  }

  heard(a: Alert) {
    if (a.state === 'closed') this.open.delete(a.id);
    else this.open.set(a.id, a);
  }

  openAlerts(): Alert[] {
    return [...this.open.values()];
  }

  /** An open alert as the live events last showed it. */
  current(id: string): Alert | undefined {
    return this.open.get(id);
  }

  /** An owner answers a step once it is in the record: an API node holds none waiting for it. */
  unrecordedOf(_id: string): Transition[] {
    return [];
  }

  unrecordedAlert(_id: string): Alert | undefined {
    return undefined;
  }

  /** Reads go to the database, which the owners commit to before they answer: nothing to wait for. */
  async settled(): Promise<void> {}

  ack(alertId: string, actor: string, note?: string, toldAt?: number): Promise<Alert> {
    return this.send({ op: 'ack', id: randomUUID(), alertId, actor, ...(note !== undefined ? { note } : {}), ...(toldAt !== undefined ? { toldAt } : {}) });
  }

  close(alertId: string, actor: string, disposition: Disposition, note: string): Promise<Alert> {
    return this.send({ op: 'close', id: randomUUID(), alertId, actor, disposition, note });
  }

  feedback(alertId: string, actor: string, f: Feedback): Promise<Alert> {
    return this.send({ op: 'feedback', id: randomUUID(), alertId, actor, feedback: f });
  }

  review(alertId: string, actor: string, accepted: boolean, note: string): Promise<Alert> {
    return this.send({ op: 'review', id: randomUUID(), alertId, actor, accepted, note });
  }

  private async send(c: AlertCommand): Promise<Alert> {
    // an alarm on the board may not be in the database yet
    const enterpriseId = this.open.get(c.alertId)?.enterpriseId ?? (await this.enterpriseOf(c.alertId));
    if (enterpriseId === null) throw new AlertNotFound(c.alertId);
    // listen for the answer before the command can be applied
    let timer: NodeJS.Timeout | undefined;
    let sub: { unsubscribe(): void } | undefined;
    const answered = new Promise<CommandAnswer>((resolve, reject) => {
      sub = this.log.subscribe(reply(c.id), (_s, data) => {
        sub?.unsubscribe();
        clearTimeout(timer);
        resolve(JSON.parse(new TextDecoder().decode(data)) as CommandAnswer);
      });
      timer = setTimeout(() => (sub?.unsubscribe(), reject(new AlertStepPending('no worker answered in time: the step is in the log and is applied when the partition has an owner again'))), this.timeoutMs);
    });
    try {
      await this.log.append(inbound(enterpriseId, null, 'c'), encodeCommand(c), this.clock());
    } catch (e) {
      sub?.unsubscribe();
      clearTimeout(timer);
      answered.catch(() => {});
      // the log may or may not have kept it (it did not say): a second try of the same step is
      // refused as done already, so the person looks before trying again
      throw new AlertStepPending(`the log did not confirm the step (${(e as Error).message}): it may still be applied; look at the alert before trying again`);
    }
    const a = await answered;
    if (a.ok) return a.alert;
    if (a.error === 'not_found') throw new AlertNotFound(c.alertId);
    if (a.error === 'conflict') throw new AlertError((a.code ?? 'ALERT_CLOSED') as AlertError['code'], a.message);
    throw new Error(a.message);
  }
}

import type { FastifyInstance, FastifyReply } from 'fastify';
import { formatCst } from '../../../domain/cst.ts';
import { INDICATORS, isMetric } from '../../../domain/indicators.ts';
import { ackAwaitedSince, type Alert } from '../../alerts/model.ts';
import { returnedSince } from '../../alerts/lifecycle.ts';
import { AlertStepPending } from '../../alerts/alert-book.ts';
import { ackable, type LinkUse } from '../../notify/ack-links.ts';
import type { ApiContext } from '../context.ts';

/**
 * The page an acknowledge link opens, outside /api and without a login. Opening it (GET) only
 * shows the alerts and a button: messengers and SMS apps fetch links to preview them, and a
 * preview must not acknowledge anything. The button (POST) acknowledges, once.
 */
const SEVERITY_ZH = { info: '提示', warning: '预警', major: '严重', critical: '紧急' } as const;

export function ackLinkRoutes(ctx: ApiContext) {
  return async (app: FastifyInstance) => {
    // the page's button posts an empty form: accepted here (only here), its body not read
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 }, (_req, _body, done) => done(null, {}));
    app.get('/ack/:token', async (req, reply) => {
      const { token } = req.params as { token: string };
      const seen = await ctx.ackLinks.look(token);
      return page(reply, seen, await alertsOf(ctx, seen), null, namer(ctx, seen));
    });

    app.post('/ack/:token', async (req, reply) => {
      const { token } = req.params as { token: string };
      const seen = await ctx.ackLinks.look(token);
      if (seen.outcome !== 'ok') {
        ctx.metrics.ackLinks.inc({ outcome: seen.outcome });
        return page(reply, seen, await alertsOf(ctx, seen), null, namer(ctx, seen));
      }
      const { link } = seen;
      const unit = ctx.registry().units.get(link.unitId);
      const actor = `ack-link:${link.unitId}`;
      const note = `确认链接 / acknowledge link: ${unit?.name ?? link.unitId} ${link.recipient} (${link.channel})`;
      const done: string[] = [];
      const kept: string[] = [];
      for (const id of link.alertIds) {
        // an alert someone else acknowledged or closed meanwhile stays as it is; one whose record
        // cannot be written now is acknowledged all the same (the step is kept and written later)
        // nor does a link acknowledge an alarm that came back after its notice went: whoever taps it
        // has not seen the return (its own notice carries a link of its own)
        const a = await ctx.book.ack(id, actor, note, link.createdAt).catch((e: Error) => (e instanceof AlertStepPending ? (kept.push(id), null) : null));
        if (a) done.push(a.id);
      }
      // the link is used up once what it did is in the record: a service stopped before a kept
      // step was written (a full disk, then kill -9) lost the step, and the link must still work.
      // Two taps at once: both acknowledge what is still open (the second finds nothing), one uses it
      // and should marking it used fail (a full disk that let the step in), what it acknowledged
      // stands: the page says so, and the link stays usable until a tap can mark it
      const used = kept.length
        ? seen
        : await ctx.ackLinks.use(seen).catch((err: Error) => (req.log.warn({ err: err.message, link: link.id }, 'acknowledge link not marked used; it stays usable'), seen));
      ctx.metrics.ackLinks.inc({ outcome: used.outcome });
      if (!done.length && !kept.length && used.outcome !== 'ok') return page(reply, used, await alertsOf(ctx, used), null, namer(ctx, used));
      ctx.audit.append(actor, 'alert.ack_link', link.id, { alerts: [...done, ...kept], unit: link.unitId, recipient: link.recipient, ...(kept.length ? { notYetRecorded: kept } : {}) });
      return page(reply, seen, await alertsOf(ctx, seen), done.length || kept.length ? [...done, ...kept] : null, namer(ctx, seen), kept.length > 0);
    });
  };
}

/** Names as the SMS used them: enterprise, device and point; who acknowledged, by name. */
interface Namer {
  enterprise(id: string): string;
  device(id: string): string;
  point(a: Alert): string;
  who(ackBy: string | null): string;
}

function namer(ctx: ApiContext, u: LinkUse): Namer {
  const reg = ctx.registry();
  return {
    enterprise: (id) => reg.enterprises.get(id)?.name ?? id,
    device: (id) => reg.devices.get(id)?.device.name ?? id,
    point: (a) => {
      const metric = isMetric(a.metric) ? INDICATORS[a.metric].zh : a.metric;
      return a.pointName ? `${a.pointName}（${metric}）` : metric;
    },
    who: (ackBy) => {
      if (!ackBy) return '';
      const m = /^ack-link:(.+)$/.exec(ackBy);
      if (!m) return ackBy;
      const unit = reg.units.get(m[1])?.name ?? m[1];
      return u.outcome !== 'invalid' && u.link.unitId === m[1] ? `${unit} ${u.link.recipient}` : unit;
    },
  };
}

async function alertsOf(ctx: ApiContext, u: LinkUse): Promise<Alert[]> {
  if (u.outcome === 'invalid') return [];
  // as the book holds them: a step taken may not be in the record yet
  const found = await Promise.all(u.link.alertIds.map(async (id) => ctx.book.current(id) ?? (await ctx.alerts.get(id))?.alert));
  return found.flatMap((a) => (a ? [a] : []));
}

function page(reply: FastifyReply, u: LinkUse, alerts: Alert[], acknowledged: string[] | null, names: Namer, notYetRecorded = false) {
  const status = u.outcome === 'invalid' ? 404 : u.outcome === 'expired' ? 410 : u.outcome === 'used' ? 409 : 200;
  // alarms that came back after this link's notice: not this link's to acknowledge (lifecycle.ts)
  const returned = new Set(u.outcome === 'invalid' ? [] : alerts.filter((a) => ackable(a) && returnedSince(a, u.link.createdAt)).map((a) => a.id));
  const open = alerts.filter((a) => ackable(a) && !returned.has(a.id));
  const head =
    u.outcome === 'invalid'
      ? ['链接无效', 'This link is not valid.']
      : u.outcome === 'expired'
        ? [`链接已于 ${formatCst(u.link.expiresAt)} 过期，请登录值班台确认`, `This link expired at ${formatCst(u.link.expiresAt)} (UTC+8). Acknowledge on the duty board.`]
        : u.outcome === 'used'
          ? [`链接已于 ${formatCst(u.link.usedAt!)} 使用过`, `This link was used at ${formatCst(u.link.usedAt!)} (UTC+8).`]
          : acknowledged && notYetRecorded
            ? [`已确认 ${acknowledged.length} 条报警（记录暂时无法写入，已保留，恢复后写入；如服务重启后仍显示未确认，请再点一次）`, `${acknowledged.length} alert(s) acknowledged. The record cannot be written right now: the acknowledgement is kept and written as soon as it can be (should the alert show unacknowledged after a restart, tap again).`]
          : acknowledged
            ? [`已确认 ${acknowledged.length} 条报警`, `${acknowledged.length} alert(s) acknowledged.`]
            : open.length
              ? ['确认收到以下报警？', 'Acknowledge these alerts?']
              : returned.size
                ? ['报警在此通知之后再次出现：请用新通知里的链接或登录值班台确认', 'The alarm came back after this notice: acknowledge it from its new notice or on the duty board.']
                : ['这些报警已有人确认或已关闭', 'These alerts are acknowledged or closed already.'];
  const rows = alerts
    .map(
      (a) =>
        `<li><b>${esc(SEVERITY_ZH[a.severity])} ${esc(a.severity)}</b> ${esc(names.point(a))} — ${esc(a.message)}<br><small>${esc(names.enterprise(a.enterpriseId))} · ${esc(names.device(a.deviceId))} · ${esc(formatCst(a.raisedAt))} · ${
          a.state === 'closed' ? '已关闭 closed' : a.acknowledged ? `已确认 acknowledged: ${esc(names.who(a.ackBy))}` : returned.has(a.id) ? `${esc(formatCst(ackAwaitedSince(a)))} 再次报警，未确认 came back, not acknowledged` : '未确认 not acknowledged'
        }</small></li>`,
    )
    .join('');
  const button = u.outcome === 'ok' && !acknowledged && open.length ? `<form method="post"><button type="submit">确认收到 / Acknowledge</button></form>` : '';
  const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${esc(head[0])}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:1.5em;max-width:40em}h1{font-size:1.3em}li{margin:.6em 0}button{font-size:1.2em;padding:.7em 1.4em;background:#c62828;color:#fff;border:0;border-radius:6px}</style></head>
<body><h1>${esc(head[0])}</h1><p>${esc(head[1])}</p><ul>${rows}</ul>${button}</body></html>`;
  // never cached or shared: each link is one person's. Its own policy: no scripts at all, and the
  // form posts to this same address over whatever scheme the page came by
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    .type('text/html; charset=utf-8')
    .send(html);
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

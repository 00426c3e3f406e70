import { formatCst } from '../../domain/cst.ts';
import { severityRank } from '../../domain/types.ts';
import type { UplinkConfig } from '../registry/schema.ts';
import { desCbc, keyBytes } from './ciphers.ts';
import type { Entry } from './items.ts';
import { postJson } from './platform-answer.ts';
import type { Sender } from './sender.ts';
import { ownEntry } from '../../domain/types.ts';

type DesUplink = Extract<UplinkConfig, { kind: 'http-des' }>;

/**
 * A provincial dust interface's style: POST `{ qybm, wgbm, data }`, `data` the DES-CBC
 * ciphertext of the JSON items, in Base64, written as upper-case hex. Real-time items are
 * `{ tnm, ts, val }`; alarm events `{ ts, oname, avx, scd, threshold, content }`, `scd` the level
 * (1 info … 4 critical) or 0 when the alarm clears. Times are local (China Standard Time).
 */
export function desSender(u: DesUplink): Sender {
  const key = keyBytes(u.key, 8);
  const iv = keyBytes(u.iv ?? u.key, 8);
  const seal = (items: unknown[]) => Buffer.from(desCbc(JSON.stringify(items), key, iv).toString('base64')).toString('hex').toUpperCase();
  return {
    async send(entry: Entry) {
      const items =
        entry.lane === 'readings'
          ? entry.samples.map((s) => ({ tnm: s.code, ts: formatCst(s.ts), val: String(s.value) }))
          : [
              {
                ts: formatCst(entry.event.ts),
                oname: entry.event.code,
                avx: entry.event.value === null ? '' : String(entry.event.value),
                scd: entry.event.state === 'clear' ? 0 : severityRank(entry.event.severity) + 1,
                threshold: entry.event.threshold === null ? '' : String(entry.event.threshold),
                content: entry.event.content,
              },
            ];
      const body = { qybm: ownEntry(u.enterpriseCodes, entry.enterpriseId) ?? entry.enterpriseId, wgbm: u.gatewayCode, data: seal(items) };
      await postJson(entry.lane === 'alarms' ? (u.alarmUrl ?? u.url) : u.url, body, { timeoutMs: u.timeoutS * 1000, successCodes: [200] });
    },
    async close() {},
  };
}

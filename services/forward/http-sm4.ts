import { formatCst } from '../../domain/cst.ts';
import type { UplinkConfig } from '../registry/schema.ts';
import { keyBytes, sm4Cbc } from './ciphers.ts';
import type { Entry } from './items.ts';
import { postJson } from './platform-answer.ts';
import type { Sender } from './sender.ts';
import { ownEntry } from '../../domain/types.ts';

type Sm4Uplink = Extract<UplinkConfig, { kind: 'http-sm4' }>;

/**
 * The national dust platform's style: POST `{ appid, data }`, `data` the Base64 SM4-CBC
 * (PKCS#7) ciphertext of the batch, the app secret in a header. The batch names the enterprise
 * and carries either real-time values or one alarm event. Success is `{ "code": 0 }` or 200.
 */
export function sm4Sender(u: Sm4Uplink): Sender {
  const key = keyBytes(u.key, 16);
  const iv = keyBytes(u.iv, 16);
  return {
    async send(entry: Entry) {
      const enterpriseCode = ownEntry(u.enterpriseCodes, entry.enterpriseId) ?? entry.enterpriseId;
      const batch =
        entry.lane === 'readings'
          ? { enterpriseCode, type: 'realtime', items: entry.samples.map((s) => ({ pointCode: s.code, ts: formatCst(s.ts), value: s.value })) }
          : {
              enterpriseCode,
              type: 'alarm',
              items: [
                {
                  alarmId: entry.event.alertId,
                  pointCode: entry.event.code,
                  ts: formatCst(entry.event.ts),
                  state: entry.event.state,
                  level: entry.event.severity,
                  value: entry.event.value,
                  threshold: entry.event.threshold,
                  content: entry.event.content,
                },
              ],
            };
      const data = sm4Cbc(JSON.stringify(batch), key, iv).toString('base64');
      await postJson(entry.lane === 'alarms' ? (u.alarmUrl ?? u.url) : u.url, { appid: u.appId, data }, {
        headers: { [u.secretHeader]: u.appSecret },
        timeoutMs: u.timeoutS * 1000,
        successCodes: [0, 200],
      });
    },
    async close() {},
  };
}

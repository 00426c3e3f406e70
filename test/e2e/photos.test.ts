import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { CHEM, MALL, testRegistry } from '../support/registry.ts';

/**
 * Photo uploads for feedback and rectification: images only, judged by content; size-limited;
 * only for the enterprise's own alerts and items; served only to callers who see the enterprise.
 */
function png(): Buffer {
  // a real 1×1 PNG, built here: signature, IHDR, IDAT, IEND with their CRCs
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.from([0, 255, 0, 0]))), chunk('IEND', Buffer.alloc(0))]);
}

describe('photos', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let alertId: string;
  let mallAlert: string;
  const upload = (token: string, query: string, data: Buffer, name = 'photo.jpg') => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(data)]), name);
    return fetch(`http://127.0.0.1:${app.ports.http}/api/photos?${query}`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
  };

  beforeAll(async () => {
    app = await startTestApp({ registry: testRegistry() });
    const gas = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await gas.telemetry({ seq: 1, values: { gas_lel: 30 } });
    await gas.end();
    const smoke = await connectDevice(app, MALL, 'smoke-1', 'secret-smoke-1');
    await smoke.telemetry({ seq: 1, values: { smoke_alarm: true } });
    await smoke.end();
    const items = (await apiClient(app, 'token-operator').get('/api/alerts?state=active')).json.items;
    alertId = items.find((a: any) => a.enterpriseId === CHEM).id;
    mallAlert = items.find((a: any) => a.enterpriseId === MALL).id;
  });
  afterAll(async () => app?.stop());

  it('keeps an image the enterprise sends for its own alert, and serves it only to those who see the enterprise', async () => {
    const r = await upload('token-chem', `alert=${alertId}`, png(), 'scene.jpg');
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ mime: 'image/png', url: `/api/photos/${r.json.id}` });
    const own = await fetch(`http://127.0.0.1:${app.ports.http}${r.json.url}`, { headers: { authorization: 'Bearer token-operator' } });
    expect(own.status).toBe(200);
    expect(own.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await own.arrayBuffer())).toEqual(png());
    expect((await apiClient(app, 'token-mall').get(r.json.url)).status).toBe(403);
    expect((await apiClient(app, 'token-regulator-b').get(r.json.url)).status).toBe(403);
  });

  it('refuses a non-image renamed .jpg, an oversized file, and another enterprise\'s alert', async () => {
    const fake = await upload('token-chem', `alert=${alertId}`, Buffer.from('#!/bin/sh\necho not a photo\n'), 'evil.jpg');
    expect(fake).toMatchObject({ status: 400, json: { error: 'BAD_REQUEST', field: 'file' } });
    // only the eight bytes of a PNG signature (from an outside probe: answered 500 before)
    const cut = await upload('token-chem', `alert=${alertId}`, png().subarray(0, 8), 'cut.png');
    expect(cut).toMatchObject({ status: 400, json: { error: 'BAD_REQUEST', field: 'file' } });
    const big = await upload('token-chem', `alert=${alertId}`, Buffer.concat([png(), Buffer.alloc(6 * 1024 * 1024)]));
    expect(big).toMatchObject({ status: 413, json: { error: 'PAYLOAD_TOO_LARGE', field: 'file' } });
    expect((await upload('token-chem', `alert=${mallAlert}`, png())).status).toBe(403);
    // a regulator reads, it does not send
    expect((await upload('token-regulator-a', `alert=${alertId}`, png())).status).toBe(403);
  });

  it('takes only photos uploaded for the enterprise in a rectification report', async () => {
    const item = await apiClient(app, 'token-regulator-a').post(`/api/alerts/${alertId}/hazard`, { description: '检查发现', dueAt: new Date(Date.now() + 86_400_000).toISOString() });
    const photo = await upload('token-chem', `hazard=${item.json.id}`, png());
    const chem = apiClient(app, 'token-chem');
    const foreign = await upload('token-mall', `alert=${mallAlert}`, png());
    expect((await chem.post(`/api/hazards/${item.json.id}/rectified`, { measures: '已整改', photos: [foreign.json.url] })).json).toMatchObject({ error: 'BAD_REQUEST', field: 'photos' });
    const done = await chem.post(`/api/hazards/${item.json.id}/rectified`, { measures: '已整改', photos: [photo.json.url] });
    expect(done.json.rectification.photos).toEqual([photo.json.url]);
  });
});

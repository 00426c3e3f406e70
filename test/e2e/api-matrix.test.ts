import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { CHEM, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Every endpoint × every kind of caller: operator, regulator of region A (Taixing: the chemical
 * plant) and of region B (Zhangjiagang: the mall), the chemical plant itself, no token and a bad
 * token. "ok" means allowed (2xx, or 409 when someone else already did it).
 */
type Who = 'none' | 'bad' | 'operator' | 'regA' | 'regB' | 'chem' | 'mall';
const TOKENS: Record<Who, string | undefined> = { none: undefined, bad: 'not-a-token', operator: 'token-operator', regA: 'token-regulator-a', regB: 'token-regulator-b', chem: 'token-chem', mall: 'token-mall' };
type Expect = 'ok' | 401 | 403 | 404;

describe('role × scope matrix over every endpoint', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let chemAlert = '';
  let silence = '';
  beforeAll(async () => {
    // an uplink to a platform that is not there: its endpoints answer all the same
    // every row tries a wrong token: more rows than the per-address ban allows in a minute
    app = await startTestApp({ registry: { ...testRegistry(), uplinks: [{ id: 'prov', kind: 'http-des', url: 'http://127.0.0.1:9/', key: '12345678', gatewayCode: 'G', enterprises: [CHEM] }] }, settings: { API_LOGIN_FAILURES: 1000 } });
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ values: { gas_lel: 25 } });
    chemAlert = await waitFor(async () => (await apiClient(app, 'token-operator').get('/api/alerts')).json.items[0]?.id, 5000, 'alert');
    await dev.end();
    silence = (await apiClient(app, 'token-operator').post('/api/silences', { enterpriseId: CHEM, reason: 'x', until: new Date(Date.now() + 3_600_000).toISOString() })).json.id;
  });
  afterAll(async () => app?.stop());

  const anon = { none: 'ok', bad: 'ok' } as const;
  const authed = { none: 401, bad: 401 } as const;
  const rows: [string, string, () => string, unknown, Partial<Record<Who, Expect>>][] = [
    ['health', 'GET', () => '/api/health', undefined, { ...anon, operator: 'ok', regA: 'ok', regB: 'ok', chem: 'ok', mall: 'ok' }],
    ['metrics', 'GET', () => '/metrics', undefined, { ...anon, operator: 'ok', chem: 'ok' }],
    ['who am I', 'GET', () => '/api/me', undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 'ok', chem: 'ok', mall: 'ok' }],
    ['alert timeline', 'GET', () => '/api/reports/timeline', undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 'ok', chem: 'ok', mall: 'ok' }],
    ['alert timeline of the plant', 'GET', () => `/api/reports/timeline?enterprise=${CHEM}&bucket=hour`, undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 403, chem: 'ok', mall: 403 }],
    ['alert list', 'GET', () => '/api/alerts', undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 'ok', chem: 'ok', mall: 'ok' }],
    ['alert list of the plant', 'GET', () => `/api/alerts?enterprise=${CHEM}`, undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 403, chem: 'ok', mall: 403 }],
    ['one alert', 'GET', () => `/api/alerts/${chemAlert}`, undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 403, chem: 'ok', mall: 403 }],
    ['acknowledge', 'POST', () => `/api/alerts/${chemAlert}/ack`, {}, { ...authed, operator: 'ok', regA: 403, regB: 403, chem: 'ok', mall: 403 }],
    ['close', 'POST', () => `/api/alerts/${chemAlert}/close`, { disposition: 'drill', note: 'x' }, { ...authed, operator: 'ok', regA: 403, regB: 403, chem: 'ok', mall: 403 }],
    ['feedback', 'POST', () => `/api/alerts/${chemAlert}/feedback`, { cause: '原因', measures: '措施' }, { ...authed, operator: 'ok', regA: 403, regB: 403, chem: 'ok', mall: 403 }],
    ['review', 'POST', () => `/api/alerts/${chemAlert}/review`, { accepted: false, note: '退回' }, { ...authed, operator: 'ok', regA: 'ok', regB: 403, chem: 403, mall: 403 }],
    ['open an item from an alert', 'POST', () => `/api/alerts/${chemAlert}/hazard`, { description: '隐患', dueAt: new Date(Date.now() + 86_400_000).toISOString() }, { ...authed, operator: 'ok', regA: 'ok', regB: 403, chem: 403, mall: 403 }],
    ['monthly report', 'GET', () => '/api/reports/monthly', undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 'ok', chem: 403, mall: 403 }],
    ['export', 'GET', () => `/api/alerts/export.csv?enterprise=${CHEM}`, undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 403, chem: 'ok', mall: 403 }],
    // a device outside the scope is answered as an unknown one: its owner is not given away
    ['telemetry', 'GET', () => '/api/telemetry?device=gas-1', undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 404, chem: 'ok', mall: 404 }],
    ['enterprises', 'GET', () => '/api/enterprises', undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 'ok', chem: 'ok', mall: 'ok' }],
    ['one enterprise', 'GET', () => `/api/enterprises/${CHEM}`, undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 403, chem: 'ok', mall: 403 }],
    ['register a device', 'POST', () => `/api/enterprises/${CHEM}/devices`, { id: `m-${Math.random().toString(36).slice(2, 8)}`, points: [{ metric: 'gas_lel' }] }, { ...authed, operator: 'ok', regA: 403, regB: 403, chem: 'ok', mall: 403 }],
    ['baselines', 'GET', () => `/api/enterprises/${CHEM}/devices/gas-1/baselines`, undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 403, chem: 'ok', mall: 403 }],
    ['set a baseline', 'POST', () => `/api/enterprises/${CHEM}/devices/gas-1/baselines`, { metric: 'gas_lel', value: 1 }, { ...authed, operator: 'ok', regA: 403, regB: 403, chem: 'ok', mall: 403 }],
    ['operating status history', 'GET', () => `/api/enterprises/${CHEM}/status/history`, undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 403, chem: 'ok', mall: 403 }],
    ['set the operating status', 'POST', () => `/api/enterprises/${CHEM}/status`, { status: 'operating', reason: '复核' }, { ...authed, operator: 'ok', regA: 'ok', regB: 403, chem: 403, mall: 403 }],
    ['rectification items', 'GET', () => '/api/hazards?state=all', undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 'ok', chem: 'ok', mall: 'ok' }],
    ['open an item from an inspection', 'POST', () => '/api/hazards', { enterpriseId: CHEM, description: '检查发现', dueAt: new Date(Date.now() + 86_400_000).toISOString() }, { ...authed, operator: 'ok', regA: 'ok', regB: 403, chem: 403, mall: 403 }],
    ['coverage', 'GET', () => '/api/reports/coverage', undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 'ok', chem: 403, mall: 403 }],
    ['summary', 'GET', () => '/api/reports/summary', undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 'ok', chem: 'ok', mall: 'ok' }],
    ['summary of the plant', 'GET', () => `/api/reports/summary?enterprise=${CHEM}`, undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 403, chem: 'ok', mall: 403 }],
    ['silences', 'GET', () => '/api/silences', undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 'ok', chem: 'ok', mall: 'ok' }],
    ['create a silence', 'POST', () => '/api/silences', { enterpriseId: CHEM, reason: '检修', until: new Date(Date.now() + 3_600_000).toISOString() }, { ...authed, operator: 'ok', regA: 403, regB: 403, chem: 'ok', mall: 403 }],
    ['end a silence', 'POST', () => `/api/silences/${silence}/end`, undefined, { ...authed, operator: 'ok', regA: 403, regB: 403, chem: 'ok', mall: 403 }],
    ['uplinks', 'GET', () => '/api/uplinks', undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 'ok', chem: 'ok', mall: 'ok' }],
    ['dead letters', 'GET', () => '/api/uplinks/prov/dead-letters', undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 'ok', chem: 403, mall: 403 }],
    ['requeue dead letters', 'POST', () => '/api/uplinks/prov/dead-letters/requeue', undefined, { ...authed, operator: 'ok', regA: 403, regB: 403, chem: 403, mall: 403 }],
    ['retry an uplink', 'POST', () => '/api/uplinks/prov/retry', undefined, { ...authed, operator: 'ok', regA: 403, regB: 403, chem: 403, mall: 403 }],
    ['audit verify', 'GET', () => '/api/audit/verify', undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 'ok', chem: 403, mall: 403 }],
    ['audit head', 'GET', () => '/api/audit/head', undefined, { ...authed, operator: 'ok', regA: 'ok', regB: 'ok', chem: 403, mall: 403 }],
  ];

  // the less privileged callers first, so an allowed change by the operator does not hide a refusal
  const order: Who[] = ['none', 'bad', 'regA', 'regB', 'mall', 'chem', 'operator'];
  it.each(rows)('%s (%s)', async (_name, method, path, body, expected) => {
    for (const who of order) {
      const want = expected[who];
      if (want === undefined) continue;
      const api = apiClient(app, TOKENS[who]);
      const r = method === 'GET' ? await api.get(path()) : await api.post(path(), body ?? {});
      if (want === 'ok') expect([200, 201, 409], `${who} ${method} ${path()}: ${r.text.slice(0, 120)}`).toContain(r.status);
      else expect(r.status, `${who} ${method} ${path()}: ${r.text.slice(0, 120)}`).toBe(want);
    }
  });

  it('never shows a secret or a token, nor their hashes, in any answer', async () => {
    const op = apiClient(app, 'token-operator');
    const answers = await Promise.all(['/api/enterprises', `/api/enterprises/${CHEM}`, '/api/alerts', '/api/silences', '/api/reports/summary', '/api/audit/verify', '/api/uplinks'].map((p) => op.get(p)));
    for (const r of answers) for (const bad of ['secret-gas-1', 'token-operator', 'scrypt$', 'sha256$', 'secretHash', '12345678']) expect(r.text).not.toContain(bad);
  });

  it('streams to callers with a token only', async () => {
    const res = await fetch(`http://127.0.0.1:${app.ports.http}/api/alerts/stream`);
    expect(res.status).toBe(401);
    const ok = await fetch(`http://127.0.0.1:${app.ports.http}/api/alerts/stream?token=token-mall`, { signal: AbortSignal.timeout(500) }).catch((e: Error) => e);
    expect(ok instanceof Error ? ok.name : (ok as Response).status).toBe(200);
  });

  it('sends security headers and limits request rates per caller', async () => {
    const r = await fetch(`http://127.0.0.1:${app.ports.http}/api/health`);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('content-security-policy')).toContain("default-src 'self'");
    const limited = await startTestApp({ settings: { API_RATE_LIMIT: 5 } });
    const api = apiClient(limited, 'token-operator');
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) codes.push((await api.get('/api/enterprises')).status);
    expect(codes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    const refused = await api.get('/api/enterprises');
    expect(refused.status).toBe(429);
    expect(refused.json.error).toBe('RATE_LIMITED');
    // another caller is not held up by the first
    expect((await apiClient(limited, 'token-chem').get('/api/enterprises')).status).toBe(200);
    expect((await apiClient(limited).get('/api/health')).status).toBe(200);
    await limited.stop();
  });
});

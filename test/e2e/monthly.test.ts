import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { CHEM, hookUnit, testRegistry } from '../support/registry.ts';
import { startReceiver } from '../support/receivers.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The monthly report of a region: JSON for the statistics page, and the same as an Excel workbook
 * that opens (read back here with the library that wrote it) and agrees with the API.
 */
describe('the monthly report', () => {
  const T = Date.UTC(2026, 10, 20, 2, 0, 0); // 20 Nov 2026, 10:00 CST
  let now = T;
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    hooks = await startReceiver();
    const reg = testRegistry();
    hookUnit(reg, 'reg-a', hooks.url);
    // no scheduled jobs: a sweep on the wall clock's 10 s would find the hazard overdue (the clock
    // has moved two days) and raise an alert in the middle of the counting
    app = await startTestApp({ registry: reg, clock: () => now, tickMs: 0, schedule: false });
    const gas = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await gas.telemetry({ ts: now, seq: 1, values: { gas_lel: 45 } });
    await gas.telemetry({ ts: now + 1000, seq: 2, values: { gas_lel: 150 } });
    await gas.end();
    await apiClient(app, 'token-regulator-a').post('/api/hazards', { enterpriseId: CHEM, description: '检查发现', dueAt: new Date(now + 86_400_000).toISOString() });
    now += 2 * 86_400_000;
  });
  afterAll(async () => {
    await app?.stop();
    await hooks?.close();
  });

  it('counts the month by industry and enterprise, and the workbook says the same', async () => {
    const regulator = apiClient(app, 'token-regulator-a');
    const r = (await regulator.get('/api/reports/monthly?month=2026-11')).json;
    expect(r).toMatchObject({ month: '2026-11', from: '2026-10-31T16:00:00.000Z', to: '2026-11-30T16:00:00.000Z' });
    const chem = r.enterprises.find((e: any) => e.enterpriseId === CHEM);
    expect(chem).toMatchObject({ alerts: 2, bySeverity: { critical: 1, warning: 1 }, hazardsOpen: 1, hazardsOverdue: 1, mustConnect: true, connected: true });
    expect(r.totals).toMatchObject({ alerts: 2, hazardsOpen: 1, hazardsOverdue: 1 });
    expect(r.byIndustry.find((i: any) => i.industry === 'hazchem')).toMatchObject({ alerts: 2 });
    // another month is empty; an enterprise gets no report
    expect((await regulator.get('/api/reports/monthly?month=2026-10')).json.totals.alerts).toBe(0);
    expect((await apiClient(app, 'token-chem').get('/api/reports/monthly')).status).toBe(403);
    expect((await regulator.get('/api/reports/monthly?month=2026-13')).json).toMatchObject({ error: 'BAD_REQUEST', field: 'month' });

    const xlsx = await regulator.get('/api/reports/monthly.xlsx?month=2026-11');
    expect(xlsx.headers.get('content-type')).toContain('spreadsheetml');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(xlsx.bytes as unknown as ArrayBuffer);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['企业 Enterprises', '行业 Industries', '合计 Totals']);
    const totals = new Map<string, unknown>();
    wb.getWorksheet('合计 Totals')!.eachRow((row, n) => n > 1 && totals.set(String(row.getCell(1).value), row.getCell(2).value));
    expect(totals.get('报警 alerts')).toBe(r.totals.alerts);
    expect(totals.get('隐患逾期 hazards overdue')).toBe(r.totals.hazardsOverdue);
    expect(wb.getWorksheet('企业 Enterprises')!.rowCount - 1).toBe(r.enterprises.length);
  });

  it('goes to each regulator on the 25th, with its totals and where the workbook is', async () => {
    await app.monthlyReports();
    // past the unit's group wait
    now += 1000;
    await app.settled();
    const sent = await waitFor(() => hooks.requests.find((x) => x.url === '/reg-a' && (x.body as any).notice === 'summary' && String((x.body as any).title).includes('月度报告')), 5000, 'the monthly report');
    expect((sent.body as any).data.totals).toMatchObject({ alerts: 2, hazardsOverdue: 1 });
    expect((sent.body as any).text).toContain('/api/reports/monthly.xlsx?month=2026-11');
  });
});

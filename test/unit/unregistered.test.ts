import { describe, expect, it } from 'vitest';
import { unregisteredClears } from '../../services/alerts/unregistered.ts';
import type { Alert } from '../../services/alerts/model.ts';
import { SYSTEM } from '../../services/alerts/system-alerts.ts';
import { composeRegistry } from '../../services/registry/compose.ts';
import { CAST, CHEM, testRegistry } from '../support/registry.ts';

/** At the start: which active alarms the registry no longer has a device for (the file edited while the service was down). */
describe('alarms of devices gone from the registry, at the start', () => {
  const registry = composeRegistry(testRegistry(), [], 'registry').registry;
  const alert = (over: Partial<Alert>) => ({ key: `${over.deviceId}/${over.rule ?? 'gas-lel'}`, state: 'active', rule: 'gas-lel', ruleKind: 'threshold', enterpriseId: CHEM, metric: 'gas_lel', value: 45, peak: 45, ...over }) as Alert;

  it('clears the rule alarms of devices gone or now another enterprise’s, and nothing else', () => {
    const open = [
      alert({ deviceId: 'gas-1' }),
      alert({ deviceId: 'gone-1' }),
      alert({ deviceId: 'caster-1', enterpriseId: CHEM }),
      alert({ deviceId: 'gone-2', state: 'cleared' }),
      alert({ deviceId: 'gone-3', ruleKind: 'refused', rule: 'readings-refused' }),
      alert({ deviceId: SYSTEM, enterpriseId: SYSTEM, ruleKind: 'system', rule: 'reading-pipeline' }),
      alert({ deviceId: 'gone-4', ruleKind: 'hazard', rule: 'hazard-overdue' }),
    ];
    const clears = unregisteredClears(open, registry, 1000);
    expect(clears.map((o) => [o.deviceId, o.enterpriseId, o.change, o.at, o.message])).toEqual([
      ['gone-1', CHEM, 'clear', 1000, expect.stringContaining('no longer in the registry')],
      ['caster-1', CHEM, 'clear', 1000, expect.stringContaining('moved to another enterprise')],
    ]);
    expect(registry.devices.get('caster-1')!.enterprise.id).toBe(CAST);
    expect(clears[0]).toMatchObject({ key: 'gone-1/gas-lel', ruleId: 'gas-lel', ruleKind: 'threshold', metric: 'gas_lel', severity: null });
  });
});

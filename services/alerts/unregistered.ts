import type { Outcome } from '../../domain/types.ts';
import { DEVICE_GONE, DEVICE_MOVED } from '../../rules/engine.ts';
import { ruleSchema } from '../../rules/schema.ts';
import type { Registry } from '../registry/registry.ts';
import type { Alert } from './model.ts';

/** The rules engine's kinds (rules/schema.ts): their alerts name a device of the registry. */
const RULE_KINDS: ReadonlySet<string> = new Set(ruleSchema.options.map((o) => o.shape.kind.value));

/**
 * At the start, the rule alarms still active whose device the registry no longer has, or has as
 * another enterprise's: the file was edited while the service was down. The engine starts without
 * their verdicts, so no reading could ever clear them; they clear as a reload clears them
 * (rules/engine.ts `reconcile`), saying so, and stay open for their enterprise to handle. Alerts of
 * other kinds (system, hazards, fire panels, refused readings) are not the registry's to judge.
 */
export function unregisteredClears(open: readonly Alert[], registry: Registry, at: number): Outcome[] {
  return open
    .filter((a) => a.state === 'active' && RULE_KINDS.has(a.ruleKind) && registry.devices.get(a.deviceId)?.enterprise.id !== a.enterpriseId)
    .map((a) => ({
      key: a.key,
      change: 'clear',
      ruleId: a.rule,
      ruleKind: a.ruleKind,
      enterpriseId: a.enterpriseId,
      deviceId: a.deviceId,
      metric: a.metric,
      pointId: a.pointId ?? null,
      pointName: a.pointName ?? null,
      severity: null,
      value: a.value,
      peak: a.peak,
      threshold: null,
      at,
      flapping: false,
      message: registry.devices.has(a.deviceId) ? DEVICE_MOVED : DEVICE_GONE,
    }));
}

import type { RuleImpl } from './kind.ts';
import type { MaintenanceRuleDef } from './schema.ts';
import { BY_METRIC, type RuleContext } from './points.ts';

/**
 * Values marked `quality: maintenance` are kept out of every alarm rule, so marking them is a way
 * to hide an alarm (concealment is itself a violation). Within a maintenance window or silence
 * registered for the device that is what maintenance is; outside one it raises this alert, one per
 * device, cleared when the device stops marking values or the marking is announced.
 */
export function maintenanceRule(def: MaintenanceRuleDef, ctx: RuleContext = BY_METRIC): RuleImpl<{ raised: boolean }> {
  const QUIET = { raised: false };
  const RAISED = { raised: true };
  return {
    id: def.id,
    kind: 'maintenance',
    metric: '_device',
    perMetric: false,
    triggers: '*',
    init: () => QUIET,
    onReading(s, r, d, _now, out) {
      // the common case, no quality at all, looks at nothing
      if (!r.quality && !s.raised) return s;
      const marked: string[] = [];
      if (r.quality) for (const m in r.quality) if (r.quality[m] === 'maintenance') marked.push(m);
      const hiding = marked.length > 0 && !d.maintenanceAnnounced(r.ts);
      if (hiding === s.raised) return s;
      const names = marked.map((m) => ctx.names(m));
      out.push({
        metric: '',
        severity: hiding ? def.severity : null,
        value: marked.length,
        threshold: null,
        message: () =>
          def.message ??
          (hiding
            ? `${names.map((n) => n.zh).join('、')} 标记为维护，但未登记维护窗口或静默 / ${names.map((n) => n.en).join(', ')} marked maintenance without an announced maintenance window or silence`
            : '维护标记已结束或已登记 / maintenance marking ended or announced'),
      });
      return hiding ? RAISED : QUIET;
    },
    seed: () => RAISED,
  };
}

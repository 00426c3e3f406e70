import type { EnterpriseConfig } from '../registry/schema.ts';

/**
 * Whether an enterprise must be connected to the monitoring (domain.md, "The closed loop"): dust
 * enterprises with 10 or more workers exposed to dust, 5 or more for aluminium or magnesium dust;
 * every aluminium deep-well casting plant, steel plant, hazardous-chemical site, gas user and
 * crowded premises of the campaign. A profile may say otherwise, and then that is the answer.
 */
const METAL_DUSTS = new Set(['aluminium', 'aluminum', 'magnesium', '铝', '镁', '铝镁']);

export function mustConnect(ent: Pick<EnterpriseConfig, 'industry' | 'profile'>): { must: boolean; why: string } {
  const p = ent.profile;
  if (p?.mustConnect !== undefined) return { must: p.mustConnect, why: 'the profile says so' };
  if (ent.industry !== 'dust') return { must: true, why: `${ent.industry}: every such enterprise` };
  const metal = p?.dustType !== undefined && METAL_DUSTS.has(p.dustType.toLowerCase());
  const threshold = metal ? 5 : 10;
  if (p?.exposedWorkers === undefined) return { must: true, why: `dust: exposed headcount not given (${threshold}+ must connect)` };
  return p.exposedWorkers >= threshold
    ? { must: true, why: `dust${metal ? ' (aluminium/magnesium)' : ''}: ${p.exposedWorkers} exposed workers, ${threshold} or more` }
    : { must: false, why: `dust${metal ? ' (aluminium/magnesium)' : ''}: ${p.exposedWorkers} exposed workers, fewer than ${threshold}` };
}

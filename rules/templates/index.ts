import type { Industry } from '../../domain/indicators.ts';
import type { RuleInput } from '../schema.ts';
import { aluminumCasting } from './aluminum_casting.ts';
import { common } from './common.ts';
import { dataQuality } from './data_quality.ts';
import { dust } from './dust.ts';
import { fire } from './fire.ts';
import { gasUser, hazchem } from './hazchem.ts';
import { steel } from './steel.ts';
import { buildingMaterials } from './building_materials.ts';

/**
 * Industry templates: the default rules of each industry in domain.md. A device names the
 * templates it follows; the registry applies them to the points the device has and lets a site
 * override any rule by id.
 */
export const TEMPLATES: Record<Industry | 'common' | 'data_quality', readonly RuleInput[]> = {
  dust,
  aluminum_casting: aluminumCasting,
  steel,
  hazchem,
  gas_user: gasUser,
  fire,
  building_materials: buildingMaterials,
  common,
  data_quality: dataQuality,
};

export type TemplateName = keyof typeof TEMPLATES;
/** the templates a device may name; data_quality applies to every device without being named */
export const TEMPLATE_NAMES = (Object.keys(TEMPLATES) as TemplateName[]).filter((t) => t !== 'data_quality');

/**
 * Toxic gases by name, with the alarm limits GB/T 50493-2019 (石油化工可燃气体和有毒气体检测报警设计
 * 标准) sets from the occupational exposure limits of GBZ 2.1-2019: the first level at most
 * 100 % OEL, the second at most 200 % OEL. The OEL is the MAC where GBZ 2.1 gives one, else the
 * PC-TWA (the standard's own table of common gases sets the first level there, e.g. CO 20 mg/m³,
 * NH3 20 mg/m³, not their PC-STEL of 30). Limits are in mg/m³; a point measuring in ppm converts
 * at 20 °C (mg/m³ = ppm × M / 24.04, the standard's convention). The figures are GBZ 2.1-2019
 * Table 1's as GB/T 50493-2019 tabulates them for common toxic gases; for formaldehyde the
 * reproductions differ, and the GBZ 2.1 MAC (0.5 mg/m³), the stricter, is kept.
 */
export interface ToxicGas {
  zh: string;
  /** molar mass, g/mol */
  molarMass: number;
  /** GBZ 2.1-2019, mg/m³: which limit it is and its value */
  oel: { kind: 'MAC' | 'PC-TWA'; mgM3: number };
}

export const TOXIC_GASES = {
  H2S: { zh: '硫化氢', molarMass: 34.08, oel: { kind: 'MAC', mgM3: 10 } },
  CO: { zh: '一氧化碳', molarMass: 28.01, oel: { kind: 'PC-TWA', mgM3: 20 } },
  NH3: { zh: '氨', molarMass: 17.03, oel: { kind: 'PC-TWA', mgM3: 20 } },
  Cl2: { zh: '氯气', molarMass: 70.9, oel: { kind: 'MAC', mgM3: 1 } },
  SO2: { zh: '二氧化硫', molarMass: 64.07, oel: { kind: 'PC-TWA', mgM3: 5 } },
  NO2: { zh: '二氧化氮', molarMass: 46.01, oel: { kind: 'PC-TWA', mgM3: 5 } },
  NO: { zh: '一氧化氮', molarMass: 30.01, oel: { kind: 'PC-TWA', mgM3: 5 } },
  HCN: { zh: '氰化氢', molarMass: 27.03, oel: { kind: 'MAC', mgM3: 1 } },
  HCl: { zh: '氯化氢', molarMass: 36.46, oel: { kind: 'MAC', mgM3: 7.5 } },
  HF: { zh: '氟化氢', molarMass: 20.01, oel: { kind: 'MAC', mgM3: 2 } },
  COCl2: { zh: '光气', molarMass: 98.92, oel: { kind: 'MAC', mgM3: 0.5 } },
  C6H6: { zh: '苯', molarMass: 78.11, oel: { kind: 'PC-TWA', mgM3: 6 } },
  C7H8: { zh: '甲苯', molarMass: 92.14, oel: { kind: 'PC-TWA', mgM3: 50 } },
  C8H10: { zh: '二甲苯', molarMass: 106.17, oel: { kind: 'PC-TWA', mgM3: 50 } },
  CH2O: { zh: '甲醛', molarMass: 30.03, oel: { kind: 'MAC', mgM3: 0.5 } },
  CH3OH: { zh: '甲醇', molarMass: 32.04, oel: { kind: 'PC-TWA', mgM3: 25 } },
  C3H3N: { zh: '丙烯腈', molarMass: 53.06, oel: { kind: 'PC-TWA', mgM3: 1 } },
  O3: { zh: '臭氧', molarMass: 48.0, oel: { kind: 'MAC', mgM3: 0.3 } },
} as const satisfies Record<string, ToxicGas>;

export type ToxicGasName = keyof typeof TOXIC_GASES;
export const TOXIC_GAS_NAMES = Object.keys(TOXIC_GASES) as ToxicGasName[];

export function isToxicGas(name: string): name is ToxicGasName {
  return Object.hasOwn(TOXIC_GASES, name);
}

/** mg/m³ at 20 °C per ppm of the gas */
const mgPerPpm = (g: ToxicGas) => g.molarMass / 24.04;

/** The most a level may be set at, in the point's unit (`ppm` or `mg/m³`); null for another unit. */
export function toxicLimits(gas: ToxicGasName, unit: string): { first: number; second: number } | null {
  const g: ToxicGas = TOXIC_GASES[gas];
  const inUnit = unit === 'ppm' ? (mg: number) => mg / mgPerPpm(g) : unit === 'mg/m³' || unit === 'mg/m3' ? (mg: number) => mg : null;
  if (!inUnit) return null;
  // rounded down to what a setpoint is written with, so the default is never above the limit
  const floor2 = (v: number) => Math.floor(v * 100) / 100;
  return { first: floor2(inUnit(g.oel.mgM3)), second: floor2(inUnit(2 * g.oel.mgM3)) };
}

// Plain data, no imports: the dashboards read this type too.

/**
 * What a regulator reviews: per enterprise, alerts by severity and by rule kind, how fast they
 * were acknowledged and closed, what is still unhandled, and how much of the time its devices
 * reported (online rate).
 */
export interface SummaryRow {
  enterpriseId: string;
  name: string;
  region: string;
  industry: string;
  alerts: number;
  bySeverity: Record<string, number>;
  byRuleKind: Record<string, number>;
  unacknowledged: number;
  open: number;
  medianAckS: number | null;
  medianCloseS: number | null;
  /** share of reporting intervals with at least one reading, over the devices, each since it was first seen; null: none ever reported */
  onlineRate: number | null;
  /** rectification items not signed off, and those of them past their deadline */
  hazardsOpen: number;
  hazardsOverdue: number;
}

/**
 * China Standard Time (UTC+8, no daylight saving): the time people read in messages, reports and
 * the platforms' payloads, and the calendar days reports cover.
 */
const DAY_MS = 86_400_000;
const CST_OFFSET_MS = 8 * 3_600_000;

const cst = new Intl.DateTimeFormat('sv-SE', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

/** `2026-11-23 00:30:00` */
export const formatCst = (ms: number) => cst.format(new Date(ms));

/** The calendar day (CST) before the one `now` falls in: what a morning's daily summary covers. */
export function previousDayCst(now: number): { from: number; to: number } {
  const to = Math.floor((now + CST_OFFSET_MS) / DAY_MS) * DAY_MS - CST_OFFSET_MS;
  return { from: to - DAY_MS, to };
}

/** The month (YYYY-MM) a moment falls in, as China Standard Time counts it. */
export function monthOfCst(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 7);
}

/**
 * Every reason the gateway can refuse something a device sent, with a stable code a device
 * developer can search for in the README. The gateway answers each on the device's `reject` topic.
 */
export const REJECT_CODES = {
  PAYLOAD_TOO_LARGE: 'the payload is larger than the gateway accepts',
  PAYLOAD_NOT_JSON: 'the payload is not valid JSON (UTF-8)',
  PAYLOAD_INVALID: 'the payload must be one reading object or an array of readings',
  TOO_MANY_READINGS: 'the array holds more readings than one message may carry',
  READING_INVALID: 'the reading does not have the shape the contract gives',
  READING_EMPTY: 'the reading carries no values',
  TS_INVALID: 'ts must be epoch milliseconds or an ISO-8601 time',
  TS_IN_FUTURE: 'ts is further in the future than the allowed clock skew',
  TS_TOO_OLD: 'ts is further back than any buffered reading (gateway.maxPastS): the device clock has lost its time. The reading was kept, as of its arrival',
  DUPLICATE_SEQ: 'a reading with this seq was already accepted from this device',
  UNKNOWN_METRIC: 'the metric is not a point of this device in the registry',
  VALUE_INVALID: 'the value has the wrong type for its metric (number or boolean) or is not finite',
  VALUE_OUT_OF_RANGE: 'the number is so far outside the sensor\'s physical range that it cannot be a measurement',
  QUALITY_INVALID: 'quality must be "good", "fault" or "maintenance"',
  STATUS_INVALID: 'status must be "online" or "offline"',
  TOPIC_NOT_ALLOWED: 'a device may publish only to its own telemetry and status topics',
  MESSAGE_NOT_PROCESSED: 'the gateway could not process this message (it was not stored); the fault is logged and counted',
  TOO_MANY_SUBSCRIPTIONS: 'a connection may hold 16 subscriptions (a device) or 64 (an API user): the rest are refused (SUBACK 128)',
  RATE_LIMITED: 'the device sends faster than it is allowed to (answered at most once a second)',
  MORE_REJECTS: 'the message had more problems than are answered one by one (the first 10 are): detail says how many more, and of which codes',
} as const;

export type RejectCode = keyof typeof REJECT_CODES;

export interface Reject {
  code: RejectCode;
  /** where in the payload: "[3].values.gas_lel", "ts", … */
  path?: string;
  detail?: string;
  /** how many problems of this code it stands for, past the ones listed one by one (LISTED_REJECTS); 1 when absent */
  count?: number;
}

/**
 * The problems of one message listed one by one; past these, counted by code. Each listed one is
 * built, copied to the gateway's thread and counted there: one reading with 24 000 names no point
 * has held the pipeline 50 ms to judge and 50 ms to hand back, 500 such messages held every
 * reading for a minute, and 2 000 ran the pipeline's thread out of memory (an outside probe).
 */
export const LISTED_REJECTS = 100;

/** `rejects` with those past LISTED_REJECTS folded into one entry per code, counted. */
export function listedRejects(rejects: Reject[], unlisted: Map<RejectCode, number> = new Map()): Reject[] {
  for (let i = LISTED_REJECTS; i < rejects.length; i++) unlisted.set(rejects[i].code, (unlisted.get(rejects[i].code) ?? 0) + (rejects[i].count ?? 1));
  if (!unlisted.size) return rejects;
  const listed = rejects.slice(0, LISTED_REJECTS);
  for (const [code, count] of unlisted) listed.push({ code, count });
  return listed;
}

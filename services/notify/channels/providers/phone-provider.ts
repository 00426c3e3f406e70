import { answerText, redirectError } from '../answer.ts';

/**
 * What an SMS or voice provider is given: the template's variables (cloud providers send only
 * pre-approved templates), and the whole text for gateways that take free text.
 */
export interface PhoneParams {
  /** 紧急 / 严重 / …  */
  level: string;
  enterprise: string;
  /** device and point as people name them */
  point: string;
  /** 报警, 报警升级, 报警消除 … */
  event: string;
  /** China Standard Time, MM-DD HH:mm */
  time: string;
  /** the acknowledge link's token ('-' when the message has none) */
  code: string;
}

export interface PhoneMessage {
  params: PhoneParams;
  /** the whole message, with the acknowledge link when there is one */
  text: string;
  notificationId: string;
}

export interface PhoneProvider {
  sms(to: string, m: PhoneMessage): Promise<void>;
  call(to: string, m: PhoneMessage): Promise<void>;
}

/** A provider's answer that means "not now": the message waits until `retryAt` instead of failing. */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly throttled = false,
  ) {
    super(message);
  }
}

/** Cut to `max` characters (code points: Chinese counts one each, as the providers count). */
export function clip(s: string, max: number): string {
  const cps = [...s];
  return cps.length <= max ? s : cps.slice(0, Math.max(1, max - 1)).join('') + '…';
}

/** Every variable clipped to the provider's limit. */
export function clipParams(p: PhoneParams, max: number): PhoneParams {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, clip(v || '-', max)])) as unknown as PhoneParams;
}

/** A provider's answer, read as JSON whatever it is (a proxy's HTML error page included). */
export async function answerOf(res: Response): Promise<unknown> {
  const redirect = redirectError(res);
  if (redirect) throw new ProviderError(redirect);
  const text = await answerText(res);
  try {
    return JSON.parse(text);
  } catch {
    throw new ProviderError(`HTTP ${res.status}, not JSON: ${text.slice(0, 120)}`);
  }
}

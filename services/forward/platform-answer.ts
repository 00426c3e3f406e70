/**
 * What a platform said back. "Refused" means it answered and the answer was not success: the
 * entry is tried again, and after enough refusals it becomes a dead letter. Any other failure
 * (no connection, a timeout) only waits: the platform is down, not the data wrong.
 */
export class PlatformRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlatformRefused';
  }
}

/** POST JSON, and accept only a 2xx whose body says `code` is one of the success codes. */
export async function postJson(url: string, body: unknown, opts: { headers?: Record<string, string>; timeoutMs: number; successCodes: readonly (number | string)[] }): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', ...opts.headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(opts.timeoutMs),
    // a redirect is not followed: a POST turned into a GET would lose the event while the platform says 200
    redirect: 'manual',
  });
  const text = await res.text();
  if (res.status >= 500) throw new Error(`platform answered HTTP ${res.status}`);
  if (!res.ok) throw new PlatformRefused(`platform answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new PlatformRefused(`platform answered something that is not JSON: ${text.slice(0, 200)}`);
  }
  const code = (answer as { code?: unknown } | null)?.code;
  if (!opts.successCodes.some((c) => String(c) === String(code))) throw new PlatformRefused(`platform answered ${text.slice(0, 200)}`);
}

/**
 * What a receiver or provider answered, as text, read up to `maxBytes` and no further: an answer
 * is a status and a short body, and a receiver streaming a huge one must not fill the service's
 * memory (or hold its lane) while it does. A redirect is not followed (`redirect: 'manual'` on
 * the request): a POST turned into a GET would lose the alarm while the receiver says 200.
 */
export async function answerText(res: Response, maxBytes = 64 * 1024): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    // the rest is not wanted: the connection is let go
    if (size >= maxBytes) await reader.cancel().catch(() => {});
    else reader.releaseLock();
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}

/** A redirect's answer, said plainly: the registry must name the receiver's final address. */
export function redirectError(res: Response): string | null {
  return res.status >= 300 && res.status < 400 ? `HTTP ${res.status}: redirects are not followed (to ${String(res.headers.get('location') ?? '?').slice(0, 200)}); configure the final address` : null;
}

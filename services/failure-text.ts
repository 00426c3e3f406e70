/**
 * A failed delivery as the log, the alert's record and the operators' alert say it: its message
 * and its causes'. fetch says only "fetch failed"; why is in its cause (a refused connection, a
 * name that does not resolve, a certificate), and a refused connection to a name with two
 * addresses is an AggregateError with no message of its own. Without a URL's query or fragment:
 * a robot's token rides in it.
 */
export function failureText(e: unknown): string {
  const parts: string[] = [];
  let c: unknown = e;
  for (let depth = 0; c !== undefined && c !== null && depth < 5; depth++) {
    // it runs where a delivery failed: whatever was thrown (a getter that throws, a toString that
    // does) must not throw out of it
    try {
      const said = ownWords(c).slice(0, 500).replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#]*)[?#][^\s]*/gi, '$1?…');
      if (said && !parts.some((p) => p.includes(said))) parts.push(said);
      c = typeof c === 'object' ? (c as { cause?: unknown }).cause : undefined;
    } catch {
      break;
    }
  }
  return parts.join(': ') || 'unknown error';
}

function ownWords(c: unknown): string {
  if (!(c instanceof Error)) return String(c);
  if (c.message) return c.message;
  const code = (c as { code?: unknown }).code;
  const first = c instanceof AggregateError ? c.errors.find((x): x is Error => x instanceof Error && !!x.message) : undefined;
  return first?.message ?? (typeof code === 'string' ? code : c.name);
}

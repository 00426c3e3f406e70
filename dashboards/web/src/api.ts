/** The service's own HTTP API with the caller's token; every view reads through here. */
let token = '';

export function useToken(t: string) {
  token = t;
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiFailure(res.status, (json as { message?: string }).message ?? res.statusText);
  return json as T;
}

export const api = {
  get: <T = any>(path: string) => call<T>('GET', path),
  post: <T = any>(path: string, body: unknown = {}) => call<T>('POST', path, body),
  /** A file the API serves (a photo), with the token. */
  async blob(path: string): Promise<Blob> {
    const res = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new ApiFailure(res.status, res.statusText);
    return res.blob();
  },
  /** A file as multipart/form-data, field `file` (photos). */
  async upload<T = any>(path: string, file: Blob, name: string): Promise<T> {
    const form = new FormData();
    form.append('file', file, name);
    const res = await fetch(path, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new ApiFailure(res.status, (json as { message?: string }).message ?? res.statusText);
    return json as T;
  },
  /** The SSE stream: EventSource cannot send headers, so the token goes in the query. */
  stream: () => new EventSource(`/api/alerts/stream?token=${encodeURIComponent(token)}`),
  /** Fetch a file with the token and hand it to the browser as a download. */
  async download(path: string, filename: string) {
    const res = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new ApiFailure(res.status, ((await res.json().catch(() => ({}))) as { message?: string }).message ?? res.statusText);
    const url = URL.createObjectURL(await res.blob());
    const a = Object.assign(document.createElement('a'), { href: url, download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  },
};

export const query = (params: Record<string, string | number | undefined | null>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
};

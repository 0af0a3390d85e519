/** The session's CSRF token, from the hidden field every signed-in page carries. */
export function csrfToken(): string {
  return document.querySelector<HTMLInputElement>('input[name="_csrf"]')?.value ?? '';
}

export interface Problem {
  status: number;
  code: string;
  detail: string;
  violations?: Array<{ code: string; text: string }>;
}

/** POST JSON to a console endpoint with the CSRF header; the raw Response, for callers that stream. */
export function post(path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken(), accept: 'application/json, application/x-ndjson' },
    body: JSON.stringify(body),
    ...(signal && { signal }),
  });
}

export async function postJson<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const res = await post(path, body, signal);
  const json = (await res.json()) as unknown;
  if (!res.ok) throw json as Problem;
  return json as T;
}

/** Reads an NDJSON body line by line as it arrives. */
export async function* ndjson<T>(res: Response): AsyncGenerator<T> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffered += value;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) yield JSON.parse(line) as T;
    }
    if (done) break;
  }
  if (buffered.trim()) yield JSON.parse(buffered) as T;
}

/**
 * A browser navigation: GET/HEAD whose Accept prefers text/html over application/json.
 * Those get a login redirect; everything else (fetch, XHR, API clients) gets 401 JSON.
 */
export function isBrowserNavigation(method: string, accept: string | undefined): boolean {
  if ((method !== 'GET' && method !== 'HEAD') || accept === undefined) return false;
  const html = quality(accept, 'text/html');
  return html > 0 && html >= quality(accept, 'application/json');
}

function quality(accept: string, type: string): number {
  let best = 0;
  for (const part of accept.split(',')) {
    const [mediaRaw, ...params] = part.split(';');
    const media = mediaRaw!.trim().toLowerCase();
    if (media !== type) continue;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split('=');
      if (k?.trim() === 'q') q = Number(v);
    }
    if (Number.isFinite(q) && q > best) best = q;
  }
  return best;
}

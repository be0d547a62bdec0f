/**
 * Kratos's "is this a JSON request" rule (x/isjsonrequest.go): Content-Type application/json,
 * or an Accept header that prefers application/json over text/html, where an exact media type
 * beats a wildcard at equal quality and text/html wins ties. No Accept header means HTML.
 */
interface Spec {
  type: string;
  sub: string;
  q: number;
}

function parseAccept(header: string): Spec[] {
  return header.split(',').flatMap((part) => {
    const [range, ...params] = part.trim().split(';');
    if (!range) return [];
    const [type, sub] = range.trim().toLowerCase().split('/');
    if (!type || !sub) return [];
    let q = 1;
    for (const p of params) {
      const [k, v] = p.trim().split('=');
      if (k === 'q' && v !== undefined) q = Number(v);
    }
    return Number.isFinite(q) ? [{ type, sub, q }] : [];
  });
}

/** Quality and specificity (2 exact, 1 type/*, 0 star/star) of the best Accept entry matching an offer. */
function score(specs: Spec[], offer: string): [number, number] {
  const [type, sub] = offer.split('/');
  let best: [number, number] = [-1, -1];
  for (const s of specs) {
    let spec = -1;
    if (s.type === type && s.sub === sub) spec = 2;
    else if (s.type === type && s.sub === '*') spec = 1;
    else if (s.type === '*' && s.sub === '*') spec = 0;
    if (spec < 0) continue;
    if (s.q > best[0] || (s.q === best[0] && spec > best[1])) best = [s.q, spec];
  }
  return best;
}

export function isJsonRequest(headers: { accept?: string | undefined; 'content-type'?: string | undefined }): boolean {
  const ct = headers['content-type'];
  if (ct && ct.split(';')[0]?.trim().toLowerCase() === 'application/json') return true;
  const accept = headers.accept;
  if (!accept) return false;
  const specs = parseAccept(accept);
  const html = score(specs, 'text/html');
  const json = score(specs, 'application/json');
  if (json[0] <= 0) return false;
  return json[0] > html[0] || (json[0] === html[0] && json[1] > html[1]);
}

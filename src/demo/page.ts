/**
 * The demo app's one HTML page: who the gateway says the user is, the identity headers it
 * injected, and every header that arrived, so a newcomer can see exactly what an upstream gets.
 */
import type { IncomingMessage } from 'node:http';
import { html } from '../http/html.js';

export interface PageLinks {
  logoutUrl: string;
  settingsUrl: string;
}

/** What the demo made of the gateway's signed identity assertion (src/demo/assertion.ts). */
export interface AssertionView {
  /** Lower-case header name, so the token itself is hidden in the header table. */
  readonly header: string;
  readonly result:
    | { readonly kind: 'absent' }
    | {
        readonly kind: 'verified';
        readonly alg: string;
        readonly kid: string | undefined;
        readonly claims: ReadonlyArray<readonly [string, string]>;
      }
    | { readonly kind: 'invalid'; readonly reason: string };
}

const IDENTITY_ID = 'x-kratos-authenticated-identity-id';
const SESSION_ID = 'x-kratos-session-id';
const TRAIT_PREFIX = 'x-user-';

/** Credentials are shown by cookie name or scheme only: the page is meant for screenshots. */
function displayValue(name: string, value: string, assertionHeader: string | undefined): string {
  const lower = name.toLowerCase();
  if (lower === assertionHeader) return '(signed JWT, hidden: its verified claims are shown above)';
  if (lower === 'cookie') {
    return value
      .split(';')
      .map((c) => c.trim().split('=')[0] ?? '')
      .filter((n) => n !== '')
      .map((n) => `${n}=(hidden)`)
      .join('; ');
  }
  if (lower === 'authorization' || lower === 'proxy-authorization') return `${value.split(' ')[0] ?? ''} (hidden)`;
  if (lower === 'x-session-token') return '(hidden)';
  return value;
}

/** Header pairs in arrival order, original spelling, duplicates kept. */
function headerPairs(req: IncomingMessage): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    pairs.push([req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '']);
  }
  return pairs;
}

/** `X-User-First-Name` → "First name". */
function traitLabel(header: string): string {
  const words = header.slice(TRAIT_PREFIX.length).split('-').join(' ').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function assertionSection(view: AssertionView | undefined) {
  if (view === undefined) return '';
  const r = view.result;
  if (r.kind === 'absent')
    return html`<h2>Signed identity assertion</h2><p id="assertion-status">No <code>${view.header}</code> header on this request.</p>`;
  if (r.kind === 'invalid')
    return html`<h2>Signed identity assertion</h2><p id="assertion-status" class="invalid">Not verified: ${r.reason}</p>`;
  return html`<h2>Signed identity assertion</h2>
<p id="assertion-status" class="verified">Verified: <code>${view.header}</code> is a ${r.alg} JWT signed by the gateway (key <code>${r.kid ?? '?'}</code>), checked against its JWKS with issuer, audience and expiry.</p>
<dl class="facts" id="assertion-claims">
${r.claims.map(([name, value]) => html`<dt><code>${name}</code></dt><dd><code>${value}</code></dd>`)}
</dl>`;
}

export function renderAppPage(req: IncomingMessage, links: PageLinks, assertion?: AssertionView): string {
  const one = (name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  const identityId = one(IDENTITY_ID);
  const sessionId = one(SESSION_ID);
  const traits = headerPairs(req).filter(([name]) => name.toLowerCase().startsWith(TRAIT_PREFIX));
  const headers = headerPairs(req);

  const who = identityId
    ? html`<p class="lead">You are signed in. The gateway checked your session with Kratos and told this app who you are.</p>
<dl class="facts">
<dt>Identity id</dt><dd><code id="identity-id">${identityId}</code></dd>
${sessionId ? html`<dt>Session id</dt><dd><code>${sessionId}</code></dd>` : ''}
${traits.map(([name, value]) => html`<dt>${traitLabel(name)}</dt><dd>${value} <span class="via">from <code>${name}</code></span></dd>`)}
</dl>`
    : html`<p class="lead">This request reached the app without an identity: it came through an anonymous route.</p>`;

  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo app · kratos-gateway</title>
<link rel="stylesheet" href="demo.css">
</head>
<body>
<header class="bar"><span class="brand">Demo app</span><nav aria-label="Account"><a href="${links.settingsUrl}">Account settings</a> <a class="logout" href="${links.logoutUrl}">Log out</a></nav></header>
<main>
<h1>${identityId ? 'Welcome' : 'Hello, visitor'}</h1>
${who}
${assertionSection(assertion)}
<h2>Request headers this app received</h2>
<p>Highlighted rows are <code>X-</code> headers, most of them added by the gateway. Cookie and credential values are hidden here; <a href="echo/">echo/</a> answers the raw request as JSON.</p>
<div class="scroll"><table>
<thead><tr><th scope="col">Header</th><th scope="col">Value</th></tr></thead>
<tbody>
${headers.map(([name, value]) => html`<tr${name.toLowerCase().startsWith('x-') ? html` class="injected"` : ''}><th scope="row"><code>${name}</code></th><td><code>${displayValue(name, value, assertion?.header)}</code></td></tr>`)}
</tbody>
</table></div>
</main>
</body>
</html>
`.value;
}

export const DEMO_CSS = `
*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; line-height: 1.5; color: #1f2328; background: #ffffff; }
a { color: #1d4ed8; }
:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 2px; }
.bar { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; justify-content: space-between; align-items: center; padding: 0.75rem 1rem; background: #14532d; color: #ffffff; }
.bar .brand { font-weight: 700; }
.bar a { color: #ffffff; margin-left: 1rem; font-weight: 600; }
.bar a:focus-visible { outline-color: #bbf7d0; }
.bar .logout { padding: 0.25rem 0.75rem; border: 2px solid #ffffff; border-radius: 0.375rem; text-decoration: none; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
.lead { font-size: 1.125rem; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; padding: 1rem; background: #f0fdf4; border: 1px solid #86efac; border-radius: 0.5rem; }
.facts dt { font-weight: 700; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.via { color: #4b5563; font-size: 0.875rem; }
.verified { color: #065f46; }
.invalid { color: #991b1b; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.875rem; }
th, td { text-align: left; vertical-align: top; padding: 0.375rem 0.5rem; border-bottom: 1px solid #e5e7eb; overflow-wrap: anywhere; }
tr.injected { background: #fefce8; }
@media (min-width: 40rem) { th[scope="row"] { white-space: nowrap; } }
@media (max-width: 40rem) {
  thead { display: none; }
  tr, th, td { display: block; }
  th[scope="row"] { border-bottom: 0; padding-bottom: 0; }
}
@media (max-width: 30rem) { .facts { grid-template-columns: 1fr; } .bar a { margin-left: 0; margin-right: 1rem; } }
`;

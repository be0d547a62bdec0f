/**
 * Whole pages: the shared layout, and for each flow kind its title, introduction, form(s)
 * and the links to the neighbouring pages (sign in ↔ sign up ↔ forgot password).
 */
import { html, type SafeHtml } from '../http/html.js';
import { needsScript, type FlowKind, type SelfServiceError, type SelfServiceFlow, type UiNode, type UiText } from './flow.js';
import { renderForm, renderMessages, renderNodes, safeUrl, splitByGroup } from './nodes.js';

export interface PageEnv {
  /** Where the UI is mounted, e.g. `/ui`. */
  prefix: string;
  /** Kratos's public API as browsers reach it, e.g. `http://127.0.0.1:4455/.ory/kratos/public`. */
  browserKratosUrl: string;
}

export function layout(env: PageEnv, title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · kratos-gateway</title>
<link rel="stylesheet" href="${env.prefix}/style.css">
</head>
<body>
<header class="site-header"><a href="/">kratos-gateway</a></header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`.value;
}

/** The Kratos browser-flow init URL, carrying `return_to` through so the user ends where they were going. */
export function initUrl(env: PageEnv, kind: FlowKind, returnTo?: string, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams(extra);
  if (returnTo) q.set('return_to', returnTo);
  const qs = q.toString();
  return `${env.browserKratosUrl}/self-service/${kind}/browser${qs ? `?${qs}` : ''}`;
}

interface PageText {
  title: string;
  lead: string;
}

/** A v1 login that asks only for the second factor (the first one is done). */
const isSecondFactor = (kind: FlowKind, flow: SelfServiceFlow) =>
  kind === 'login' && (flow.requestedAal === 'aal2' || flow.requestedAal === 'aal3');

/** Recovery and verification after the email went out: the form now asks for the code (v1) or offers a resend. */
const SENT_LEAD = 'We have sent you an email. Follow its instructions, or use the form below.';

function textFor(kind: FlowKind, flow: SelfServiceFlow): PageText {
  switch (kind) {
    case 'login':
      if (isSecondFactor(kind, flow)) {
        return { title: 'Two-factor authentication', lead: 'Finish signing in with your second factor.' };
      }
      return flow.refresh
        ? { title: 'Confirm it’s you', lead: 'Enter your password again to continue.' }
        : { title: 'Sign in', lead: 'Sign in to your account to continue.' };
    case 'registration':
      return { title: 'Create an account', lead: 'Sign up with your email address and a password.' };
    case 'settings':
      return { title: 'Account settings', lead: 'Update your profile or change your password.' };
    case 'recovery':
      return {
        title: 'Recover your account',
        // v0.6 sends a link, v1 a link or (its default) a code.
        lead:
          flow.state === 'sent_email' ? SENT_LEAD : 'Enter the email address of your account and we will send you a way to sign in again.',
      };
    case 'verification':
      if (flow.state === 'passed_challenge')
        return { title: 'Email address verified', lead: 'Thank you for confirming your email address.' };
      return {
        title: 'Verify your email address',
        lead: flow.state === 'sent_email' ? SENT_LEAD : 'Enter your email address and we will send you a verification email.',
      };
  }
}

const GROUP_HEADINGS: Record<string, string> = {
  profile: 'Profile',
  password: 'Change password',
  oidc: 'Linked accounts',
  totp: 'Authenticator app',
  lookup_secret: 'Backup codes',
  webauthn: 'Security keys',
  passkey: 'Passkeys',
  link: 'Email',
  code: 'Email code',
};

const SCRIPT_NOTE: UiText = {
  id: undefined,
  text: 'Some methods (such as security keys and passkeys) need JavaScript, which this page does not use. Use another method here, or an app that supports them.',
  type: 'info',
};

/** The method groups (besides `default`) that cannot work without client-side JavaScript. */
function scriptGroups(nodes: readonly UiNode[]): Set<string> {
  return new Set(nodes.filter((n) => n.group !== 'default' && needsScript(n)).map((n) => n.group));
}

function links(env: PageEnv, kind: FlowKind, flow: SelfServiceFlow): SafeHtml {
  const returnTo = flow.returnTo;
  const item = (before: string, href: string, text: string) => html`<li>${before}<a href="${href}">${text}</a></li>`;
  const items: SafeHtml[] = [];
  const appUrl = (returnTo && safeUrl(returnTo)) || '/';
  switch (kind) {
    case 'login':
      // Half signed in: the way out is to log out, not to sign up or recover.
      if (isSecondFactor(kind, flow)) {
        items.push(item('Cannot use your second factor? ', `${env.prefix}/logout`, 'Log out'));
        break;
      }
      items.push(item('No account yet? ', initUrl(env, 'registration', returnTo), 'Sign up'));
      items.push(item('', initUrl(env, 'recovery', returnTo), 'Forgot your password?'));
      break;
    case 'registration':
      items.push(item('Already have an account? ', initUrl(env, 'login', returnTo), 'Sign in'));
      break;
    case 'recovery':
      items.push(item('Remembered it? ', initUrl(env, 'login', returnTo), 'Back to sign in'));
      break;
    case 'verification':
      items.push(item('', appUrl, 'Go to the app'));
      break;
    case 'settings':
      items.push(item('', appUrl, 'Back to the app'));
      items.push(item('', `${env.prefix}/logout`, 'Log out'));
      break;
  }
  return html`<nav aria-label="Other pages"><ul class="links">${items}</ul></nav>`;
}

export function flowPage(env: PageEnv, kind: FlowKind, flow: SelfServiceFlow): string {
  const text = textFor(kind, flow);
  const ctx = { kind, idPrefix: kind };
  const jsOnly = scriptGroups(flow.ui.nodes);
  let forms: SafeHtml;
  if (kind === 'verification' && flow.state === 'passed_challenge') {
    // Resubmitting the form only errors. v0.6 says nothing when the link worked; v1 says so
    // itself (then ours would repeat it) and adds a "Continue" link to the flow's return_to.
    const said = flow.ui.messages.some((m) => m.type === 'success');
    forms = html`${said ? '' : renderMessages([{ id: undefined, text: 'Your email address is verified.', type: 'success' }])}${renderNodes(
      flow.ui.nodes.filter((n) => n.type !== 'input'),
      ctx,
    )}`;
  } else if (kind === 'settings') {
    // One form per method, since Kratos applies one method per submit.
    forms = html`${splitByGroup(flow.ui.nodes).map(
      (g) =>
        html`<section aria-labelledby="section-${g.group}"><h2 id="section-${g.group}">${
          GROUP_HEADINGS[g.group] ?? g.group
        }</h2>${jsOnly.has(g.group) ? renderMessages([SCRIPT_NOTE]) : renderForm(flow.ui, { kind, idPrefix: `${kind}-${g.group}` }, g.nodes)}</section>`,
    )}`;
  } else {
    // The other methods stay usable in the one form; the script-only ones are explained once.
    const usable = flow.ui.nodes.filter((n) => !jsOnly.has(n.group));
    forms = html`${jsOnly.size > 0 ? renderMessages([SCRIPT_NOTE]) : ''}${renderForm(flow.ui, ctx, usable)}`;
  }
  const body = html`<p class="lead">${text.lead}</p>${renderMessages(flow.ui.messages)}${forms}${links(env, kind, flow)}`;
  return layout(env, text.title, body);
}

export function errorPage(env: PageEnv, errors: readonly SelfServiceError[]): string {
  const shown =
    errors.length > 0
      ? errors
      : [
          {
            message: 'We could not find the details of this error. It may have been shown already.',
            reason: undefined,
            status: undefined,
            code: undefined,
          },
        ];
  const body = html`<ul class="messages" role="alert">${shown.map(
    (e) =>
      html`<li class="message message-error">${e.message}${e.reason ? html`<br><span class="details">${e.reason}</span>` : ''}${
        e.code !== undefined ? html`<br><span class="details">Code ${e.code}${e.status ? ` (${e.status})` : ''}</span>` : ''
      }</li>`,
  )}</ul><nav aria-label="Other pages"><ul class="links"><li><a href="${initUrl(env, 'login')}">Sign in</a></li><li><a href="/">Go to the app</a></li></ul></nav>`;
  return layout(env, 'Something went wrong', body);
}

export function unavailablePage(env: PageEnv): string {
  const body = html`<p class="message message-error" role="alert">The identity service is not reachable right now. Please try again in a moment.</p><nav aria-label="Other pages"><ul class="links"><li><a href="/">Go to the app</a></li></ul></nav>`;
  return layout(env, 'Service unavailable', body);
}

/** For browser navigations to a /ui path that does not exist; API clients get the JSON 404. */
export function notFoundPage(env: PageEnv): string {
  const body = html`<p class="lead">There is no page at this address.</p><nav aria-label="Other pages"><ul class="links"><li><a href="${initUrl(env, 'login')}">Sign in</a></li><li><a href="${initUrl(env, 'registration')}">Create an account</a></li><li><a href="/">Go to the app</a></li></ul></nav>`;
  return layout(env, 'Page not found', body);
}

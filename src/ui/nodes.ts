/**
 * Generic rendering of Kratos `ui.nodes` and messages into plain HTML form controls.
 * Nothing here knows about a particular identity schema: labels, names, values and
 * messages all come from the flow, so a schema change needs no UI change.
 */
import { html, type SafeHtml } from '../http/html.js';
import { contextSecrets, needsScript, parseText, stringAttr, type FlowKind, type UiContainer, type UiNode, type UiText } from './flow.js';
import { displayMessages, type MessageField } from './message-wording.js';

export interface RenderContext {
  kind: FlowKind;
  /** Prefix for element ids, unique per form on the page. */
  idPrefix: string;
}

/** Only http(s) URLs (absolute or relative) become links, images or form actions: no `javascript:`. */
export function safeUrl(url: string, allowDataImage = false): string | undefined {
  if (allowDataImage && /^data:image\/(png|jpeg|gif|svg\+xml);base64,[A-Za-z0-9+/=]+$/.test(url)) return url;
  try {
    const u = new URL(url, 'http://relative.invalid/');
    return u.protocol === 'http:' || u.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

export function renderMessages(raw: readonly UiText[], id?: string, field?: MessageField): SafeHtml {
  const messages = displayMessages(raw, field);
  if (messages.length === 0) return html``;
  const hasError = messages.some((m) => m.type === 'error');
  return html`<ul class="messages"${id ? html` id="${id}"` : ''} role="${hasError ? 'alert' : 'status'}">${messages.map(
    (m) => html`<li class="message message-${m.type}"${m.id !== undefined ? html` data-message-id="${m.id}"` : ''}>${m.text}</li>`,
  )}</ul>`;
}

/** `traits.name.first` → "First"; used only when Kratos sent no label, so no input goes unlabelled. */
function fallbackLabel(name: string): string {
  const last = name.split('.').pop() ?? name;
  const words = last.replace(/[_-]+/g, ' ').trim();
  return words === '' ? name : words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * Kratos UIs are meant to word texts by message id. Only one is reworded: 1070004 is the
 * identifier field's placeholder label "ID", which tells a person nothing about what to type.
 */
function displayLabel(label: UiText | undefined): string | undefined {
  if (label?.id === 1070004 && label.text === 'ID') return 'Email or username';
  return label?.text;
}

function autocompleteFor(node: UiNode, kind: FlowKind, type: string, name: string): string | undefined {
  const given = stringAttr(node, 'autocomplete');
  if (given) return given;
  if (type === 'password') return kind === 'login' ? 'current-password' : 'new-password';
  if (name === 'identifier' || name === 'password_identifier') return 'username';
  if (type === 'email') return 'email';
  return undefined;
}

function idFor(ctx: RenderContext, name: string, used: Set<string>): string {
  const base = `${ctx.idPrefix}-${name.replace(/[^A-Za-z0-9_-]+/g, '-')}`;
  let id = base;
  for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
  used.add(id);
  return id;
}

function valueOf(node: UiNode): string | undefined {
  const v = node.attributes.value;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function renderInput(node: UiNode, ctx: RenderContext, used: Set<string>): SafeHtml {
  const name = stringAttr(node, 'name') ?? '';
  const type = stringAttr(node, 'type') ?? 'text';
  const value = valueOf(node);
  const disabled = node.attributes.disabled === true;

  if (type === 'hidden') return html`<input type="hidden" name="${name}" value="${value ?? ''}">`;

  const label = displayLabel(node.label);
  if (type === 'submit' || type === 'button') {
    return html`<div class="actions"><button type="submit" class="button" name="${name}" value="${value ?? ''}"${
      disabled ? html` disabled` : ''
    }>${label ?? value ?? 'Submit'}</button>${renderMessages(node.messages)}</div>`;
  }

  const id = idFor(ctx, name, used);
  const msgId = `${id}-messages`;
  const invalid = node.messages.some((m) => m.type === 'error');
  const described = node.messages.length > 0 ? html` aria-describedby="${msgId}"` : '';
  const common = html`id="${id}" name="${name}"${disabled ? html` disabled` : ''}${described}${invalid ? html` aria-invalid="true"` : ''}`;

  if (type === 'checkbox') {
    // Kratos checkboxes carry booleans; the form posts "true" when ticked, nothing otherwise.
    return html`<div class="field field-checkbox"><input type="checkbox" ${common} value="true"${
      node.attributes.value === true ? html` checked` : ''
    }><label for="${id}">${label ?? fallbackLabel(name)}</label>${renderMessages(node.messages, msgId, { name, type })}</div>`;
  }

  const pattern = stringAttr(node, 'pattern');
  // v1 sends `maxlength` on one-time codes.
  const maxlength =
    typeof node.attributes.maxlength === 'number' && Number.isInteger(node.attributes.maxlength) ? node.attributes.maxlength : undefined;
  const autocomplete = autocompleteFor(node, ctx.kind, type, name);
  // Passwords are never sent back into the page, whatever the flow holds.
  const shownValue = type === 'password' ? undefined : value;
  return html`<div class="field"><label for="${id}">${label ?? fallbackLabel(name)}</label><input type="${type}" ${common}${
    shownValue !== undefined && shownValue !== '' ? html` value="${shownValue}"` : ''
  }${node.attributes.required === true ? html` required` : ''}${pattern ? html` pattern="${pattern}"` : ''}${
    maxlength !== undefined && maxlength > 0 ? html` maxlength="${maxlength}"` : ''
  }${autocomplete ? html` autocomplete="${autocomplete}"` : ''}>${renderMessages(node.messages, msgId, { name, type })}</div>`;
}

function renderNode(node: UiNode, ctx: RenderContext, used: Set<string>): SafeHtml {
  // The page explains these once (see pages.ts); a dead button or a script would only mislead.
  if (needsScript(node)) return html``;
  switch (node.type) {
    case 'input':
      return renderInput(node, ctx, used);
    case 'text': {
      // v1 text nodes: the TOTP secret (its label says what it is) and the backup codes, which
      // arrive one per entry in `context.secrets` besides the comma-joined `text`.
      const text = parseText(node.attributes.text);
      const secrets = contextSecrets(node.attributes.text);
      const label = node.label ? html`<p class="text-label">${node.label.text}</p>` : '';
      const body = secrets
        ? html`<ul class="codes">${secrets.map((c) => html`<li>${c.text}</li>`)}</ul>`
        : html`<p class="text">${text?.text ?? ''}</p>`;
      return html`${label}${body}${renderMessages(node.messages)}`;
    }
    case 'img': {
      const src = safeUrl(stringAttr(node, 'src') ?? '', true);
      if (!src) return html``;
      return html`<p class="image"><img src="${src}" alt="${node.label?.text ?? ''}"></p>`;
    }
    case 'a': {
      const href = safeUrl(stringAttr(node, 'href') ?? '');
      const title = parseText(node.attributes.title)?.text ?? node.label?.text ?? href;
      return href ? html`<p class="link"><a href="${href}">${title}</a></p>` : html``;
    }
    default:
      // `div` (captcha containers) and future types need client code this UI deliberately has none of.
      return html``;
  }
}

export function renderNodes(nodes: readonly UiNode[], ctx: RenderContext): SafeHtml {
  const used = new Set<string>();
  return html`${nodes.map((n) => renderNode(n, ctx, used))}`;
}

/** One POST form to `ui.action` with the given nodes (all of them unless a subset is passed). */
export function renderForm(ui: UiContainer, ctx: RenderContext, nodes: readonly UiNode[] = ui.nodes): SafeHtml {
  const action = safeUrl(ui.action);
  if (!action) {
    return html`<p class="message message-error" role="alert">This form cannot be shown: the identity service sent an invalid form address.</p>`;
  }
  // Browser forms can only GET or POST; Kratos always says POST.
  const method = ui.method.toUpperCase() === 'GET' ? 'get' : 'post';
  return html`<form class="flow-form" action="${action}" method="${method}" novalidate>${renderNodes(nodes, ctx)}</form>`;
}

export interface NodeGroup {
  group: string;
  nodes: UiNode[];
}

/**
 * Splits a settings flow into one form per method group (profile, password, …), each
 * carrying the shared `default` nodes (the CSRF token), as Kratos expects one method per submit.
 */
export function splitByGroup(nodes: readonly UiNode[]): NodeGroup[] {
  const shared = nodes.filter((n) => n.group === 'default');
  const groups: NodeGroup[] = [];
  for (const node of nodes) {
    if (node.group === 'default') continue;
    let g = groups.find((x) => x.group === node.group);
    if (!g) {
      g = { group: node.group, nodes: [...shared] };
      groups.push(g);
    }
    g.nodes.push(node);
  }
  return groups.length > 0 ? groups : [{ group: 'default', nodes: [...shared] }];
}

/**
 * The parts of a Kratos self-service flow the UI reads, parsed defensively: the JSON
 * comes from another process (the embedded server or a real Kratos, v0.6 or later), so
 * anything not in the expected shape is dropped rather than trusted.
 */

export const flowKinds = ['login', 'registration', 'settings', 'recovery', 'verification'] as const;
export type FlowKind = (typeof flowKinds)[number];

export type MessageType = 'info' | 'error' | 'success';

export interface UiText {
  id: number | undefined;
  text: string;
  type: MessageType;
}

export interface UiNode {
  type: string;
  group: string;
  attributes: Record<string, unknown>;
  messages: UiText[];
  label: UiText | undefined;
}

export interface UiContainer {
  action: string;
  method: string;
  nodes: UiNode[];
  messages: UiText[];
}

export interface SelfServiceFlow {
  id: string;
  ui: UiContainer;
  state: string | undefined;
  /** v0.6 `forced`, v1 `refresh`: the login re-confirms an existing session. */
  refresh: boolean;
  /** The `return_to` the flow was started with (v1 field, or v0.6's `request_url` query). */
  returnTo: string | undefined;
  /** v1 `requested_aal`: `aal2` when the login asks for the second factor only. v0.6 has no AAL. */
  requestedAal: string | undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseText(v: unknown): UiText | undefined {
  if (!isRecord(v) || typeof v.text !== 'string') return undefined;
  const type: MessageType = v.type === 'error' || v.type === 'success' ? v.type : 'info';
  return { id: typeof v.id === 'number' ? v.id : undefined, text: v.text, type };
}

export function parseTexts(v: unknown): UiText[] {
  if (!Array.isArray(v)) return [];
  return v.map(parseText).filter((t): t is UiText => t !== undefined);
}

function parseNode(v: unknown): UiNode | undefined {
  if (!isRecord(v) || typeof v.type !== 'string' || !isRecord(v.attributes)) return undefined;
  const meta = isRecord(v.meta) ? v.meta : {};
  return {
    type: v.type,
    group: typeof v.group === 'string' ? v.group : 'default',
    attributes: v.attributes,
    messages: parseTexts(v.messages),
    label: parseText(meta.label),
  };
}

function returnToOf(flow: Record<string, unknown>): string | undefined {
  if (typeof flow.return_to === 'string' && flow.return_to !== '') return flow.return_to;
  if (typeof flow.request_url !== 'string') return undefined;
  try {
    return new URL(flow.request_url).searchParams.get('return_to') ?? undefined;
  } catch {
    return undefined;
  }
}

/** Returns the flow, or undefined when the body is not a flow (v0.6 verification answers `null` for unknown ids). */
export function parseFlow(body: unknown): SelfServiceFlow | undefined {
  if (!isRecord(body) || typeof body.id !== 'string' || !isRecord(body.ui)) return undefined;
  const ui = body.ui;
  if (typeof ui.action !== 'string' || !Array.isArray(ui.nodes)) return undefined;
  return {
    id: body.id,
    ui: {
      action: ui.action,
      method: typeof ui.method === 'string' ? ui.method : 'POST',
      nodes: ui.nodes.map(parseNode).filter((n): n is UiNode => n !== undefined),
      messages: parseTexts(ui.messages),
    },
    state: typeof body.state === 'string' ? body.state : undefined,
    refresh: body.forced === true || body.refresh === true,
    returnTo: returnToOf(body),
    requestedAal: typeof body.requested_aal === 'string' ? body.requested_aal : undefined,
  };
}

export interface SelfServiceError {
  message: string;
  reason: string | undefined;
  status: string | undefined;
  code: number | undefined;
}

/** v0.6 stores `errors: [...]`; v1 stores a single `error` object. */
export function parseErrorContainer(body: unknown): SelfServiceError[] {
  if (!isRecord(body)) return [];
  const raw = Array.isArray(body.errors) ? body.errors : isRecord(body.error) ? [body.error] : [];
  const out: SelfServiceError[] = [];
  for (const e of raw) {
    if (!isRecord(e)) continue;
    const message = typeof e.message === 'string' ? e.message : undefined;
    const reason = typeof e.reason === 'string' && e.reason !== '' ? e.reason : undefined;
    if (message === undefined && reason === undefined) continue;
    out.push({
      message: message ?? 'An error occurred',
      reason,
      status: typeof e.status === 'string' ? e.status : undefined,
      code: typeof e.code === 'number' ? e.code : undefined,
    });
  }
  return out;
}

/**
 * Nodes that only work with client-side JavaScript, which this UI deliberately has none of:
 * `script` nodes (WebAuthn, passkeys) and inputs whose action is a script (`onclick`,
 * `onload`, and v1.1+'s `onclickTrigger`/`onloadTrigger`). Rendered as a plain button such an
 * input would submit the form without the browser ceremony, which Kratos rejects.
 */
export function needsScript(node: UiNode): boolean {
  if (node.type === 'script') return true;
  if (node.type !== 'input') return false;
  return ['onclick', 'onclickTrigger', 'onload', 'onloadTrigger'].some((k) => {
    const v = node.attributes[k];
    return typeof v === 'string' && v !== '';
  });
}

/** The texts a text node lists in `context.secrets` (v1 backup codes), else undefined. */
export function contextSecrets(text: unknown): UiText[] | undefined {
  if (!isRecord(text) || !isRecord(text.context) || !Array.isArray(text.context.secrets)) return undefined;
  const secrets = parseTexts(text.context.secrets);
  return secrets.length > 0 ? secrets : undefined;
}

export function stringAttr(node: UiNode, key: string): string | undefined {
  const v = node.attributes[key];
  return typeof v === 'string' ? v : undefined;
}

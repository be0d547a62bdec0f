/** UI node constructors and the v0.6 ordering rules for flow forms. */
import { labels, type UiText } from '../text/ui-text.js';

export type NodeGroup = 'default' | 'password' | 'oidc' | 'profile' | 'link';
export type InputType = 'text' | 'password' | 'number' | 'checkbox' | 'hidden' | 'email' | 'submit' | 'datetime-local' | 'date' | 'url';

export interface InputAttributes {
  name: string;
  type: InputType;
  value?: string | number | boolean;
  required?: boolean;
  label?: UiText;
  pattern?: string;
  disabled: boolean;
}

export interface UiNode {
  type: 'input';
  group: NodeGroup;
  attributes: InputAttributes;
  /** null when empty, as Kratos v0.6 serialises it. */
  messages: UiText[] | null;
  meta: { label?: UiText };
}

export interface UiContainer {
  action: string;
  method: 'POST';
  nodes: UiNode[];
  messages?: UiText[];
}

export function input(
  group: NodeGroup,
  name: string,
  type: InputType,
  opts: { value?: string | number | boolean | undefined; required?: boolean; label?: UiText } = {},
): UiNode {
  // Key order follows Kratos's struct; empty values and false `required` are omitted
  // (omitempty), except the csrf token, which keeps "" on API flows.
  const attributes = { name, type } as InputAttributes;
  if (opts.value !== undefined && (opts.value !== '' || name === 'csrf_token')) attributes.value = opts.value;
  if (opts.required) attributes.required = true;
  attributes.disabled = false;
  return { type: 'input', group, attributes, messages: null, meta: opts.label ? { label: opts.label } : {} };
}

export const csrfNode = (token: string) => input('default', 'csrf_token', 'hidden', { value: token, required: true });

export const submitNode = (group: NodeGroup, value: string, label: UiText) => input(group, 'method', 'submit', { value, label });

export const passwordNode = () => input('password', 'password', 'password', { required: true, label: labels.password() });

export function findNode(ui: UiContainer, name: string): UiNode | undefined {
  return ui.nodes.find((n) => n.attributes.name === name);
}

export function setNodeValue(ui: UiContainer, name: string, value: unknown): void {
  const node = findNode(ui, name);
  if (!node) return;
  if (value === undefined || value === null || value === '') delete node.attributes.value;
  else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') node.attributes.value = value;
}

export function addNodeMessage(ui: UiContainer, name: string, message: UiText): boolean {
  const node = findNode(ui, name);
  if (!node) return false;
  node.messages = [...(node.messages ?? []), message];
  return true;
}

export function addContainerMessage(ui: UiContainer, message: UiText): void {
  ui.messages = [...(ui.messages ?? []), message];
}

/** Drops every message before a form is re-rendered with the outcome of a new submit. */
export function clearMessages(ui: UiContainer): void {
  delete ui.messages;
  for (const n of ui.nodes) n.messages = null;
}

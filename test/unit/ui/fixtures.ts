/** Flow JSON in the shapes Kratos v0.6 sends, for renderer and router tests. */

type Label = { id: number; text: string } | undefined;

/** One v0.6 input node: `disabled` always present, `messages` null when empty, `meta` {} without a label. */
export function inputNode(group: string, attributes: Record<string, unknown>, label?: Label) {
  return {
    type: 'input',
    group,
    attributes: { disabled: false, ...attributes },
    messages: null as unknown[] | null,
    meta: (label ? { label: { ...label, type: 'info' } } : {}) as Record<string, unknown>,
  };
}

export const csrfNode = inputNode('default', { name: 'csrf_token', type: 'hidden', value: 'tok"en<', required: true });

const PUBLIC = 'http://127.0.0.1:4455/.ory/kratos/public';

export function loginFlowV06(overrides: { identifier?: string } = {}) {
  const id = '8f2b0c1e-3c1a-4c55-9a43-0d7f0b6a1e11';
  const identifier = overrides.identifier !== undefined ? { value: overrides.identifier } : {};
  return {
    id,
    type: 'browser',
    expires_at: '2026-11-25T18:00:00.000000Z',
    issued_at: '2026-11-25T17:00:00.000000Z',
    request_url: `${PUBLIC}/self-service/login/browser?return_to=http%3A%2F%2F127.0.0.1%3A4455%2Fdash`,
    forced: false,
    ui: {
      action: `${PUBLIC}/self-service/login?flow=${id}`,
      method: 'POST',
      nodes: [
        csrfNode,
        inputNode('password', { name: 'password_identifier', type: 'text', ...identifier, required: true }, { id: 1070004, text: 'ID' }),
        inputNode('password', { name: 'password', type: 'password', required: true }, { id: 1070001, text: 'Password' }),
        inputNode('password', { name: 'method', type: 'submit', value: 'password' }, { id: 1010001, text: 'Sign in' }),
      ],
    },
    created_at: '2026-11-25T17:00:00.000000Z',
    updated_at: '2026-11-25T17:00:00.000000Z',
  };
}

export function settingsFlowV06() {
  const id = 'c0ffee00-0000-4000-8000-000000000001';
  return {
    id,
    type: 'browser',
    request_url: `${PUBLIC}/self-service/settings/browser`,
    state: 'show_form',
    identity: { id: 'd1', traits: { email: 'a@example.com' } },
    ui: {
      action: `${PUBLIC}/self-service/settings?flow=${id}`,
      method: 'POST',
      nodes: [
        csrfNode,
        inputNode('profile', { name: 'traits.email', type: 'email', value: 'a@example.com' }, { id: 1070002, text: 'E-Mail' }),
        inputNode('profile', { name: 'traits.name.first', type: 'text', value: 'Ada' }),
        inputNode('profile', { name: 'method', type: 'submit', value: 'profile' }, { id: 1070003, text: 'Save' }),
        inputNode('password', { name: 'password', type: 'password', required: true }, { id: 1070001, text: 'Password' }),
        inputNode('password', { name: 'method', type: 'submit', value: 'password' }, { id: 1070003, text: 'Save' }),
      ],
    },
  };
}

/**
 * Plain-language wording for Kratos messages, for the UI only: the API (the Kratos mount)
 * keeps Kratos's own texts, which clients may match on. Kratos expects UIs to word texts by
 * message id, but v0.6 sends every schema violation as 4000001 with the validator's raw
 * text ("length must be >= 3, but got 0"), so the validator texts are recognised by pattern
 * too. Anything not recognised is shown exactly as Kratos sent it.
 */
import type { UiText } from './flow.js';

/** The input a message belongs to, when it belongs to one. */
export interface MessageField {
  name: string;
  type: string;
}

const MISSING_PROPERTY = 4000002;
const MIN_LENGTH = 4000003;
const INVALID_FORMAT = 4000004;
const GENERIC_VALIDATION = 4000001;
/** Messages whose text carries Go's `%.2f minutes` ("within the next 15.00 minutes"). */
const MINUTES_IDS = new Set([1060001, 4010001, 4040001, 4050001, 4060005, 4070005]);

const isEmailField = (name: string, type: string) => type === 'email' || /(^|\.)e-?mail$/i.test(name);

/** "Enter your email address." and friends: what to do about an empty required field. */
function enterValue(property: string, field: MessageField | undefined): string {
  const name = field?.name ?? property;
  if (property === 'password' || field?.type === 'password') return 'Enter a password.';
  if (isEmailField(name, field?.type ?? '') || isEmailField(property, '')) return 'Enter your email address.';
  if (property === 'identifier' || property === 'password_identifier') return 'Enter your email or username.';
  return 'Fill in this field.';
}

function minutes(value: string): string {
  const n = Math.max(1, Math.round(Number(value)));
  return n === 1 ? '1 minute' : `${n} minutes`;
}

export function displayText(m: UiText, field?: MessageField): string {
  const text = m.text;
  if (m.id === MISSING_PROPERTY) {
    const property = /^Property (\S+) is missing\.$/.exec(text)?.[1];
    if (property !== undefined) return enterValue(property, field);
  }
  if (m.id === MIN_LENGTH || m.id === GENERIC_VALIDATION) {
    const min = /^length must be >= (\d+), but got (\d+)$/.exec(text);
    if (min)
      return min[2] === '0'
        ? enterValue(field?.name ?? '', field)
        : `Must be at least ${min[1]} ${min[1] === '1' ? 'character' : 'characters'}.`;
    const max = /^length must be <= (\d+), but got \d+$/.exec(text);
    if (max) return `Must be at most ${max[1]} ${max[1] === '1' ? 'character' : 'characters'}.`;
  }
  if (m.id === INVALID_FORMAT || m.id === GENERIC_VALIDATION) {
    const format = /^(".*") is not valid "([^"]+)"$/.exec(text);
    if (format && format[2] === 'email') return format[1] === '""' ? 'Enter your email address.' : 'Enter a valid email address.';
  }
  if (m.id !== undefined && MINUTES_IDS.has(m.id)) return text.replace(/\b(\d+\.\d+) minutes\b/, (_all, v: string) => minutes(v));
  return text;
}

/**
 * The messages as shown: reworded, and without repeats — an empty email breaks both the
 * length and the format rule, and both read "Enter your email address." once reworded.
 */
export function displayMessages(messages: readonly UiText[], field?: MessageField): UiText[] {
  const seen = new Set<string>();
  const out: UiText[] = [];
  for (const m of messages) {
    const text = displayText(m, field);
    const key = `${m.type}\n${text}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ...m, text });
  }
  return out;
}

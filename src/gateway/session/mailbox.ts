/**
 * Whether a verified address is one mailbox. Route policies compare verified addresses
 * (`verified_address: { ends_with: '@corp.example' }`), which says something only if the value is
 * the one address the verification email went to. A value such as
 * `attacker@evil.test ceo@corp.example` ends with `@corp.example`, yet a mailer reads it as
 * attacker@evil.test with a display name, and a list (`a@x,b@y`) as several recipients: an identity
 * server that let such a value through (Kratos checks the email format; a schema with
 * `format: noformat`, or an older embedded server, does not) must not make it a corporate address.
 *
 * The grammar is RFC 5321's Mailbox: a dot-string or quoted-string local part (UTF-8 allowed, RFC
 * 6531, but no control, format or space characters outside quotes), `@`, and a domain of ASCII
 * letter-digit-hyphen labels, as Kratos's email format requires. No comments, display names,
 * source routes, address literals or non-ASCII domains: whatever is not known to name one mailbox
 * is not an address.
 */

/** Printable non-ASCII: no controls, format characters (bidi overrides), unassigned code points or spaces. */
const UTF8 = String.raw`[^\p{C}\p{Z}\x00-\x7F]`;
const ATOM = String.raw`(?:[A-Za-z0-9!#$%&'*+\-/=?^_\x60{|}~]|${UTF8})+`;
const QUOTED = String.raw`"(?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\[\x20-\x7E]|${UTF8})*"`;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const MAILBOX = new RegExp(String.raw`^(?:${ATOM}(?:\.${ATOM})*|${QUOTED})@${LABEL}(?:\.${LABEL})*$`, 'u');

export function isMailbox(value: string): boolean {
  return MAILBOX.test(value);
}

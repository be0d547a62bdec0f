/**
 * The Redis ACL command the fleet documentation shows (examples/values-fleet.yaml comments and
 * docs/fleet.md), read back so tests can compare the two and run it against a real redis-server.
 */

/** The `ACL SETUSER …` command in `text`, after stripping `commentPrefix`; indented `+…` continuation lines are joined. */
export function aclCommandIn(text: string, commentPrefix: RegExp = /^/): string {
  const lines = text.split('\n').map((l) => l.replace(commentPrefix, ''));
  const start = lines.findIndex((l) => l.trimStart().startsWith('ACL SETUSER '));
  if (start === -1) throw new Error('no ACL SETUSER line');
  const parts = [lines[start]!.trim()];
  for (let i = start + 1; i < lines.length && /^\s+\+/.test(lines[i]!); i++) parts.push(lines[i]!.trim());
  return parts.join(' ');
}

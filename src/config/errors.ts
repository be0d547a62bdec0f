/** A configuration problem: one line per problem, each `key.path: reason`. Never a stack trace. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

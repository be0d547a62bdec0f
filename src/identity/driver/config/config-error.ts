/** A refused kratos.yml value. Apart from config.ts so that code on the gateway's thread can name it without loading the validator. */
export class KratosConfigError extends Error {
  constructor(
    readonly keyPath: string,
    readonly reason: string,
  ) {
    super(`${keyPath}: ${reason}`);
    this.name = 'KratosConfigError';
  }
}

/**
 * Errors in the herodot v0.9.6 shape Kratos v0.6 answers with:
 * {"error":{"code","status","reason"?,"details"?,"message"}} and no `error.id` (added in later Kratos).
 */
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  410: 'Gone',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

const STANDARD_MESSAGE: Record<number, string> = {
  400: 'The request was malformed or contained invalid parameters',
  401: 'The request could not be authorized',
  403: 'The requested action was forbidden',
  404: 'The requested resource could not be found',
  409: 'Unable to insert or update resource because a resource with that value exists already',
  410: 'The requested resource is no longer available because it has expired or is otherwise invalid.',
  500: 'An internal server error occurred, please contact the system administrator',
};

export interface GenericError {
  code: number;
  status: string;
  reason?: string;
  details?: Record<string, unknown>;
  message: string;
}

export class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason?: string,
    readonly details?: Record<string, unknown>,
    message?: string,
  ) {
    super(message ?? STANDARD_MESSAGE[code] ?? 'An error occurred');
  }

  toGeneric(): GenericError {
    const out: GenericError = { code: this.code, status: STATUS_TEXT[this.code] ?? 'Error', message: this.message };
    if (this.reason) out.reason = this.reason;
    if (this.details) out.details = this.details;
    return out;
  }

  toJSON(): { error: GenericError } {
    return { error: this.toGeneric() };
  }
}

export const badRequest = (reason?: string, details?: Record<string, unknown>) => new HttpError(400, reason, details);
export const unauthorized = (reason?: string) => new HttpError(401, reason);
export const forbidden = (reason?: string) => new HttpError(403, reason);
export const gone = (reason: string, details?: Record<string, unknown>) => new HttpError(410, reason, details);

/** The persistence layer's "not found", worded as Kratos's sqlcon does. */
export const notFound = (reason?: string) => new HttpError(404, reason, undefined, 'Unable to locate the resource');
export const conflict = (reason?: string) => new HttpError(409, reason);
/** Login and email backoff (not in Kratos v0.6): herodot's shape, the wait in details and in Retry-After. */
export const tooManyRequests = (reason: string, retryAfterSeconds: number, message: string) =>
  new HttpError(429, reason, { retry_after_seconds: retryAfterSeconds }, message);

export const invalidCsrf = () => forbidden('A request failed due to a missing or invalid csrf_token value.');
export const noValidSession = () => unauthorized('No valid session cookie found.');

export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  return new HttpError(500);
}

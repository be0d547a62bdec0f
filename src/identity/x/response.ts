/** Response writers shared by the public and admin handlers. */
import type { Response } from 'express';
import type { HttpError } from './http-error.js';

export function redirect(res: Response, location: string): void {
  res.status(302).location(location).end();
}

export function sendError(res: Response, err: HttpError): void {
  res.status(err.code).json(err.toJSON());
}

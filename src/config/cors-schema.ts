import { z } from 'zod';

/** An HTTP method as sent (RFC 9110 token), upper case: methods are case-sensitive. */
const corsMethod = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Z-]+$/, 'an HTTP method in upper case');
const corsHeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'a header name');

/**
 * A route's CORS policy: the gateway answers the route's preflights itself and adds the CORS
 * headers to every answer on it (src/gateway/pipeline/cors.ts). The origins are checked by
 * corsProblems (cors-origins.ts).
 */
export const cors = z
  .object({
    allowed_origins: z.array(z.string()).min(1),
    allowed_methods: z.array(corsMethod).min(1).default(['GET', 'HEAD', 'POST']),
    allowed_headers: z.array(corsHeaderName).default([]),
    exposed_headers: z.array(corsHeaderName).default([]),
    allow_credentials: z.boolean().default(false),
    /** Access-Control-Max-Age; browsers cap it (Chromium at 7200). Omitted: the browser's default (5 s). */
    max_age_s: z.number().int().min(0).max(86_400).optional(),
  })
  .strict();

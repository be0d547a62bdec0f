/** URLs the server hands out: under its public base URL, and with query parameters set. */

/** `path` under serve.public.base_url (kept without its trailing slash as `publicBase`). */
export function publicUrl(ctx: { publicBase: string }, path: string): string {
  return `${ctx.publicBase}${path}`;
}

export function withQuery(base: string, params: Record<string, string>): string {
  const u = new URL(base);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

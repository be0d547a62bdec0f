/**
 * A configured method list (a route's `match.methods`, a policy's `methods`) as the request
 * methods it covers. GET covers HEAD: RFC 9110 defines HEAD as GET without the content, and
 * upstreams answer it with their GET handler (express, Go's ServeMux, Rails, Spring), sending
 * the same header fields. A HEAD the list left out would be judged by another route or rule
 * while the upstream serves it as the GET this list governs (nginx's `limit_except GET` and
 * Go's `GET /path` patterns read GET the same way).
 */
export function methodSet(methods: readonly string[]): ReadonlySet<string> {
  const set = new Set(methods);
  if (set.has('GET')) set.add('HEAD');
  return set;
}

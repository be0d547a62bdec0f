/**
 * The policy of `bench:quick --policy` and `bench/policy-eval.ts`: five conditions of the kinds a
 * real policy uses (three comparisons on traits, a regex, a recency bound), all true for the
 * sessions of both bench Kratos kinds (fake: user-…@example.com; embedded: …@bench.example.com;
 * name Bench User), so every one is evaluated on every request.
 */
export const BENCH_POLICY = {
  all: [
    { path: 'identity.traits.email', ends_with: 'example.com' },
    { path: 'identity.traits.email', matches: '^[a-z0-9.-]+@[a-z0-9.-]+$' },
    { path: 'identity.traits.name.first', equals: 'Bench' },
    { path: 'identity.traits.name.last', one_of: ['User', 'Admin'] },
    { authenticated_within: '24h' },
  ],
};

/** One call in flight for a key; `forgotten` once a purge detached it (its answer must not be kept). */
export interface Flight<T> {
  readonly promise: Promise<T>;
  forgotten: boolean;
}

/**
 * Concurrent misses for one key share one call. The call is shared: one caller going away
 * never aborts it for the others (its own budget is the whoami timeout).
 */
export class Coalescer<T> {
  private readonly flights = new Map<string, Flight<T>>();

  /** Joins the call in flight for `key`, or starts `call`. `joined`: this caller did not start it. */
  run(key: string, call: (flight: Flight<T>) => Promise<T>): { promise: Promise<T>; joined: boolean } {
    const inFlight = this.flights.get(key);
    if (inFlight !== undefined) return { promise: inFlight.promise, joined: true };
    const flight = { forgotten: false } as { promise: Promise<T>; forgotten: boolean };
    // `call` reads `flight.forgotten` only after its first await, when the map holds it.
    flight.promise = call(flight);
    this.flights.set(key, flight);
    const settle = (): void => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    };
    flight.promise.then(settle, settle);
    return { promise: flight.promise, joined: false };
  }

  /**
   * Detaches the call in flight for `key`: its callers still get its answer, but it is marked
   * forgotten (not to be kept) and the next caller starts a new call instead of joining it.
   */
  forget(key: string): void {
    const flight = this.flights.get(key);
    if (flight === undefined) return;
    flight.forgotten = true;
    this.flights.delete(key);
  }

  has(key: string): boolean {
    return this.flights.has(key);
  }

  get size(): number {
    return this.flights.size;
  }
}

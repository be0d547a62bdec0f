/** Time source for everything that expires (sessions, flows, tokens), so tests can move time without sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock tests can set and advance. */
export class SettableClock implements Clock {
  private current: number;
  constructor(start: Date = new Date()) {
    this.current = start.getTime();
  }
  now(): Date {
    return new Date(this.current);
  }
  set(d: Date): void {
    this.current = d.getTime();
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

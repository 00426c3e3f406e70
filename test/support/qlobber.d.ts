// qlobber ships no types; the tests use only its boolean matcher, as aedes-persistence sets it up
declare module 'qlobber' {
  export class QlobberTrue {
    constructor(options: { separator: string; wildcard_one: string; wildcard_some: string });
    add(topic: string): this;
    test(topic: string): boolean;
  }
}

// Many requests in flight on one connection, and a watchdog: what reading or writing a whole
// ZooKeeper tree needs (the live tree of `diff --live`, the sandbox's seed, digest and wipe).

/**
 * Run task(0) … task(count - 1), at most `inFlight` pending at once, started in order of index;
 * the first failure ends it (no task starts after it) and is thrown. So is `stalled(pending)`
 * when no task ends for `stallMs` (a ZooKeeper whose request threads died of OutOfMemoryError
 * keeps the connection open and never answers).
 */
export function pipeline(count: number, inFlight: number, stall: { ms: number; error: (pending: number) => Error }, task: (i: number) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let pending = 0;
    let failed = false;
    let watchdog: NodeJS.Timeout | undefined;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      clearTimeout(watchdog);
      reject(err);
    };
    const arm = (): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => fail(stall.error(pending)), stall.ms);
    };
    const startMore = (): void => {
      while (!failed && pending < inFlight && next < count) {
        const i = next++;
        pending++;
        task(i).then(() => {
          pending--;
          if (failed) return;
          arm();
          if (next >= count && pending === 0) {
            clearTimeout(watchdog);
            resolve();
          } else startMore();
        }, fail);
      }
    };
    if (count === 0) return resolve();
    arm();
    startMore();
  });
}

// One overall bound for work that cannot always be cancelled: a provider's whole credential
// resolution (a credential_process that never exits, retries, chained role assumptions), an
// in-process keyring answer, a native keychain call stuck behind a prompt. Leaf module: imports
// nothing, so any layer may use it.

/**
 * Settles with the work, or rejects with `onTimeout()` once `ms` have passed. `work` may be a
 * promise, or a function given an AbortSignal that is aborted at the deadline (for work that can
 * stop early). With `unref`, the pending timer does not keep the process alive.
 */
export const withDeadline = <T>(
  work: Promise<T> | ((signal: AbortSignal) => Promise<T>),
  ms: number,
  onTimeout: () => Error,
  opts: { unref?: boolean } = {},
): Promise<T> => {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(onTimeout());
    }, ms);
    if (opts.unref) timer.unref();
  });
  const p = typeof work === "function" ? Promise.resolve().then(() => work(ac.signal)) : work;
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
};

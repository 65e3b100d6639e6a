// An overall bound on a provider call. The SDKs' HTTP timeouts bound each request, but not
// credential resolution as a whole (a credential_process that never exits, retries, chained
// role assumptions), so every provider also races its whole fetch against this deadline.

export const withDeadline = async <T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
};

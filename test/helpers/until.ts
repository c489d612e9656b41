// Polls a condition until it holds, bounded in time: for state that changes in another process
// (a Redis key, a node's log) where there is no event to wait for.

/** Resolves once `check` holds; throws `never: what` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * What stops the service from starting that the person starting it can fix (a damaged file, a
 * data folder another instance holds): said in one paragraph, without a stack trace.
 */
export class StartError extends Error {}

/** DuckDB's words for a database file another process has open, as the operator should read them. */
export function explainLock(e: unknown, dataDir: string): string | undefined {
  const m = /Could not set lock on file "([^"]+)": Conflicting lock is held in (.+?) \(PID (\d+)\)/.exec(String((e as Error)?.message ?? e));
  if (!m) return undefined;
  return `${m[1]} is in use by another running instance (${m[2]}, PID ${m[3]}): only one service can use DATA_DIR=${dataDir} at a time. Stop that instance, or give this one another DATA_DIR.`;
}

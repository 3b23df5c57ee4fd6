// How a command fails. Exit codes: 1 for an operation that failed (the node refused it, a
// transfer failed, the node could not be reached), 2 for a command line that is wrong.

/** The command line is wrong: exit code 2, with the usage hint. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The operation did not succeed (a transfer failed or timed out, a drain is incomplete): exit code 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

// Every limit of the admin CLI, with its unit and its trade-off.

/**
 * Default wait for one shard transfer to finish, seconds (--timeout overrides). A large shard on
 * a slow link takes long; a short default would stop waiting (never the transfer itself) while
 * the transfer is still making progress.
 */
export const TRANSFER_WAIT_S_DEFAULT = 3600;

/**
 * Pause between two polls of a running transfer, milliseconds. Shorter reports completion
 * sooner but sends the node more GET requests; each poll reads one collection's cluster info.
 */
export const POLL_INTERVAL_MS = 1000;

/**
 * Longest wait for one HTTP request, milliseconds. Metadata changes wait for a Raft commit on
 * the node (its own timeout is shorter); a longer limit only delays reporting a hung node.
 */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * How long a transfer that was started may stay invisible, milliseconds: neither listed in
 * shard_transfers nor finished. The node answers the start request after applying it, so it
 * is normally visible at once; the margin covers a node that answered before applying.
 */
export const TRANSFER_APPEAR_MS_MAX = 10_000;

/**
 * While a transfer's progress report does not change, repeat it at most this often,
 * milliseconds, so a long silent transfer still shows that the CLI is waiting.
 */
export const PROGRESS_REPEAT_MS = 10_000;

/** Most characters of a non-JSON error body quoted in a message; the rest is noise. */
export const ERROR_BODY_CHARS_MAX = 300;

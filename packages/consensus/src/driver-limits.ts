import { ShoalError } from '@shoal/common';

/**
 * Limits of the consensus driver, each with its unit and trade-off. They join the transport's
 * limits (limits.ts) until the consensus limits move to @shoal/common. Tests pass tiny values so
 * the "full" branches run.
 */
export interface DriverLimits {
  /** Proposals (and membership changes) waiting to be applied; beyond it propose() is 'dropped'. */
  readonly pendingProposalsMax: number;
  /** Linearizable reads waiting for their read index; beyond it linearizableRead() is 'dropped'. */
  readonly pendingReadsMax: number;
  /**
   * Incoming messages queued while a Ready is being persisted. Beyond it new ones are dropped
   * (Raft re-sends what matters); bounds memory when the disk is slow.
   */
  readonly inboxMessagesMax: number;
  /** Bytes of one proposed entry; must stay well below the transport's batchBytesMax to replicate. */
  readonly entryBytesMax: number;
  /**
   * Applied entries between two snapshots. Smaller: shorter replay at restart and less log on
   * disk; larger: fewer snapshot writes (each writes the whole metadata state).
   */
  readonly snapshotEntries: number;
  /** Applied indexes whose state hash is remembered (stateHashAt). */
  readonly hashHistoryMax: number;
  /** Ticks before the first reload after a storage error; doubles per failure up to the max. */
  readonly reloadBackoffTicksMin: number;
  readonly reloadBackoffTicksMax: number;
  /** A learner is promoted only when its log is at most this many entries behind the commit. */
  readonly promoteLagMax: number;
}

export const DEFAULT_DRIVER_LIMITS: DriverLimits = {
  pendingProposalsMax: 1024,
  pendingReadsMax: 1024,
  inboxMessagesMax: 4096,
  entryBytesMax: 1024 * 1024,
  snapshotEntries: 1000,
  hashHistoryMax: 1024,
  reloadBackoffTicksMin: 1,
  reloadBackoffTicksMax: 64,
  promoteLagMax: 16,
};

export function driverLimits(overrides: Partial<DriverLimits> = {}): DriverLimits {
  const limits: DriverLimits = { ...DEFAULT_DRIVER_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0 || (value === 0 && name !== 'promoteLagMax')) {
      throw new ShoalError('validation', `consensus limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  if (limits.reloadBackoffTicksMax < limits.reloadBackoffTicksMin) {
    throw new ShoalError('validation', 'consensus limit reloadBackoffTicksMax must be at least reloadBackoffTicksMin');
  }
  return limits;
}

// Helpers for the parsers' tests only (not exported from the package).
import { ShoalError } from '@shoal/common';

/** The ShoalError that `fn` throws; any other outcome fails the test. */
export function failure(fn: () => unknown): ShoalError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ShoalError) return error;
    throw error;
  }
  throw new Error('expected a ShoalError');
}

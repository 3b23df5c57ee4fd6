import { describe, expect, it } from 'vitest';
import { DEFAULT_TRANSPORT_LIMITS, transportLimits } from './limits.js';
import { backoffMs } from './peer-link.js';

describe('back-off and limits', () => {
  it('doubles the wait per consecutive failure up to the cap', () => {
    const limits = transportLimits({ backoffMsMin: 50, backoffMsMax: 1000 });
    expect([1, 2, 3, 4, 5, 6, 100].map((n) => backoffMs(limits, n))).toEqual([50, 100, 200, 400, 800, 1000, 1000]);
  });

  it('keeps a dead peer noticed within about two seconds by default', () => {
    expect(DEFAULT_TRANSPORT_LIMITS.keepaliveTimeMs + DEFAULT_TRANSPORT_LIMITS.keepaliveTimeoutMs).toBeLessThanOrEqual(2000);
  });

  it('refuses limits that cannot work', () => {
    expect(() => transportLimits({ queueMessagesMax: 0 })).toThrow(/queueMessagesMax/);
    expect(() => transportLimits({ backoffMsMin: 10, backoffMsMax: 5 })).toThrow(/backoffMsMax/);
    expect(() => transportLimits({ queueBytesMax: 10, batchBytesMax: 20 })).toThrow(/batch limits/);
  });
});

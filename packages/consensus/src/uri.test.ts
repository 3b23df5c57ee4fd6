import { describe, expect, it } from 'vitest';
import { grpcTarget } from './uri.js';

describe('grpcTarget', () => {
  it('takes the host and port of the URIs operators write', () => {
    expect(grpcTarget('http://10.0.0.1:6335')).toBe('10.0.0.1:6335');
    expect(grpcTarget('https://node-1.shoal:7000/')).toBe('node-1.shoal:7000');
    expect(grpcTarget('http://node-1:80')).toBe('node-1:80');
    expect(grpcTarget('grpc://[::1]:6335')).toBe('[::1]:6335');
    expect(grpcTarget('node-2:6335')).toBe('node-2:6335');
    expect(grpcTarget('http://node-3')).toBe('node-3:6335');
  });

  it('refuses what is not a peer address, naming it', () => {
    for (const uri of ['ftp://h:1', 'http://', 'http://h:1/x', 'http://h:1?a=b', 'http://u@h:1', 'http://h:99999']) {
      expect(() => grpcTarget(uri), uri).toThrow(/Invalid peer URI/);
    }
  });
});

import { ShoalError } from '@shoal/common';

/** The p2p port a peer URI without a port means (Qdrant's default). */
export const P2P_PORT_DEFAULT = 6335;

/**
 * A peer's URI as operators write it (`http://10.0.0.1:6335`, Qdrant's form; also `https://`,
 * `grpc://`, or a bare `host:port`) turned into a gRPC target `host:port`. Whether the connection
 * uses TLS is decided by the credentials the transport was given, not by the scheme.
 */
export function grpcTarget(uri: string): string {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(uri);
  const scheme = match?.[1]?.toLowerCase() ?? 'grpc';
  if (!['http', 'https', 'grpc'].includes(scheme)) {
    throw new ShoalError('bad_request', `Invalid peer URI '${uri}': scheme must be http, https or grpc`);
  }
  // Parsed under a scheme without a default port, so that an explicit :80 or :443 survives.
  let url: URL;
  try {
    url = new URL(`grpc://${match?.[2] ?? uri}`);
  } catch {
    throw new ShoalError('bad_request', `Invalid peer URI '${uri}'`);
  }
  if (url.hostname === '' || (url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.username !== '') {
    throw new ShoalError('bad_request', `Invalid peer URI '${uri}': expected scheme://host:port`);
  }
  return `${url.hostname}:${url.port === '' ? P2P_PORT_DEFAULT : url.port}`;
}

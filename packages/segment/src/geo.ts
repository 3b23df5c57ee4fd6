// Geo predicates on {lon, lat} payload values, in degrees; distances in meters.
import type { GeoPoint, JsonValue } from '@shoal/common';

/** Mean earth radius in meters, the one Qdrant's haversine uses. */
const EARTH_RADIUS_M = 6_371_008.8;
const RAD = Math.PI / 180;

/** {lon, lat} when the value is an object holding two numbers, else null. */
export function asGeoPoint(value: JsonValue): GeoPoint | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const lon = value['lon'];
  const lat = value['lat'];
  if (typeof lon !== 'number' || typeof lat !== 'number') return null;
  return { lon, lat };
}

export function haversineMeters(a: GeoPoint, b: GeoPoint): number {
  const dLat = (b.lat - a.lat) * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Inside the box; a box whose left edge is east of its right edge crosses the antimeridian. */
export function inBoundingBox(p: GeoPoint, topLeft: GeoPoint, bottomRight: GeoPoint): boolean {
  if (p.lat > topLeft.lat || p.lat < bottomRight.lat) return false;
  if (topLeft.lon <= bottomRight.lon) return p.lon >= topLeft.lon && p.lon <= bottomRight.lon;
  return p.lon >= topLeft.lon || p.lon <= bottomRight.lon;
}

/** Even-odd ray casting on the plane of (lon, lat). */
export function inRing(p: GeoPoint, ring: readonly GeoPoint[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const a = ring[i] as GeoPoint;
    const b = ring[j] as GeoPoint;
    if (a.lat > p.lat !== b.lat > p.lat) {
      const lonAtLat = ((b.lon - a.lon) * (p.lat - a.lat)) / (b.lat - a.lat) + a.lon;
      if (p.lon < lonAtLat) inside = !inside;
    }
  }
  return inside;
}

export function inPolygon(p: GeoPoint, exterior: readonly GeoPoint[], interiors: readonly (readonly GeoPoint[])[]): boolean {
  if (!inRing(p, exterior)) return false;
  for (const hole of interiors) if (inRing(p, hole)) return false;
  return true;
}

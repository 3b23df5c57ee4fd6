// Prometheus text exposition with Qdrant's metric names, plus the event-loop delay (which says
// whether request work could delay timers such as Raft ticks).
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Upper bounds of the REST latency histogram, seconds (Qdrant's buckets). */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 5, 10, 50];

interface EndpointStats {
  readonly method: string;
  readonly endpoint: string;
  readonly status: number;
  count: number;
  sumSeconds: number;
  readonly buckets: number[];
}

/** Most distinct (method, endpoint, status) series kept; endpoints are route templates, so few. */
const SERIES_MAX = 2_000;

export interface CollectionGauge {
  readonly name: string;
  readonly points: number;
  readonly vectors: number;
}

export class Metrics {
  private readonly series = new Map<string, EndpointStats>();
  private readonly loopDelay: IntervalHistogram;

  constructor() {
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.loopDelay.enable();
  }

  stop(): void {
    this.loopDelay.disable();
  }

  observeRest(method: string, endpoint: string, status: number, seconds: number): void {
    const key = `${method} ${endpoint} ${status}`;
    let stats = this.series.get(key);
    if (stats === undefined) {
      if (this.series.size >= SERIES_MAX) return;
      stats = { method, endpoint, status, count: 0, sumSeconds: 0, buckets: DURATION_BUCKETS.map(() => 0) };
      this.series.set(key, stats);
    }
    stats.count += 1;
    stats.sumSeconds += seconds;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) if (seconds <= DURATION_BUCKETS[i]!) stats.buckets[i]! += 1;
  }

  /** Event-loop delay percentiles, seconds. */
  eventLoopDelay(): { p50: number; p99: number; max: number } {
    const ns = 1e-9;
    return {
      p50: this.loopDelay.percentile(50) * ns,
      p99: this.loopDelay.percentile(99) * ns,
      max: this.loopDelay.max * ns,
    };
  }

  render(version: string, collections: readonly CollectionGauge[]): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    family('app_info', 'gauge', 'information about shoal server');
    out.push(`app_info{name="shoal",version="${version}"} 1`);
    family('app_status_recovery_mode', 'gauge', 'features enabled in qdrant server');
    out.push('app_status_recovery_mode 0');
    family('cluster_enabled', 'gauge', 'is cluster support enabled');
    out.push('cluster_enabled 0');
    family('collections_total', 'gauge', 'number of collections');
    out.push(`collections_total ${collections.length}`);
    family('collections_vector_total', 'gauge', 'total number of vectors in all collections');
    out.push(`collections_vector_total ${collections.reduce((sum, c) => sum + c.vectors, 0)}`);
    family('collection_points', 'gauge', 'approximate amount of points per collection');
    for (const c of collections) out.push(`collection_points{id="${escapeLabel(c.name)}"} ${c.points}`);
    this.renderRest(out, family);
    const delay = this.eventLoopDelay();
    family('process_event_loop_delay_seconds', 'gauge', 'event loop delay since start, by quantile');
    out.push(`process_event_loop_delay_seconds{quantile="0.5"} ${delay.p50}`);
    out.push(`process_event_loop_delay_seconds{quantile="0.99"} ${delay.p99}`);
    out.push(`process_event_loop_delay_seconds{quantile="1"} ${delay.max}`);
    return `${out.join('\n')}\n`;
  }

  private renderRest(out: string[], family: (name: string, type: string, help: string) => void): void {
    const all = [...this.series.values()];
    family('rest_responses_total', 'counter', 'total number of responses');
    for (const s of all) out.push(`rest_responses_total{${labels(s)}} ${s.count}`);
    family('rest_responses_fail_total', 'counter', 'total number of failed responses');
    for (const s of all) if (s.status >= 400) out.push(`rest_responses_fail_total{${labels(s)}} ${s.count}`);
    family('rest_responses_duration_seconds', 'histogram', 'response duration histogram');
    for (const s of all) {
      DURATION_BUCKETS.forEach((bound, i) => out.push(`rest_responses_duration_seconds_bucket{${labels(s)},le="${bound}"} ${s.buckets[i]}`));
      out.push(`rest_responses_duration_seconds_bucket{${labels(s)},le="+Inf"} ${s.count}`);
      out.push(`rest_responses_duration_seconds_sum{${labels(s)}} ${s.sumSeconds}`);
      out.push(`rest_responses_duration_seconds_count{${labels(s)}} ${s.count}`);
    }
  }
}

function labels(s: EndpointStats): string {
  return `method="${s.method}",endpoint="${escapeLabel(s.endpoint)}",status="${s.status}"`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

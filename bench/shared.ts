// What the benchmarks share: the machine they ran on, medians and percentiles, number formatting, reading
// Redis's INFO replies, and the synthetic traffic of the end-to-end benchmark. Nothing here touches Redis or
// HTTP.

import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SegmentEvent } from '../src/core/types';

export interface Machine {
  cpu: string;
  cores: number;
  ramGb: number;
  node: string;
  os: string;
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    ramGb: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

export function describeMachine(m: Machine = machine()): string {
  return `${m.cpu}, ${m.cores} cores, ${m.ramGb} GB RAM, Node ${m.node}, ${m.os}`;
}

/** The repository's copy of the reference vectors (vectors/ at the root), from bench/ run by tsx or compiled into dist-bench/bench/. */
export function vectorsDir(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'vectors');
}

/** The fields of a Redis INFO reply (one section or several), by name: `used_cpu_user` → `1.5`. */
export function infoFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nearest-rank percentile (p in 0..100) of values sorted ascending. */
export function percentile(sortedAscending: readonly number[], p: number): number {
  if (sortedAscending.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sortedAscending.length);
  return sortedAscending[Math.min(sortedAscending.length - 1, Math.max(0, rank - 1))];
}

export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n);
}

export function fmtMb(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? r.toFixed(2) : String(r);
}

/** A small table with a header row. Columns of figures are right-aligned, columns with text left-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const figure = /^([+\-–\d]|$)/;
  const right = rows[0].map((_, c) => c > 0 && rows.slice(1).every((r) => figure.test(r[c] ?? '')));
  const line = (r: string[]) => r.map((cell = '', c) => (right[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Synthetic traffic for the end-to-end benchmark: what a web or mobile source sends, most of it track
// calls, some identify. Deterministic (seeded), so every run and the baseline carry the same bytes.

const EVENT_NAMES = ['Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed', 'Signed In', 'Video Played', 'Search Performed', 'Coupon Applied'];
const PAGES = ['/', '/pricing', '/products/42', '/cart', '/checkout', '/blog/how-we-batch', '/account'];
const AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
];

/** Mulberry32: small, fast and good enough to make a benchmark, fuzz or chaos run replayable from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TrafficOptions {
  /** Share of identify calls; the rest are track calls (default 0.2). */
  identifyShare?: number;
  /** Distinguishes the messageIds of separate runs on the same Redis (job ids derive from them). */
  runId: string;
  /**
   * All traffic for this many persons (userIds user-0 … user-<persons-1>) instead of 100,000: the worst case
   * of per-person order. Identify calls then also carry their messageId as the trait `bench_message_id`, so
   * the stand-in can tell which identify arrived when (a track item carries it as its `id` already).
   */
  persons?: number;
}

/**
 * Event number i of a run. Each one fires exactly one preset: a track call fires "Track Event", an
 * identify fires "Create or Update Person"; both build a valid item (they carry a userId).
 */
export function syntheticEvent(i: number, opts: TrafficOptions): SegmentEvent {
  const rand = seededRandom(i * 2654435761 + 17);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const user = Math.floor(rand() * (opts.persons ?? 100_000));
  const ts = new Date(Date.UTC(2024, 2, 15, 12, 0, 0) + i * 37).toISOString();
  const page = pick(PAGES);
  const context = {
    ip: `10.${user % 256}.${(user >> 8) % 256}.${i % 256}`,
    library: { name: 'analytics.js', version: '5.2.0' },
    locale: 'en-US',
    userAgent: pick(AGENTS),
    page: { path: page, url: `https://shop.example.com${page}`, referrer: 'https://www.google.com/', title: 'Example Shop' },
  } as Record<string, unknown>;
  if (rand() < 0.3) context.campaign = { name: 'spring_sale', source: 'newsletter', medium: 'email' };
  const base = {
    messageId: `${opts.runId}-${i}`,
    userId: `user-${user}`,
    anonymousId: `anon-${(user * 7919) % 1_000_003}`,
    timestamp: ts,
    sentAt: ts,
    context,
  };
  if (rand() < (opts.identifyShare ?? 0.2)) {
    return {
      ...base,
      type: 'identify',
      traits: {
        email: `user-${user}@example.com`,
        name: `User ${user}`,
        plan: pick(['free', 'team', 'enterprise']),
        created_at: new Date(Date.UTC(2023, 0, 1) + user * 60_000).toISOString(),
        logins: Math.floor(rand() * 500),
        company: { name: `Company ${user % 977}`, size: Math.floor(rand() * 5000) },
        ...(opts.persons !== undefined ? { bench_message_id: base.messageId } : {}),
      },
    };
  }
  const properties: Record<string, unknown> = {
    product_id: `sku-${Math.floor(rand() * 10_000)}`,
    name: `Product ${Math.floor(rand() * 1000)}`,
    category: pick(['shoes', 'shirts', 'hats', 'bags']),
    price: Math.round(rand() * 20_000) / 100,
    quantity: 1 + Math.floor(rand() * 3),
    currency: 'USD',
    url: `https://shop.example.com${page}`,
    viewed_at: ts,
  };
  if (rand() < 0.2) properties.coupon = 'SPRING10';
  return { ...base, type: 'track', event: pick(EVENT_NAMES), properties };
}

/** A chunk of consecutive events [from, from + count). */
export function syntheticChunk(from: number, count: number, opts: TrafficOptions): SegmentEvent[] {
  const out = new Array<SegmentEvent>(count);
  for (let k = 0; k < count; k++) out[k] = syntheticEvent(from + k, opts);
  return out;
}

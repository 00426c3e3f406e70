import { parseArgs } from 'node:util';
import { z } from 'zod';

/** Process settings: environment variables, each also a CLI flag (`--mqtt-port 1884`). */
const port = z.coerce.number().int().min(0).max(65535);
const onOff = z.enum(['on', 'off']);

export const settingsSchema = z.object({
  CONFIG: z.string().default('config/example.yaml'),
  MQTT_PORT: port.default(1883),
  MQTT_WS_PORT: port.default(8083),
  MQTTS_PORT: port.optional(),
  TLS_CERT: z.string().optional(),
  TLS_KEY: z.string().optional(),
  HTTP_PORT: port.default(3000),
  FIRE_PANEL_PORT: port.optional(),
  FIRE_PANEL_ADDRESS: z.coerce.number().int().min(0).max(2 ** 48 - 1).default(0),
  HOST: z.string().default('0.0.0.0'),
  DATA_DIR: z.string().default('./data'),
  INFLUX_URL: z.url().optional(),
  INFLUX_DB: z.string().default('risk_monitor'),
  INFLUX_USER: z.string().optional(),
  INFLUX_PASSWORD: z.string().optional(),
  INFLUX_BUFFER_MB: z.coerce.number().min(1).max(1024 * 1024).default(512),
  STORE_MEMORY_MB: z.coerce.number().int().min(64).max(1024 * 1024).default(512),
  INFLUX_TOKEN: z.string().optional(),
  INFLUX_ORG: z.string().optional(),
  INFLUX_BUCKET: z.string().optional(),
  FORWARD_QUEUE_MB: z.coerce.number().min(1).max(1024 * 1024).default(512),
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'SMTP_URL must start with smtp:// or smtps://').optional(),
  MAIL_FROM: z.string().default('risk-monitor@localhost'),
  SIMULATORS: onOff.default('on'),
  PUBLIC_URL: z.string().default('http://localhost:3000'),
  ACK_LINK_HOURS: z.coerce.number().min(0).max(24 * 7).default(12),
  ACK_LINK_SECRET: z.string().min(32, 'ACK_LINK_SECRET needs at least 32 characters').optional(),
  API_RATE_LIMIT: z.coerce.number().int().min(1).max(10_000_000).default(3000),
  API_LOGIN_FAILURES: z.coerce.number().int().min(1).max(100_000).default(30),
  RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(365),
  OUTBOX_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(90),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PIPELINE_THREAD: onOff.default('on'),
  ROLE: z.enum(['all', 'edge', 'worker', 'api']).default('all'),
  NATS_URL: z
    .string()
    .refine((v) => v.split(',').every((u) => /^(nats|tls):\/\/[^\s,]+$/.test(u.trim())), 'NATS_URL is one or more nats://host:port, separated by commas')
    .optional(),
  PG_URL: z.string().regex(/^postgres(ql)?:\/\//, 'PG_URL must start with postgres://').optional(),
  CLUSTER_PARTITIONS: z.coerce.number().int().min(1).max(4096).default(64),
  CLUSTER_REPLICAS: z.coerce.number().int().min(1).max(5).default(3),
  NODE_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'NODE_ID is 1-64 letters, digits, _ . -').optional(),
  LEASE_S: z.coerce.number().min(1).max(300).default(10),
});

export type Settings = z.infer<typeof settingsSchema>;

export const SETTING_HELP: Record<keyof Settings, string> = {
  CONFIG: 'the site registry (YAML)',
  MQTT_PORT: 'MQTT over TCP',
  MQTT_WS_PORT: 'MQTT over WebSocket',
  MQTTS_PORT: 'MQTT over TLS (needs TLS_CERT and TLS_KEY)',
  TLS_CERT: 'PEM certificate file for MQTTS',
  TLS_KEY: 'PEM key file for MQTTS',
  HTTP_PORT: 'REST API, live stream, dashboards, /metrics',
  FIRE_PANEL_PORT: 'GB/T 26875.3 listener for fire alarm panels\' transmission devices (off unless set)',
  FIRE_PANEL_ADDRESS: 'this centre\'s address in GB/T 26875.3 frames',
  HOST: 'address the listeners bind to',
  DATA_DIR: 'embedded store and on-disk buffers',
  INFLUX_URL: 'InfluxDB 1.x HTTP API (also 2.x/3.x compatibility mode)',
  INFLUX_DB: 'InfluxDB database',
  INFLUX_USER: 'InfluxDB user',
  INFLUX_PASSWORD: 'InfluxDB password',
  INFLUX_BUFFER_MB: 'disk buffer for readings while InfluxDB is unreachable (MiB)',
  STORE_MEMORY_MB: 'memory the embedded readings database may use for its cache and queries before it spills to disk (MiB); the alert database gets a quarter of it',
  INFLUX_TOKEN: 'InfluxDB 2.x token (native API)',
  INFLUX_ORG: 'InfluxDB 2.x organisation',
  INFLUX_BUCKET: 'InfluxDB 2.x bucket',
  FORWARD_QUEUE_MB: 'disk queue per uplink lane while an upstream platform is unreachable (MiB)',
  SMTP_URL: 'e-mail channel, smtp://user:pass@host:port',
  MAIL_FROM: 'sender address of alert e-mails',
  SIMULATORS: '"off" starts without the built-in simulated plants',
  PUBLIC_URL: 'base URL used in links to alerts',
  ACK_LINK_HOURS: 'notifications carry a one-time link acknowledging their alerts, valid this long (0: no links)',
  ACK_LINK_SECRET: 'key signing acknowledge links (default: one made at the first start, DATA_DIR/ack-link.key)',
  API_RATE_LIMIT: 'API requests a minute per caller (token, else address)',
  API_LOGIN_FAILURES: 'unknown API tokens a minute from one address before it waits 5 minutes',
  RETENTION_DAYS: 'readings older than this are deleted from the embedded store, daily at 03:00 CST (InfluxDB: its retention policies)',
  OUTBOX_RETENTION_DAYS: 'delivered or expired notifications older than this leave the outbox (the alert record keeps their outcome)',
  LOG_LEVEL: 'log level',
  PIPELINE_THREAD: '"off" runs decoding, the rules and the readings\' store on the main thread (no worker thread)',
  ROLE: 'all (one process, the default) | edge (MQTT) | worker (rules, alerts, notifications) | api (REST, live stream, dashboards): cluster roles need NATS_URL and PG_URL',
  NATS_URL: 'cluster mode: the NATS servers (JetStream), nats://host:port separated by commas',
  PG_URL: 'cluster mode: the PostgreSQL the cluster keeps its state in, postgres://user:password@host:port/db',
  CLUSTER_PARTITIONS: 'cluster mode: the number of partitions, fixed for the life of the data (the NATS mapping must say the same)',
  CLUSTER_REPLICAS: 'cluster mode: JetStream replicas of each partition stream',
  NODE_ID: 'cluster mode: this process\'s name among the workers (default: host name and process id)',
  LEASE_S: 'cluster mode: a worker silent this long loses its partitions to the others',
};

const flagOf = (key: string) => key.toLowerCase().replace(/_/g, '-');

export class SettingsError extends Error {}

/** zod's words, except for a number that is none: it said `expected number, received NaN` */
function saidOf(issue: z.core.$ZodIssue, given: Record<string, unknown>): string {
  if (issue.code !== 'invalid_type' || issue.expected !== 'number') return issue.message;
  return `expected a number, got ${JSON.stringify(String(given[String(issue.path[0])]).slice(0, 40))}`;
}

export function readSettings(argv: string[], env: NodeJS.ProcessEnv): Settings | 'help' {
  const keys = Object.keys(settingsSchema.shape) as (keyof Settings)[];
  const { values } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' }, ...Object.fromEntries(keys.map((k) => [flagOf(k), { type: 'string' as const }])) },
    strict: true,
  });
  if (values.help) return 'help';
  const merged: Record<string, unknown> = {};
  for (const k of keys) {
    const v = (values as Record<string, unknown>)[flagOf(k)] ?? env[k];
    if (v !== undefined && v !== '') merged[k] = v;
  }
  const parsed = settingsSchema.safeParse(merged);
  if (!parsed.success) throw new SettingsError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${saidOf(i, merged)}`).join('\n'));
  const s = parsed.data;
  if (s.MQTTS_PORT !== undefined && (!s.TLS_CERT || !s.TLS_KEY)) throw new SettingsError('MQTTS_PORT needs TLS_CERT and TLS_KEY');
  if (s.INFLUX_TOKEN && (!s.INFLUX_URL || !s.INFLUX_ORG || !s.INFLUX_BUCKET)) throw new SettingsError('INFLUX_TOKEN (InfluxDB 2.x) needs INFLUX_URL, INFLUX_ORG and INFLUX_BUCKET');
  if (s.ROLE !== 'all') {
    const missing = [...(s.NATS_URL ? [] : ['NATS_URL']), ...(s.PG_URL ? [] : ['PG_URL']), ...(s.ROLE !== 'edge' && !s.INFLUX_URL ? ['INFLUX_URL'] : [])];
    if (missing.length) throw new SettingsError(`ROLE=${s.ROLE} (cluster mode) needs ${missing.join(', ')}: readings go to InfluxDB, state to PostgreSQL, and the log is NATS JetStream`);
  }
  return s;
}

export function helpText(): string {
  const keys = Object.keys(settingsSchema.shape) as (keyof Settings)[];
  return ['Usage: npm start -- [--flag value …]   (each flag is also an environment variable)', '']
    .concat(keys.map((k) => `  --${flagOf(k).padEnd(16)} ${k.padEnd(16)} ${SETTING_HELP[k]}`))
    .join('\n');
}

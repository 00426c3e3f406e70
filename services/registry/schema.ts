import { z } from 'zod';
import { INDUSTRIES, isMetric } from '../../domain/indicators.ts';
import { TOXIC_GAS_NAMES, isToxicGas, type ToxicGasName } from '../../domain/toxic-gases.ts';
import { SEVERITIES } from '../../domain/types.ts';
import { TEMPLATE_NAMES } from '../../rules/templates/index.ts';
import { flappingSchema } from '../../rules/schema.ts';
import { scryptHashProblem } from '../../gateway/credentials.ts';

/** The site registry (CONFIG, YAML) as the contract gives it. Every boundary type is inferred here. */
export const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'ids are 1–64 letters, digits, "_", "." or "-"');
const regionCode = z.string().regex(/^\d{2,12}$/, 'a region code is 2–12 digits');
export const UNIT_KINDS = ['enterprise', 'township', 'regulator', 'fire'] as const;
export type UnitKind = (typeof UNIT_KINDS)[number];

/** Every number in the registry is bounded: a typo (1e300, 1e-9) is refused, not obeyed. */
const between = (lo: number, hi: number) => z.number().min(lo).max(hi);
const positiveUpTo = (hi: number) => z.number().positive().max(hi);
const DAY_S = 86_400;

const metric = z.string().refine((m: string): boolean => isMetric(m), { error: (iss) => `unknown metric "${String(iss.input)}"` });

const webhookSchema = z
  .object({
    url: z.url(),
    format: z.enum(['generic', 'dingtalk', 'wecom']).default('generic'),
    secret: z.string().optional(),
    /** generic receivers: the largest body it takes (default 1024); a larger group goes as several messages */
    maxBodyKB: z.number().int().min(16).max(10_240).optional(),
  })
  .strict()
  // a robot's limit is known (DingTalk's 20 000 bytes, WeCom's 4 096): a value would be ignored
  .refine((h) => h.maxBodyKB === undefined || h.format === 'generic', { message: 'maxBodyKB is for generic receivers: a robot\'s limit is known', path: ['maxBodyKB'] });

/** A mainland mobile (11 digits) or an international number (+ and up to 15 digits, E.164). */
const phoneNumber = z.string().regex(/^(1[3-9]\d{9}|\+[1-9]\d{6,14})$/, 'a phone number is an 11-digit mainland mobile or +<country code><number>');
const phoneSchema = z
  .union([phoneNumber, z.object({ number: phoneNumber, name: z.string().min(1).max(50).optional() }).strict()])
  .transform((p) => (typeof p === 'string' ? { number: p, name: undefined } : p));

/** `false`: not by this channel; a provider id: this unit's provider instead of the global one. */
const providerChoice = z.union([z.literal(false), id]);

export const unitSchema = z
  .object({
    id,
    name: z.string().min(1),
    kind: z.enum(UNIT_KINDS),
    regions: z.array(regionCode).default([]),
    email: z.array(z.email()).default([]),
    webhooks: z.array(webhookSchema).default([]),
    /** the people on duty: SMS and voice calls go to each number */
    phones: z.array(phoneSchema).max(20).default([]),
    sms: providerChoice.optional(),
    voice: providerChoice.optional(),
  })
  .strict();

/** Per number, what the provider lets through (its flow control); beyond it, messages wait. */
const perNumberSchema = z
  .object({
    perMinute: z.number().int().min(1).max(1000).optional(),
    perHour: z.number().int().min(1).max(10_000).optional(),
    perDay: z.number().int().min(1).max(100_000).optional(),
  })
  .strict();
const providerCommon = {
  id,
  /** per number and channel: default the provider's documented defaults (services/notify/channels/phone-limits.ts) */
  perNumber: perNumberSchema.optional(),
  timeoutS: between(0.1, 60).default(10),
};
export const providerSchema = z.discriminatedUnion('kind', [
  z
    .object({
      ...providerCommon,
      /** any SMS/voice gateway taking a signed JSON POST (README: "SMS and voice") */
      kind: z.literal('http'),
      url: z.url(),
      voiceUrl: z.url().optional(),
      secret: z.string().min(16, 'an HTTP gateway secret needs at least 16 characters'),
      /** the gateway's longest message, in characters */
      maxChars: z.number().int().min(20).max(2000).default(500),
    })
    .strict(),
  z
    .object({
      ...providerCommon,
      /** Alibaba Cloud SMS (Dysmsapi SendSms) and voice (Dyvmsapi SingleCallByTts), RPC signature */
      kind: z.literal('aliyun'),
      accessKeyId: z.string().min(1),
      accessKeySecret: z.string().min(1),
      signName: z.string().min(1).max(50),
      smsTemplate: z.string().min(1).max(64),
      voiceTemplate: z.string().min(1).max(64).optional(),
      /** the caller number shown for voice calls (bought with the voice service) */
      calledShowNumber: z.string().min(1).max(32).optional(),
      regionId: z.string().min(1).max(32).default('cn-hangzhou'),
      endpoint: z.url().default('https://dysmsapi.aliyuncs.com'),
      voiceEndpoint: z.url().default('https://dyvmsapi.aliyuncs.com'),
    })
    .strict(),
  z
    .object({
      ...providerCommon,
      /** Tencent Cloud SMS (SendSms 2021-01-11) and voice (SendTtsVoice 2020-09-02), TC3-HMAC-SHA256 */
      kind: z.literal('tencent'),
      secretId: z.string().min(1),
      secretKey: z.string().min(1),
      smsSdkAppId: z.string().min(1).max(32),
      signName: z.string().min(1).max(50),
      smsTemplate: z.string().min(1).max(32),
      voiceSdkAppId: z.string().min(1).max(32).optional(),
      voiceTemplate: z.string().min(1).max(32).optional(),
      region: z.string().min(1).max(32).default('ap-guangzhou'),
      endpoint: z.url().default('https://sms.tencentcloudapi.com'),
      voiceEndpoint: z.url().default('https://vms.tencentcloudapi.com'),
    })
    .strict(),
]);

const messagingSchema = z
  .object({
    providers: z.array(providerSchema).max(20).default([]),
    /** the provider for units that do not name their own; none: no SMS (or voice) unless a unit names one */
    sms: id.optional(),
    voice: id.optional(),
  })
  .strict()
  .refine((m) => new Set(m.providers.map((p) => p.id)).size === m.providers.length, { path: ['providers'], error: 'provider ids must be unique' })
  .refine((m) => [m.sms, m.voice].every((p) => p === undefined || m.providers.some((q) => q.id === p)), { error: 'messaging.sms and messaging.voice name a provider in messaging.providers' });

export const pointSchema = z
  .object({
    /** unique within the device; values are keyed by it. Default: the metric (one point of it) */
    id: id.optional(),
    metric,
    unit: z.string().max(32).optional(),
    range: z.tuple([between(-1e9, 1e9), between(-1e9, 1e9)]).refine(([lo, hi]) => lo < hi, 'range must be [low, high] with low < high').optional(),
    name: z.string().max(100).optional(),
    /**
     * where a point measures when a template tells places apart: melt level at the furnace's
     * outlet launder or at the launder-to-mould junction (Order No. 10, non-ferrous (四)–(六))
     */
    place: z.enum(['launder', 'junction']).optional(),
    /** a dust-concentration point's dust: its minimum explosible concentration, g/m³ (sets its levels) */
    mec: z.number().gt(0).max(10_000).optional(),
    /** a toxic-gas point's gas: its alarm levels follow the gas's exposure limit */
    gas: z
      .string()
      .refine((g: string): g is ToxicGasName => isToxicGas(g), { error: (iss) => `unknown toxic gas "${String(iss.input)}"; known: ${TOXIC_GAS_NAMES.join(', ')}` })
      .optional(),
    /**
     * a fire panel's component (or system) this point stands for, matched on what is given: the
     * most specific match wins, and `{}` takes every component nothing else matches
     */
    panel: z
      .object({
        systemType: z.number().int().min(0).max(255).optional(),
        systemAddress: z.number().int().min(0).max(255).optional(),
        componentType: z.number().int().min(0).max(255).optional(),
        componentAddress: z.number().int().min(0).max(0xffffffff).optional(),
      })
      .strict()
      .optional(),
    /** the point's code on upstream platforms: one for all uplinks, or per uplink id */
    code: z.string().min(1).max(64).optional(),
    codes: z.record(z.string().max(64), z.string().min(1).max(64)).optional(),
  })
  .strict()
  .refine((p) => p.gas === undefined || p.metric === 'toxic_gas_ppm', { path: ['gas'], error: 'only a toxic_gas_ppm point names a gas' })
  .refine((p) => p.mec === undefined || p.metric === 'dust_concentration', { path: ['mec'], error: 'only a dust_concentration point names its dust\'s minimum explosible concentration' })
  // a point without an id is known by its metric, as every point was before points had ids
  .transform((p) => ({ ...p, id: p.id ?? p.metric }));

/** A device's rule entry: a whole inline rule, or an override of a template rule by id. */
const ruleEntrySchema = z.object({ id: z.string().min(1) }).passthrough();

export const deviceSchema = z
  .object({
    id,
    name: z.string().optional(),
    secret: z.string().min(8, 'a device secret needs at least 8 characters').optional(),
    secretHash: z
      .string()
      .max(400)
      .startsWith('scrypt$', 'secretHash must be made by `npm run secret`')
      .superRefine((h, ctx) => {
        const problem = scryptHashProblem(h);
        if (problem) ctx.addIssue({ code: 'custom', message: `secretHash ${problem} (make it with \`npm run secret\`)` });
      })
      .optional(),
    reportIntervalS: between(1, DAY_S).default(60),
    templates: z.array(z.enum(TEMPLATE_NAMES)).default([]),
    /** a casting device's furnace: which feedback its interlocks expect (Order No. 10 (三)(五)(六)) */
    furnace: z.enum(['fixed', 'tilting']).optional(),
    points: z.array(pointSchema).min(1),
    rules: z.array(ruleEntrySchema).default([]),
    /** an alert that changes this often within the window stays open, marked flapping */
    flapping: flappingSchema.optional(),
    /** a fire panel's user information transmission device: its GB/T 26875.3 address (decimal, 6 bytes) */
    panelAddress: z
      .string()
      .regex(/^\d{1,15}$/, 'a panel address is the decimal value of its 6 address bytes')
      .refine((a) => Number(a) < 2 ** 48, 'a panel address fits 6 bytes')
      .optional(),
    /** the addresses a panel may connect from: GB/T 26875.3 carries no credentials (none: any) */
    panelHosts: z.array(z.union([z.ipv4(), z.ipv6()])).max(16).optional(),
  })
  .strict()
  // a fire panel speaks GB/T 26875.3, not MQTT: it needs no secret (and has none to give)
  .refine((d) => (d.secret === undefined) !== (d.secretHash === undefined) || (d.panelAddress !== undefined && d.secret === undefined && d.secretHash === undefined), {
    message: 'give exactly one of secret or secretHash',
  });

/** What every uplink says: whom it covers, how often readings go, when to give up on an entry. */
const uplinkCommon = {
  id,
  name: z.string().optional(),
  /** the enterprises whose data go up: listed, or every enterprise in these regions */
  enterprises: z.array(id).default([]),
  regions: z.array(regionCode).default([]),
  /** readings are sent this often (alarm events at once); 0 sends readings as they come */
  readingsEveryS: z.number().min(0).max(86_400).optional(),
  /** each interval: the latest value of every point, or every reading taken */
  send: z.enum(['latest', 'all']).optional(),
  maxItemsPerBatch: z.number().int().positive().max(100_000).default(1000),
  /** an entry the platform keeps refusing goes to the dead letters after this many answers */
  maxRefusals: z.number().int().positive().max(10_000).default(10),
  /** and any entry still not delivered after this many hours */
  giveUpAfterH: positiveUpTo(24 * 365).default(72),
  timeoutS: between(0.1, 600).default(10),
  enabled: z.boolean().default(true),
};
const hexOrText = (bytes: number) =>
  z
    .string()
    .refine((s) => Buffer.byteLength(s) === bytes || (s.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(s)), `give ${bytes} characters or ${bytes * 2} hex digits`);
const httpCommon = {
  url: z.url(),
  /** alarm events may have an endpoint of their own */
  alarmUrl: z.url().optional(),
  /** the enterprise code the platform knows, when it is not the registry id */
  enterpriseCodes: z.record(z.string(), z.string().min(1)).default({}),
};
export const uplinkSchema = z.discriminatedUnion('kind', [
  z
    .object({
      ...uplinkCommon,
      kind: z.literal('mqtt'),
      url: z.string().regex(/^(mqtts?|wss?):\/\//, 'an MQTT url starts with mqtt://, mqtts://, ws:// or wss://'),
      username: z.string().optional(),
      password: z.string().optional(),
      clientId: z.string().optional(),
      /** PEM file of the CA that signed the platform's certificate (TLS) */
      caFile: z.string().optional(),
      rejectUnauthorized: z.boolean().default(true),
      /** {enterprise}, {device}, {type} (telemetry or alarm) and {uplink} are filled in */
      topic: z.string().min(1).default('{enterprise}/{device}/{type}'),
    })
    .strict(),
  z
    .object({
      ...uplinkCommon,
      ...httpCommon,
      kind: z.literal('http-sm4'),
      appId: z.string().min(1),
      appSecret: z.string().min(1),
      secretHeader: z.string().min(1).default('appSecret'),
      key: hexOrText(16),
      iv: hexOrText(16),
    })
    .strict(),
  z
    .object({
      ...uplinkCommon,
      ...httpCommon,
      kind: z.literal('http-des'),
      /** wgbm: the code of this gateway on the platform */
      gatewayCode: z.string().min(1),
      key: hexOrText(8),
      /** many provincial interfaces use the key as the IV */
      iv: hexOrText(8).optional(),
    })
    .strict(),
]);

const unitKindList = z.array(z.enum(UNIT_KINDS));
const immediateSchema = z
  .object(Object.fromEntries(SEVERITIES.map((s) => [s, unitKindList.optional()])) as Record<(typeof SEVERITIES)[number], z.ZodOptional<typeof unitKindList>>)
  .strict();
export const CHANNEL_KINDS = ['email', 'webhook', 'sms', 'voice'] as const;
/** `via`: this step reaches the unit by these channels only (default: all of its channels but voice, which follows `voiceFrom`) */
const escalationSchema = z.array(z.object({ afterMin: between(0.1, 30 * 24 * 60), to: z.enum(UNIT_KINDS), via: z.array(z.enum(CHANNEL_KINDS)).min(1).optional() }).strict());

/** What may be set per industry or per enterprise: every field overrides the one above it. */
const routingOverrideSchema = z
  .object({
    immediate: immediateSchema.optional(),
    byMetric: z.record(metric, unitKindList).optional(),
    escalation: escalationSchema.optional(),
    /** not closed this many hours after it was raised → the regulator is told */
    closeWithinH: between(0.01, 24 * 365).optional(),
    reminderEveryMin: between(1, 7 * 24 * 60).optional(),
    /** a unit's notifications wait this long to be grouped (a storm becomes one digest) */
    groupWaitS: between(0, 3600).optional(),
    /** and after one is sent, the next group waits at least this long (critical raises do not) */
    groupIntervalS: between(0, DAY_S).optional(),
    /** a notification not delivered after this many hours is given up, and recorded as such */
    notificationExpireH: between(0.01, 24 * 30).optional(),
    /** alerts of this severity and above close only through an accepted review (none: never) */
    reviewFrom: z.enum([...SEVERITIES, 'none']).optional(),
    /** the enterprise's feedback is due this many hours after the raise (or a return) */
    feedbackWithinH: between(0.01, 24 * 30).optional(),
    /** alerts of this severity and above call the units' phones when they are raised (none: only steps with `via: [voice]`) */
    voiceFrom: z.enum([...SEVERITIES, 'none']).optional(),
  })
  .strict();

const routingSchema = routingOverrideSchema.extend({
  immediate: immediateSchema.default({}),
  byMetric: z.record(metric, unitKindList).default({}),
  escalation: escalationSchema.default([]),
  byIndustry: z.partialRecord(z.enum(INDUSTRIES), routingOverrideSchema).default({}),
});

export const enterpriseSchema = z
  .object({
    id,
    name: z.string().min(1),
    industry: z.enum(INDUSTRIES),
    region: regionCode,
    units: z.array(id).default([]),
    alarmDevice: id.optional(),
    /** 一企一档: what the regulator knows of the enterprise */
    profile: z
      .object({
        /** workers exposed to dust */
        exposedWorkers: z.number().int().min(0).max(1_000_000).optional(),
        /** the dust (wood, grain, aluminium, magnesium, …) */
        dustType: z.string().min(1).max(50).optional(),
        /** major hazard source level, 1 (highest) to 4 */
        majorHazardLevel: z.number().int().min(1).max(4).optional(),
        riskGrade: z.enum(['red', 'orange', 'yellow', 'blue']).optional(),
        /** default: from the industry and the headcount (services/enterprises/profile.ts) */
        mustConnect: z.boolean().optional(),
      })
      .strict()
      .optional(),
    /** this enterprise's own routing, over its industry's and the global one */
    routing: routingOverrideSchema.optional(),
    devices: z.array(deviceSchema).default([]),
  })
  .strict();

export const maintenanceSchema = z
  .object({
    enterprise: z.string(),
    device: z.string().optional(),
    from: z.iso.datetime({ offset: true }),
    to: z.iso.datetime({ offset: true }),
    reason: z.string().min(1),
    by: z.string().min(1),
  })
  .strict();

export const userSchema = z
  .object({
    name: z.string().min(1),
    token: z.string().min(8, 'an API token needs at least 8 characters').optional(),
    tokenHash: z.string().regex(/^sha256\$[0-9a-f]{64}$/, 'tokenHash must be "sha256$<hex>" (see `npm run secret`)').optional(),
    role: z.enum(['operator', 'regulator', 'enterprise']),
    regions: z.array(regionCode).default([]),
    enterprise: z.string().optional(),
  })
  .strict()
  .refine((u) => (u.token === undefined) !== (u.tokenHash === undefined), { message: 'give exactly one of token or tokenHash' })
  .refine((u) => u.role !== 'regulator' || u.regions.length > 0, { message: 'a regulator user needs regions' })
  .refine((u) => u.role !== 'enterprise' || u.enterprise, { message: 'an enterprise user needs enterprise' });

export const registrySchema = z
  .object({
    units: z.array(unitSchema).default([]),
    enterprises: z.array(enterpriseSchema).default([]),
    routing: routingSchema.default({ immediate: {}, byMetric: {}, escalation: [], byIndustry: {} }),
    maintenance: z.array(maintenanceSchema).default([]),
    /** bounds on what could hide an alarm (concealment is itself a violation) */
    limits: z
      .object({
        /** the longest a silence or maintenance window may last: notifications are held meanwhile */
        maxSilenceH: between(1, 24 * 30).default(72),
      })
      .strict()
      .default({ maxSilenceH: 72 }),
    uplinks: z.array(uplinkSchema).default([]),
    /** SMS and voice providers (units list `phones`) */
    messaging: messagingSchema.default({ providers: [] }),
    users: z.array(userSchema).default([]),
    gateway: z
      .object({
        /** readings stamped further in the future than this are refused (device clock skew) */
        maxFutureSkewS: between(1, DAY_S).default(300),
        /**
         * readings stamped further back than this are taken as of their arrival (a clock that lost
         * its time), not filed in the past; longer than any device buffers readings through an outage
         */
        maxPastS: between(3600, 20 * 365 * DAY_S).default(365 * DAY_S),
        maxPayloadBytes: z.number().int().min(64).max(16 * 1024 * 1024).default(256 * 1024),
        maxReadingsPerMessage: z.number().int().min(1).max(100_000).default(1000),
        /** any MQTT packet announcing more than this closes the connection before it is read */
        maxPacketBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(2 * 1024 * 1024),
        /** per device: messages per second sustained, and the burst allowed at once */
        messagesPerS: between(0.01, 100_000).default(100),
        messageBurst: z.number().int().min(1).max(1_000_000).default(500),
        /**
         * connections one enterprise's devices may hold at once; unset: twice its devices, at
         * least 500 (a plant's devices reconnecting after a network blip, under new client ids,
         * before their old links have timed out, must all get in)
         */
        maxConnectionsPerEnterprise: z.number().int().min(1).max(1_000_000).optional(),
        /** one device may not use up its enterprise's connections (a second fleet, a tool) */
        maxConnectionsPerDevice: z.number().int().min(1).max(1000).default(4),
        /** QoS 1 messages kept for an offline persistent session; beyond, dropped and counted */
        maxOfflineQueue: z.number().int().min(1).max(1_000_000).default(1000),
        /** a client asking for no keepalive, or a longer one, gets this: silent links are closed */
        maxKeepaliveS: z.number().int().min(1).max(65_535).default(1200),
        /** a CONNECT not complete within this is closed (slow clients hold a socket each); read at start */
        connectTimeoutS: z.number().int().min(1).max(300).default(10),
        /** failed logins before a temporary ban, per address and per device id, within a minute */
        maxLoginFailuresPerAddress: z.number().int().min(1).max(1_000_000).default(10),
        maxLoginFailuresPerDevice: z.number().int().min(1).max(1_000_000).default(5),
        loginBanS: between(1, 7 * DAY_S).default(300),
        /**
         * logins waiting for their scrypt secret to be checked (the checks take turns so that
         * they never fill the thread pool the stores write on); past this, "server unavailable"
         * and the device tries again. Read at start
         */
        maxLoginsWaiting: z.number().int().min(1).max(1_000_000).default(1000),
      })
      .strict()
      .default({
        maxFutureSkewS: 300,
        maxPastS: 365 * DAY_S,
        maxPayloadBytes: 256 * 1024,
        maxReadingsPerMessage: 1000,
        maxPacketBytes: 2 * 1024 * 1024,
        messagesPerS: 100,
        messageBurst: 500,
        maxConnectionsPerDevice: 4,
        maxOfflineQueue: 1000,
        maxKeepaliveS: 1200,
        connectTimeoutS: 10,
        maxLoginFailuresPerAddress: 10,
        maxLoginFailuresPerDevice: 5,
        loginBanS: 300,
        maxLoginsWaiting: 1000,
      }),
  })
  .strict();

export type RegistryFile = z.infer<typeof registrySchema>;
export type UnitConfig = z.infer<typeof unitSchema>;
export type EnterpriseConfig = z.infer<typeof enterpriseSchema>;
export type DeviceConfig = z.infer<typeof deviceSchema>;
export type PointConfig = z.infer<typeof pointSchema>;
export type UserConfig = z.infer<typeof userSchema>;
export type RoutingConfig = z.infer<typeof routingSchema>;
export type RoutingOverride = z.infer<typeof routingOverrideSchema>;
export type WebhookConfig = z.infer<typeof webhookSchema>;
export type UplinkConfig = z.infer<typeof uplinkSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type PhoneConfig = UnitConfig['phones'][number];

import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { hashSecret } from '../../gateway/credentials.ts';
import { TEMPLATE_NAMES } from '../../rules/templates/index.ts';
import { ApiError } from '../api/errors.ts';
import { RegistryError, formatPath } from '../registry/load.ts';
import { RegistrationConflict, type RegistryHolder } from '../registry/registry-holder.ts';
import { id, pointSchema } from '../registry/schema.ts';

/**
 * An enterprise registers a device of its own: validated with the registry's own shapes, checked
 * against the whole registry, saved with only the hash of a secret made here, and answered with
 * that secret (shown this once) and the MQTT settings that work.
 */
const registrationBody = z
  .object({
    id,
    name: z.string().max(100).optional(),
    reportIntervalS: z.number().positive().max(86_400).optional(),
    templates: z.array(z.enum(TEMPLATE_NAMES as [string, ...string[]])).optional(),
    points: z.array(pointSchema).min(1).max(256),
  })
  .strict();

/** Devices one enterprise may register through the API; more are the operator's to add. */
export const MAX_REGISTERED_PER_ENTERPRISE = 500;

/**
 * Registrations one token may make a minute: each is checked on its own and hands its enterprise
 * to the rules again (at 10 000 devices, before the pipeline was sent only what changed, and when
 * each checked its enterprise whole, registrations back to back held every reading: outside probes).
 */
export const REGISTRATIONS_PER_MINUTE = 30;

export interface RegistrationDeps {
  registry: RegistryHolder;
  clock(): number;
  publicUrl: string;
  ports(): { mqtt?: number; ws?: number };
  /** for the audit trail and the log */
  onRegistered(enterpriseId: string, deviceId: string, by: string): void | Promise<void>;
  /** the enterprises whose open alerts name this device id (a device since gone from the registry) */
  openAlertsOf(deviceId: string): Iterable<string>;
}

export async function registerDevice(deps: RegistrationDeps, enterpriseId: string, body: unknown, by: string) {
  const input = registrationBody.safeParse(body ?? {});
  if (!input.success) {
    const i = input.error.issues[0];
    const field = formatPath(i.path);
    throw new ApiError('BAD_REQUEST', `body ${field}: ${i.message}`, field);
  }
  // checked before the slow hashing, and again when the registration's turn comes
  if (deps.registry.current().devices.has(input.data.id)) throw new ApiError('CONFLICT', `device id ${input.data.id} is taken`, 'id');
  // alerts are known by device id: a device registered under the id of one gone from another
  // enterprise, its alarm still open, cleared and raised that enterprise's alarm (an outside probe)
  for (const holder of deps.openAlertsOf(input.data.id)) if (holder !== enterpriseId) throw new ApiError('CONFLICT', `device id ${input.data.id} is taken`, 'id');
  const secret = randomBytes(18).toString('base64url');
  const device = { ...input.data, secretHash: await hashSecret(secret) };
  try {
    await deps.registry.register({ enterpriseId, registeredAt: new Date(deps.clock()).toISOString(), registeredBy: by, device }, MAX_REGISTERED_PER_ENTERPRISE);
  } catch (e) {
    if (e instanceof RegistrationConflict) throw new ApiError('CONFLICT', e.message, 'id');
    if (e instanceof RegistryError) throw new ApiError('BAD_REQUEST', e.problems.join('; '));
    throw e;
  }
  // awaited: in a cluster the new registry is in every partition's log before the device hears its secret
  await deps.onRegistered(enterpriseId, device.id, by);
  const host = new URL(deps.publicUrl).hostname;
  const ports = deps.ports();
  return {
    device: { id: device.id, enterpriseId, points: device.points, templates: device.templates ?? [] },
    secret,
    mqtt: {
      url: `mqtt://${host}:${ports.mqtt}`,
      wsUrl: ports.ws ? `ws://${host}:${ports.ws}` : null,
      username: device.id,
      password: secret,
      telemetryTopic: `v1/${enterpriseId}/${device.id}/telemetry`,
      statusTopic: `v1/${enterpriseId}/${device.id}/status`,
      rejectTopic: `v1/${enterpriseId}/${device.id}/reject`,
      commandTopic: `v1/${enterpriseId}/${device.id}/command`,
    },
    note: 'the secret is shown only now; the service keeps only its hash',
  };
}

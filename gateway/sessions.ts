import type { Client } from 'aedes';
import type { DeviceScope } from './decode.ts';

/**
 * Who is connected, as whom. Every session belongs to the principal that authenticated it (a
 * device, or an API user following alerts): the broker keys sessions by client id, so the client id
 * a client presents is put in its principal's namespace (`device:gas-1/<client id>`) before the
 * broker looks it up. Another device presenting the same client id gets a session of its own: it
 * can neither take over a session, nor receive its queued messages, nor fire its last will, nor
 * keep the genuine device out. Plain bookkeeping; the broker decides what to do with the answers.
 */
export interface GatewayDevice extends DeviceScope {
  secretHash?: string;
}

/** A non-device MQTT client (a control-room tool) that logs in with an API token to follow alerts. */
export interface GatewayWatcher {
  name: string;
  /** may this watcher receive alerts of that enterprise? */
  sees(enterpriseId: string): boolean;
  all: boolean;
}

/**
 * `telemetry`: the device's own telemetry topic, so the hot path compares instead of parsing;
 * `credential`: what the device logged in against, so a rotated secret closes the session;
 * `tokenDigest`: the digest of the watcher's token (never the token itself), so a removed token
 * closes the session.
 */
export type Principal =
  | { kind: 'device'; device: GatewayDevice; telemetry: string; credential: string | undefined }
  | { kind: 'watcher'; watcher: GatewayWatcher; tokenDigest: string };

interface Session {
  owner: string;
  /** the live connection, if any */
  client: Client | null;
  /** a persistent session outlives its connection (and keeps queued messages) */
  persistent: boolean;
  /** when its last connection ended (kept sessions only): the longest unused goes first */
  leftAt: number;
}

/**
 * How many client ids (sessions, live or kept for a persistent client) one principal may hold.
 * Past it, the kept session unused longest makes room: a device that picks a new client id at
 * every boot (some firmware does) with `clean: false` must not be shut out after its eighth
 * reboot. Only when all of them are connected is a new one refused.
 */
export const SESSIONS_PER_PRINCIPAL = 8;

/** Admitted, and the kept session that made room for it (its queue and subscriptions to drop), if one did; or why not. */
export type Admission = { refused: 'session_limit' | 'enterprise_connection_limit' | 'device_connection_limit' } | { refused: null; evicted: string | null };

export interface SessionLimits {
  /** how many connections the enterprise's devices may hold at once (it may grow with its fleet) */
  connectionsPerEnterprise(enterpriseId: string): number;
  maxConnectionsPerDevice: number;
}

/** Device ids have no "/"; a watcher's name is encoded so that it has none either. */
export const ownerOf = (p: Principal) => (p.kind === 'device' ? `device:${p.device.deviceId}` : `watcher:${encodeURIComponent(p.watcher.name)}`);

export class Sessions {
  private readonly principals = new WeakMap<Client, Principal>();
  /** client id → its session */
  private readonly byClientId = new Map<string, Session>();
  /** the client ids of each owner, kept with byClientId (a fleet reconnecting must not count them one by one) */
  private readonly perOwner = new Map<string, Set<string>>();
  private readonly perEnterprise = new Map<string, Set<Client>>();
  /** live connections per device: one going away is news only when it was the last */
  private readonly perDevice = new Map<string, Set<Client>>();

  constructor(private readonly limits: SessionLimits) {}

  principalOf(client: Client): Principal | undefined {
    return this.principals.get(client);
  }

  /**
   * Admit an authenticated client into its principal's namespace (its `id` becomes
   * `<owner>/<client id>`), or say which limit it reached.
   */
  admit(client: Client, principal: Principal): Admission {
    const owner = ownerOf(principal);
    const id = `${owner}/${client.id}`;
    const held = this.byClientId.get(id);
    const full = !held && (this.perOwner.get(owner)?.size ?? 0) >= SESSIONS_PER_PRINCIPAL;
    const evict = full ? this.unusedLongest(owner) : null;
    if (full && evict === null) return { refused: 'session_limit' };
    if (principal.kind === 'device') {
      const { enterpriseId, deviceId } = principal.device;
      const conns = this.perEnterprise.get(enterpriseId) ?? new Set<Client>();
      const live = this.perDevice.get(deviceId) ?? new Set<Client>();
      // a reconnect under the same client id takes its own old connection over: not one more. After
      // a plant's network blip its devices come back before their old links have timed out; counted
      // twice, they were refused until then
      const others = [...live].filter((c) => c.id !== id && !c.closed).length;
      const replaced = live.size - others;
      if (conns.size - replaced >= this.limits.connectionsPerEnterprise(enterpriseId)) return { refused: 'enterprise_connection_limit' };
      if (others >= this.limits.maxConnectionsPerDevice) return { refused: 'device_connection_limit' };
      this.perEnterprise.set(enterpriseId, conns.add(client));
      this.perDevice.set(deviceId, live.add(client));
    }
    if (evict !== null) this.forget(evict, owner);
    client.id = id;
    this.principals.set(client, principal);
    if (!held) this.perOwner.set(owner, (this.perOwner.get(owner) ?? new Set()).add(id));
    this.byClientId.set(id, { owner, client, persistent: !client.clean, leftAt: 0 });
    return { refused: null, evicted: evict };
  }

  /** The owner's kept session (no connection) unused longest, or null when every one is connected. */
  private unusedLongest(owner: string): string | null {
    let found: string | null = null;
    let since = Infinity;
    for (const clientId of this.perOwner.get(owner) ?? []) {
      const s = this.byClientId.get(clientId);
      if (s && s.client === null && s.leftAt < since) (found = clientId), (since = s.leftAt);
    }
    return found;
  }

  /** A connection ended; for a device: was it the device's last one? */
  release(client: Client, at: number): { device: GatewayDevice; last: boolean } | null {
    const session = this.byClientId.get(client.id);
    if (session?.client === client) {
      if (session.persistent) (session.client = null), (session.leftAt = at);
      else this.forget(client.id, session.owner);
    }
    const p = this.principals.get(client);
    if (p?.kind !== 'device') return null;
    this.perEnterprise.get(p.device.enterpriseId)?.delete(client);
    const live = this.perDevice.get(p.device.deviceId);
    live?.delete(client);
    return { device: p.device, last: !live?.size };
  }

  /** The device's other live connections (a last will fired while one is there is not news). */
  othersOf(deviceId: string, client: Client): Client[] {
    return [...(this.perDevice.get(deviceId) ?? [])].filter((c) => c !== client && !c.closed);
  }

  /**
   * Drop the sessions `stale` says are no longer allowed (given the live principal, or only the
   * owner of a session kept for a persistent client); returns them for the broker to close.
   */
  drop(stale: (principal: Principal | undefined, owner: string) => boolean): { clientId: string; owner: string; client: Client | null }[] {
    const dropped: { clientId: string; owner: string; client: Client | null }[] = [];
    for (const [clientId, s] of [...this.byClientId]) {
      if (!stale(s.client ? this.principals.get(s.client) : undefined, s.owner)) continue;
      this.forget(clientId, s.owner);
      dropped.push({ clientId, owner: s.owner, client: s.client });
    }
    return dropped;
  }

  private forget(clientId: string, owner: string) {
    this.byClientId.delete(clientId);
    const ids = this.perOwner.get(owner);
    ids?.delete(clientId);
    if (!ids?.size) this.perOwner.delete(owner);
  }
}

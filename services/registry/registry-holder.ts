import { watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { composeRegistry, composeWithDevice } from './compose.ts';
import { RegistryError, readRegistryText, readYaml } from './load.ts';
import { RegisteredDevices, type RegisteredDevice, type RegisteredDeviceStore } from './registered-devices.ts';
import { applyRegistryChange } from './change.ts';
import { CheckThreadUnavailable, FileCheckThread } from './check-client.ts';
import type { RegistryParts } from './file-check.ts';
import { Registry } from './registry.ts';

/**
 * The registry in force, one value for the whole service: the operator's file (CONFIG) plus the
 * devices enterprises registered through the API. `current()` is what everyone reads; whoever
 * must follow changes says so with `onChange` (each listener on its own: one that throws does not
 * keep the others from hearing). A reload that fails validation, or that would leave no devices or
 * no users, is refused and the registry in force stays.
 */
/** A registration refused for what is already there: the id is taken, or the enterprise is at its limit. */
export class RegistrationConflict extends Error {}

export type ReloadResult = { ok: true } | { ok: false; problems: string[] };

export interface RegistryHolderOptions {
  configPath: string;
  dataDir: string;
  /** where registered devices are kept (default: DATA_DIR/registered-devices.json) */
  registered?: RegisteredDeviceStore;
  /** the file check thread's code (check-client.ts): tests run the bundle */
  checkThread?: string;
  /** a file this large is kept on the check thread from the start (default 512 KiB) */
  keepFromBytes?: number;
  /** the longest a file's check may take (default 60 s) */
  checkTimeoutMs?: number;
  log: { info(o: object, msg?: string): void; warn(o: object, msg?: string): void; error(o: object, msg?: string): void };
}

/** A reload applied or refused, for metrics and the audit trail. */
export type ReloadListener = (outcome: 'applied' | 'refused', detail: object) => void;

export class RegistryHolder {
  private registry!: Registry;
  private raw: unknown;
  /**
   * the file's check thread, and the parts (digests) of the registry in force as it came from the
   * file, registrations since aside; none when it was checked here (the next edit is taken whole)
   */
  private readonly checker: FileCheckThread;
  private checked: RegistryParts | undefined;
  /** enterprises registrations changed since `checked` was taken: the next check sends them whatever their digest */
  private touched = new Set<string>();
  /** the file kept on the check thread at the start (keepOnCheckThread) */
  private keeping: Promise<void> = Promise.resolve();
  /** the file's text as last composed, and the registered devices that composition considered (in force or set aside) */
  private digest = '';
  private known = new Set<string>();
  private readonly registered: RegisteredDeviceStore;
  private readonly listeners: ((next: Registry) => unknown)[] = [];
  private readonly reloadListeners: ReloadListener[] = [];
  /** Reloads and registrations take turns: each composes from what the one before it left. */
  private turn: Promise<unknown> = Promise.resolve();
  /** A reload asked for and not started yet: whoever asks again meanwhile joins it. */
  private nextReload?: Promise<ReloadResult>;

  private constructor(private readonly opts: RegistryHolderOptions) {
    this.registered = opts.registered ?? new RegisteredDevices(opts.dataDir);
    this.checker = new FileCheckThread(opts.checkThread, opts.checkTimeoutMs);
  }

  /** Reads the file and the registered devices; throws RegistryError naming every problem. */
  static async open(opts: RegistryHolderOptions): Promise<RegistryHolder> {
    const holder = new RegistryHolder(opts);
    await holder.registered.load();
    const { text, digest } = await readRegistryText(opts.configPath);
    holder.raw = readYaml(text, opts.configPath);
    holder.registry = holder.compose(holder.raw, holder.registered.all(), opts.configPath);
    holder.composed(digest);
    return holder;
  }

  current(): Registry {
    return this.registry;
  }

  /**
   * Heard at every change (a reload, a registration); call `announce()` once listeners are in. A
   * listener may return a promise (opening connections): `announce` waits for it, a reload not.
   */
  onChange(fn: (next: Registry) => unknown) {
    this.listeners.push(fn);
  }

  /** Heard after every reload of the file, applied or refused. */
  onReload(fn: ReloadListener) {
    this.reloadListeners.push(fn);
  }

  private reloaded(outcome: 'applied' | 'refused', detail: object) {
    for (const fn of this.reloadListeners) {
      try {
        fn(outcome, detail);
      } catch (err) {
        this.opts.log.error({ err: (err as Error).message }, 'a reload listener failed');
      }
    }
  }

  /** Tell every listener of the registry in force (at start, once everything is wired). */
  async announce(): Promise<void> {
    await Promise.all(this.use(this.registry));
  }

  /**
   * Reload when the file changes. The folder is watched, not the file: editors and `sed -i` save
   * by renaming a new file over the old one, and a watch on the old file hears nothing after the
   * first save. Saves come in several steps: the file must settle for 300 ms.
   */
  watchFile(): { close(): void } {
    let pending: NodeJS.Timeout | undefined;
    const file = basename(this.opts.configPath);
    const watcher = watch(dirname(resolve(this.opts.configPath)), (_event, name) => {
      if (name !== null && name.toString() !== file) return;
      clearTimeout(pending);
      pending = setTimeout(() => void this.reload(), 300);
    });
    watcher.on('error', (err) => this.opts.log.warn({ err: err.message }, 'registry file watch stopped'));
    return {
      close() {
        clearTimeout(pending);
        watcher.close();
      },
    };
  }

  /** Reload on SIGHUP, and (`watch`) when the file changes; `close` stops both. */
  follow(watch = true): { close(): void } {
    const watcher = watch ? this.watchFile() : undefined;
    this.keeping = this.keepOnCheckThread();
    const onHup = () => void this.reload();
    process.on('SIGHUP', onHup);
    return {
      close: () => {
        watcher?.close();
        process.off('SIGHUP', onHup);
        void this.close();
      },
    };
  }

  /** Ends the file's check thread (a reload asked later starts another). */
  close(): Promise<void> {
    return this.checker.close();
  }

  /** How many devices this enterprise registered through the API. */
  private registeredCount(enterpriseId: string): number {
    return this.registered.all().filter((d) => d.enterpriseId === enterpriseId).length;
  }

  /**
   * Re-read CONFIG (and the registered devices). Reloads run one at a time, after any registration
   * under way: two overlapping reads could finish out of order (a cluster's nodes hear of two
   * registrations a moment apart), and the older would then stay in force.
   */
  reload(): Promise<ReloadResult> {
    if (this.nextReload) return this.nextReload;
    const run = this.turn.then(() => {
      this.nextReload = undefined;
      return this.reloadNow();
    });
    this.nextReload = run;
    this.turn = run;
    return run;
  }

  private async reloadNow(): Promise<ReloadResult> {
    const source = this.opts.configPath;
    try {
      const { text, digest } = await readRegistryText(source);
      // devices registered elsewhere (another API node of a cluster) are read again too
      await this.registered.load();
      const { raw, next, checked } = this.onlyRegistered(digest) ? { raw: this.raw, next: this.withRegistered(this.registered.all(), source), checked: this.checked } : await this.checkFile(text, source);
      // a half-saved or emptied file must not lock every device and user out
      const empty = [...(next.devices.size ? [] : ['it lists no devices']), ...(next.file.users.length ? [] : ['it lists no users'])];
      if (empty.length) throw new RegistryError(source, empty.map((e) => `(root): ${e}; a reload that would refuse everyone is not applied`));
      this.raw = raw;
      if (checked !== this.checked) (this.checked = checked), this.touched.clear();
      this.use(next);
      this.composed(digest);
      this.reloaded('applied', { devices: next.devices.size, enterprises: next.enterprises.size });
      this.opts.log.info({ devices: next.devices.size }, 'registry reloaded');
      return { ok: true };
    } catch (e) {
      const problems = e instanceof RegistryError ? e.problems : [(e as Error).message];
      this.reloaded('refused', { problems });
      this.opts.log.error({ problems }, 'registry reload refused; the previous registry stays in force');
      return { ok: false, problems };
    }
  }

  /**
   * A device an enterprise registers: its id must be free and the enterprise under `maxPerEnterprise`
   * (else RegistrationConflict), the registry with it must validate (else RegistryError with the
   * reasons); then it is saved under DATA_DIR and in force at once. Registrations run one at a
   * time: each one checks and writes what the one before it left.
   */
  register(entry: RegisteredDevice, maxPerEnterprise: number): Promise<void> {
    const run = this.turn.then(async () => {
      // a registered device set aside (the file does not fit it now) keeps its id: it comes back
      // once the file fits it again, and a newer device under that id would then be the one dropped
      if (this.registry.devices.has(entry.device.id) || this.registered.all().some((d) => d.device.id === entry.device.id))
        throw new RegistrationConflict(`device id ${entry.device.id} is taken`);
      if (this.registeredCount(entry.enterpriseId) >= maxPerEnterprise)
        throw new RegistrationConflict(`the enterprise already has ${maxPerEnterprise} devices registered through the API; ask the operator to add more to the registry`);
      const next = composeWithDevice(this.registry, this.raw, inForceIn(this.registry, this.registered.all()), entry, 'registration');
      await this.registered.add(entry);
      this.known.add(entry.device.id);
      this.touched.add(entry.enterpriseId);
      return this.use(next);
    });
    this.turn = run.catch(() => {});
    // answered once what follows the registry has taken it (the reading pipeline among them): a
    // device that sends the moment it is told it is registered was refused as not in the registry.
    // Outside the turn, and bounded: a pipeline starting again holds no reload or registration up
    return run.then((pending) => settled(pending, REGISTERED_WAIT_MS));
  }

  /** What the composition in force considered: a reload tells from it that only registrations came since. */
  private composed(digest: string) {
    this.digest = digest;
    this.known = new Set(this.registered.all().map((d) => d.device.id));
  }

  /**
   * The file is as it was and the registered devices are those it had plus new ones: another node
   * of a cluster registered them, and every node reloads at each registration. Each new one is
   * checked against its enterprise, as a registration here is, not the whole registry again (2.6 s
   * of a main thread at 10 000 devices, on every node, edges included, for each registration).
   */
  private onlyRegistered(digest: string): boolean {
    if (digest !== this.digest) return false;
    const now = new Set(this.registered.all().map((d) => d.device.id));
    for (const id of this.known) if (!now.has(id)) return false;
    return true;
  }

  /**
   * A large file is checked once more on the check thread at the start, in the background, so that
   * its first edit is taken as what changed too (else the whole: 1.2 s of the main thread at 10 000
   * devices). An edit's check waits for it; registrations may come between.
   */
  private async keepOnCheckThread() {
    const source = this.opts.configPath;
    const read = await readRegistryText(source).catch(() => undefined);
    if (!read || read.digest !== this.digest || read.text.length < (this.opts.keepFromBytes ?? KEEP_FROM_BYTES)) return;
    const answer = await this.checker.keep({ text: read.text, source, registered: [...this.registered.all()] }).catch(() => undefined);
    if (answer?.ok && read.digest === this.digest) this.checked = answer.parts;
  }

  /**
   * An edited file, read and checked on the check thread (file-check.ts) and taken as what changed
   * since the check the registry in force came from (`checked`), the rest kept as it is. Should
   * that thread fail, the file is checked here, as at the start.
   */
  private async checkFile(text: string, source: string): Promise<{ raw: unknown; next: Registry; checked: RegistryParts | undefined }> {
    await this.keeping;
    const registered = this.registered.all();
    const answer = await this.checker.check({ text, source, registered: [...registered], before: this.checked, touched: [...this.touched] }).catch((err: Error) => {
      // the file's own failure (out of the check's heap) is a refusal: checked here, it took the service
      if (!(err instanceof CheckThreadUnavailable)) throw new RegistryError(source, [`(root): the check of the file failed: ${err.message}`]);
      this.opts.log.error({ err: err.message }, 'the registry check thread could not start: the file is checked on the main thread');
      return undefined;
    });
    if (!answer) {
      const raw = readYaml(text, source);
      return { raw, next: this.compose(raw, registered, source), checked: undefined };
    }
    if (!answer.ok) throw new RegistryError(source, answer.problems);
    for (const s of answer.skipped) this.opts.log.warn({ deviceId: s.id, why: s.why }, 'a device registered through the API is set aside: the registry file no longer fits it');
    return { raw: answer.raw, next: new Registry(applyRegistryChange(this.registry.loaded, answer.change), this.registry), checked: answer.parts };
  }

  private withRegistered(all: readonly RegisteredDevice[], source: string): Registry {
    let registry = this.registry;
    for (const entry of all) {
      if (this.known.has(entry.device.id)) continue;
      try {
        registry = composeWithDevice(registry, this.raw, inForceIn(registry, all), entry, source);
        this.touched.add(entry.enterpriseId);
      } catch (e) {
        if (!(e instanceof RegistryError)) throw e;
        this.opts.log.warn({ deviceId: entry.device.id, why: e.problems.join('; ') }, 'a device registered through the API is set aside: the registry file no longer fits it');
      }
    }
    return registry;
  }

  private compose(raw: unknown, extra: readonly RegisteredDevice[], source: string): Registry {
    const { registry, skipped } = composeRegistry(raw, extra, source);
    for (const s of skipped) this.opts.log.warn({ deviceId: s.id, why: s.why }, 'a device registered through the API is set aside: the registry file no longer fits it');
    return registry;
  }

  private use(next: Registry): Promise<unknown>[] {
    this.registry = next;
    const failed = (e: unknown) => this.opts.log.error({ err: (e as Error)?.message ?? String(e) }, 'a part of the service could not take the new registry');
    const pending: Promise<unknown>[] = [];
    for (const fn of this.listeners) {
      try {
        const done = fn(next);
        if (done instanceof Promise) pending.push(done.catch(failed));
      } catch (e) {
        failed(e);
      }
    }
    return pending;
  }
}

/** A registry file this large is kept on the check thread from the start (about 1 500 devices) */
const KEEP_FROM_BYTES = 512 * 1024;

/** The longest a registration's answer waits for what follows the registry (it is in force and saved) */
const REGISTERED_WAIT_MS = 10_000;

async function settled(pending: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(pending), new Promise((r) => (timer = setTimeout(r, ms).unref()))]);
  clearTimeout(timer);
}

/** The registered devices `registry` holds: those set aside (the file no longer fits them) stay aside. */
function inForceIn(registry: Registry, registered: readonly RegisteredDevice[]): RegisteredDevice[] {
  return registered.filter((d) => registry.devices.get(d.device.id)?.enterprise.id === d.enterpriseId);
}

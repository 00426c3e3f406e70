import { api } from './api.ts';
import type { Alert } from './session.ts';

/**
 * The open alerts of the caller's scope, kept current by the SSE stream: every view that lists
 * alerts reads this one copy. A new critical alarm plays a cue when sound is on.
 */
type Listener = (changed: Alert | null) => void;

const alerts = new Map<string, Alert>();
const listeners = new Set<Listener>();
let source: EventSource | undefined;
let connected = false;
export let soundOn = localStorage.getItem('sound') !== 'off';

export const liveAlerts = {
  all: () => [...alerts.values()],
  get: (id: string) => alerts.get(id),
  connected: () => connected,
  subscribe(fn: Listener) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
  /**
   * The stream has no replay: whatever changed while it was down (or before it first opened) is
   * read again from the API each time it opens. Changes the stream brings while that copy is on
   * its way are applied over it, in order, so the newest word on each alert wins.
   */
  async start() {
    // one list per copy on its way (the first copy and an open can overlap)
    const inFlight = new Set<Alert[]>();
    let started = 0;
    let applied = 0;
    const resync = async () => {
      const pending: Alert[] = [];
      const mine = ++started;
      inFlight.add(pending);
      try {
        const { items } = await api.get<{ items: Alert[] }>('/api/alerts?state=open&limit=1000');
        // a copy asked for earlier that answers later is older than the one already shown
        if (mine < applied) return;
        applied = mine;
        alerts.clear();
        for (const a of items) alerts.set(a.id, a);
        for (const a of pending) alerts.set(a.id, a);
      } catch {
        // the next open tries again; meanwhile the page shows what it had, marked stale
      } finally {
        inFlight.delete(pending);
        emit(null);
      }
    };
    const open = () => {
      source?.close();
      const s = (source = api.stream());
      s.onopen = () => {
        connected = true;
        void resync();
      };
      s.onerror = () => {
        connected = false;
        emit(null);
        // a network error is retried by the browser; an answer that is not a stream (a proxy's
        // 502 while the service restarts) ends the EventSource for good, so a new one is made
        if (s.readyState === EventSource.CLOSED && source === s) setTimeout(() => source === s && open(), 3000);
      };
      s.addEventListener('alert', (e) => {
        const a = JSON.parse((e as MessageEvent).data) as Alert & { transition?: { type: string } };
        const isNew = !alerts.has(a.id);
        alerts.set(a.id, a);
        for (const list of inFlight) list.push(a);
        const rising = isNew || a.transition?.type === 'raised' || a.transition?.type === 'reactivated' || a.transition?.type === 'severity_changed';
        if (rising && a.state === 'active' && (a.severity === 'critical' || a.severity === 'major')) cueFor(a.severity);
        emit(a);
      });
    };
    open();
    // the first copy, before the stream is up, so the board is not empty meanwhile
    await resync();
  },
  /** After an action of this page: the stream will say it too, but the page should not wait. */
  put(a: Alert) {
    alerts.set(a.id, { ...alerts.get(a.id), ...a });
    emit(a);
  },
  setSound(on: boolean) {
    soundOn = on;
    localStorage.setItem('sound', on ? 'on' : 'off');
    if (on) audio(); // a click: browsers allow sound from now on
  },
  stop() {
    source?.close();
    source = undefined;
  },
};

function emit(a: Alert | null) {
  for (const fn of listeners) fn(a);
}

let ctx: AudioContext | undefined;
function audio(): AudioContext | undefined {
  try {
    ctx ??= new AudioContext();
    void ctx.resume();
  } catch {
    ctx = undefined;
  }
  return ctx;
}

/** Whether the browser holds the sound back until a click (autoplay rules). */
export const audioBlocked = () => soundOn && (!ctx || ctx.state !== 'running');

/**
 * Tones per level (critical: high-low twice; major: one low tone); counted on the body so that
 * tests and wall screens can see it happened.
 */
export function cueFor(severity: 'critical' | 'major') {
  document.body.dataset.cues = String(Number(document.body.dataset.cues ?? 0) + 1);
  if (!soundOn) return;
  const c = audio();
  if (!c) return;
  const tones = severity === 'critical' ? [880, 660, 880, 660] : [520];
  for (const [i, f] of tones.entries()) {
    const o = c.createOscillator();
    const g = c.createGain();
    o.frequency.value = f;
    g.gain.value = 0.2;
    o.connect(g).connect(c.destination);
    o.start(c.currentTime + i * 0.25);
    o.stop(c.currentTime + i * 0.25 + 0.2);
  }
}

// The pilot panel: who holds control and since when, take/release control, takeoff, land, hover, moves and turns,
// the failsafe countdown, and every command's result as the gateway answered it. A control that is not allowed
// is disabled with the reason beside it. Takeoff and taking control ask for confirmation; emergency never does.
import { $, el, fill, fmt, clock } from '../dom.js';

const FLIGHT = ['takeoff', 'land', 'stop', 'move_up', 'move_down', 'move_forward', 'move_back', 'move_left', 'move_right',
  'rotate_clockwise', 'rotate_counter_clockwise'];
const NEEDS_AIR = new Set(FLIGHT.filter((a) => a !== 'takeoff'));
const CONFIRM = { takeoff: 'Take off now? The propellers will start.', take_control: 'Take control of this drone?' };
const LABELS = {
  take_control: 'Take control', release_control: 'Release control', takeoff: 'Take off', land: 'Land', stop: 'Hover',
  move_up: 'Up', move_down: 'Down', move_forward: 'Forward', move_back: 'Back', move_left: 'Left', move_right: 'Right',
  rotate_clockwise: 'Turn ⟳', rotate_counter_clockwise: 'Turn ⟲',
};

export class PilotView {
  constructor(store, live, api) {
    this.store = store;
    this.live = live;
    this.api = api;
    this.card = $('pilot-card');
    this.pendingConfirm = null;
    this.buttons = new Map();
    this.holder = el('p', { class: 'pilot-holder', 'data-testid': 'holder' });
    this.failsafe = el('div', { class: 'failsafe', 'data-testid': 'failsafe' });
    this.reason = el('p', { class: 'reason', 'data-testid': 'reason', role: 'note' });
    this.confirmBox = el('div', { class: 'confirm', hidden: true, role: 'alertdialog', 'aria-label': 'confirm' });
    this.result = el('div', { class: 'result', role: 'status', 'aria-live': 'polite', 'data-testid': 'result', text: 'No command sent yet.' });
    this.distance = el('input', { id: 'distance', type: 'number', min: 20, max: 500, step: 10, value: 50, inputmode: 'numeric' });
    this.angle = el('input', { id: 'angle', type: 'number', min: 1, max: 360, step: 15, value: 90, inputmode: 'numeric' });
    const b = (action, extra = {}) => {
      const button = el('button', { type: 'button', 'data-action': action, text: LABELS[action], onclick: () => this.ask(action), ...extra });
      this.buttons.set(action, button);
      return button;
    };
    this.emergencyButton = el('button', { type: 'button', class: 'emergency', 'data-action': 'emergency', text: 'EMERGENCY — stop motors',
      onclick: () => this.emergency(this.store.selected) });
    fill(this.card,
      el('h2', { text: 'Pilot' }),
      this.holder,
      el('div', { class: 'pilot-row' }, b('take_control', { 'aria-keyshortcuts': 'C' }), b('release_control')),
      this.failsafe,
      this.reason,
      this.confirmBox,
      el('div', { class: 'pilot-row' }, b('takeoff', { 'aria-keyshortcuts': 'T' }), b('land', { 'aria-keyshortcuts': 'L' }), b('stop', { 'aria-keyshortcuts': 'H' })),
      el('div', { class: 'pilot-row' },
        el('label', { for: 'distance' }, 'Distance (cm)', this.distance),
        el('label', { for: 'angle' }, 'Angle (°)', this.angle)),
      el('div', { class: 'pilot-grid' },
        b('rotate_counter_clockwise', { 'aria-keyshortcuts': ',' }), b('move_forward', { 'aria-keyshortcuts': 'ArrowUp' }), b('rotate_clockwise', { 'aria-keyshortcuts': '.' }),
        b('move_left', { 'aria-keyshortcuts': 'ArrowLeft' }), b('move_back', { 'aria-keyshortcuts': 'ArrowDown' }), b('move_right', { 'aria-keyshortcuts': 'ArrowRight' }),
        b('move_up', { 'aria-keyshortcuts': 'PageUp' }), el('span'), b('move_down', { 'aria-keyshortcuts': 'PageDown' })),
      el('div', { class: 'pilot-row' }, this.emergencyButton),
      el('h3', { text: 'Last result' }),
      this.result);
  }

  get me() { return this.store.identity; }

  /** Why an action is not allowed now on a drone (default: the selected one), or null. */
  reasonFor(action, droneId = this.store.selected) {
    const role = this.store.role;
    if (action !== 'emergency' && !this.live.isOpen) return 'Not connected to the gateway: reconnecting…';
    if (role === 'observer') return 'Your role is observer: flying needs a pilot token (Token button above).';
    if (role !== 'pilot' && role !== 'admin') return 'Your role may not fly.';
    const d = droneId ? this.store.drones.get(droneId) : null;
    if (!d) return 'No drone is configured.';
    if (action === 'emergency') return null;
    const holder = d.control?.holder ?? null;
    if (action === 'release_control') return holder === this.me ? null : 'You do not hold control.';
    if (holder && holder !== this.me) {
      const since = d.control?.since ? ` since ${clock(new Date(d.control.since))}` : '';
      if (action === 'take_control' && role === 'admin') return null;
      return `Control held by ${holder}${since}.`;
    }
    if (action === 'take_control') return holder === this.me ? 'You already hold control.' : null;
    const s = d.status;
    if (!s || !s.connected) return 'The drone link is lost.';
    if (action === 'takeoff') {
      if (s.is_flying) return 'Already flying.';
      const min = this.store.gateway?.min_takeoff_battery_percent ?? 20;
      if (s.battery !== null && s.battery !== undefined && s.battery < min) {
        return `Battery ${s.battery} % is below the takeoff minimum of ${min} %.`;
      }
      return null; // takes control with it (after the confirmation)
    }
    // Every other flight command needs control first: a stray key must never take control implicitly (and so
    // cancel a failsafe landing).
    if (holder !== this.me) return 'Take control first (C).';
    if (NEEDS_AIR.has(action) && !s.is_flying) return 'The drone is on the ground.';
    return null;
  }

  render() {
    const d = this.store.current;
    const c = d?.control;
    if (!d) { this.holder.textContent = ''; } else if (!this.live.isOpen) {
      this.holder.textContent = c?.holder && c.holder === this.me
        ? 'Control: unknown while disconnected. Your connection held control: the gateway hovers the drone now and lands it unless you take control again.'
        : 'Control: unknown while disconnected.';
    } else if (c?.holder) {
      const who = c.holder === this.me ? 'you' : c.holder;
      this.holder.textContent = `Control: held by ${who}${c.since ? ` since ${clock(new Date(c.since))}` : ''}`;
    } else {
      this.holder.textContent = 'Control: nobody holds control';
    }
    this.renderFailsafe(d);
    let firstReason = null;
    for (const [action, button] of this.buttons) {
      const why = this.reasonFor(action);
      button.disabled = why !== null;
      button.title = why ?? LABELS[action];
      // The line under the holder explains the flight controls (takeoff first); not "you already hold control".
      if (why && !firstReason && FLIGHT.includes(action)) firstReason = why;
    }
    if (!firstReason) {
      const why = this.reasonFor('take_control');
      if (why && !why.startsWith('You already')) firstReason = why;
    }
    const emergencyWhy = this.reasonFor('emergency');
    this.emergencyButton.disabled = emergencyWhy !== null;
    this.emergencyButton.textContent = d ? `EMERGENCY — stop ${d.id} motors` : 'EMERGENCY — stop motors';
    this.emergencyButton.title = emergencyWhy ?? 'Stops the motors at once: the drone falls.';
    this.reason.textContent = firstReason ?? '';
    if (this.pendingConfirm && (this.pendingConfirm.droneId !== this.store.selected
      || this.reasonFor(this.pendingConfirm.action, this.pendingConfirm.droneId) !== null)) this.cancelConfirm();
  }

  renderFailsafe(d) {
    const fs = this.store.gateway?.failsafe;
    const c = d?.control;
    if (!this.live.isOpen) {
      this.failsafe.classList.remove('active');
      this.failsafe.textContent = fs?.enabled
        ? `Failsafe: state unknown while disconnected (a silent or disconnected pilot's drone hovers, then lands after ${fs.land_grace_s} s).`
        : 'Failsafe: off';
      return;
    }
    this.failsafe.classList.toggle('active', Boolean(c?.failsafe_hovering || d?.failsafeActive));
    if (!fs || !fs.enabled) { this.failsafe.textContent = 'Failsafe: off'; return; }
    if (c?.failsafe_hovering || d?.failsafeActive) {
      const landIn = c?.land_in_s !== null && c?.land_in_s !== undefined ? Math.max(0, c.land_in_s - this.sinceFetch(d)) : null;
      this.failsafe.textContent = `FAILSAFE: pilot gone, hovering — landing in ${fmt(landIn, 0, 's')} unless a pilot takes control.`;
      return;
    }
    if (c?.holder) {
      const silent = (c.holder_silent_s ?? 0) + this.sinceFetch(d);
      const left = Math.max(0, fs.pilot_silence_s - silent);
      const socket = c.holder_on_socket ? ' (or at once if their connection closes)' : '';
      const mine = c.holder === this.me && document.hidden
        ? ' This page is in the background: browsers slow or freeze background pages, so keep it in front while you hold control.' : '';
      this.failsafe.textContent = `Failsafe: hover then land if the pilot is silent ${fmt(left, 0, 's')} more${socket}; lands ${fs.land_grace_s} s after the hover.${mine}`;
      return;
    }
    this.failsafe.textContent = `Failsafe: armed when a pilot holds control (silence limit ${fs.pilot_silence_s} s, hover ${fs.land_grace_s} s before landing).`;
  }

  sinceFetch(d) { return d?.controlFetchedAt ? (Date.now() - d.controlFetchedAt) / 1000 : 0; }

  /** Shortcut or click: risky actions confirm first; the rest run at once. Returns whether it was allowed. */
  ask(action) {
    const droneId = this.store.selected;
    if (!droneId || this.reasonFor(action, droneId) !== null) return false;
    if (CONFIRM[action]) {
      this.pendingConfirm = { action, droneId };
      const extra = action === 'takeoff' && this.store.drones.get(droneId)?.control?.holder !== this.me ? ' You take control with it.' : '';
      fill(this.confirmBox,
        el('span', { text: `${CONFIRM[action]}${extra} (${droneId})` }),
        el('button', { type: 'button', 'data-confirm': action, text: `Confirm: ${LABELS[action]} ${droneId}`, onclick: () => { this.cancelConfirm(); this.run(action, droneId); } }),
        el('button', { type: 'button', text: 'Cancel', onclick: () => this.cancelConfirm() }));
      this.confirmBox.hidden = false;
      this.confirmBox.querySelector('[data-confirm]').focus();
      return true;
    }
    this.run(action, droneId);
    return true;
  }

  cancelConfirm() {
    this.pendingConfirm = null;
    this.confirmBox.hidden = true;
    fill(this.confirmBox);
  }

  parameters(action) {
    if (action.startsWith('move_')) return { distance: Number(this.distance.value) };
    if (action.startsWith('rotate_')) return { degrees: Number(this.angle.value) };
    return {};
  }

  /** Runs an action on the drone it was asked for (never "whatever is selected now"). */
  async run(action, droneId) {
    if (this.reasonFor(action, droneId) !== null) return;
    this.show(`${action} (${droneId}): sent…`, null);
    try {
      let reply;
      if (action === 'take_control' || action === 'release_control') {
        reply = await this.live.request({ type: action, drone_id: droneId });
      } else {
        reply = await this.live.request({ type: 'command', action, parameters: this.parameters(action), drone_id: droneId }, 90000);
      }
      this.showReply(action, reply);
    } catch (e) {
      this.show(`${action}: ${e.message}`, false);
    }
  }

  /**
   * Emergency on one drone: one action, no confirmation. Over the WebSocket when it is fresh (it brought something
   * within the last second), with a short deadline, and over HTTP as well when the WebSocket is stale, closed, or
   * does not answer in time: a second emergency is harmless, a lost one is not.
   */
  async emergency(droneId) {
    if (!droneId) return;
    this.show(`emergency (${droneId}): sent…`, null);
    const viaHttp = async () => {
      const { status, body } = await this.api.execute('emergency', {}, droneId, 5000);
      if (body?.success) this.show(`emergency: ${body.message}`, true);
      else this.show(`emergency refused (${status}): ${body?.error ?? 'no answer'} [${body?.code ?? ''}]`, false);
    };
    try {
      if (this.live.isOpen && this.live.silenceMs < 1000) {
        try {
          this.showReply('emergency', await this.live.request({ type: 'command', action: 'emergency', drone_id: droneId }, 2000));
          return;
        } catch {
          // fall through to HTTP
        }
      } else if (this.live.isOpen) {
        this.live.send({ type: 'command', action: 'emergency', drone_id: droneId });
      }
      await viaHttp();
    } catch (e) {
      this.show(`emergency: ${e.message}`, false);
    }
  }

  showReply(action, reply) {
    if (reply.type === 'error' || reply.success === false) {
      this.show(`${action} refused: ${reply.error ?? reply.message ?? ''} [${reply.code ?? 'error'}]`, false);
    } else {
      this.show(reply.message ?? `${action}: ok`, true);
    }
  }

  show(text, ok) {
    this.result.textContent = text;
    this.result.classList.toggle('ok', ok === true);
    this.result.classList.toggle('fail', ok === false);
    const bar = $('emergency-reason');
    if (bar && text.startsWith('emergency')) bar.textContent = text;
  }
}

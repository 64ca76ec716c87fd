// The stream overlay `/overlay/{key}`: a small now-playing card on a transparent page, for an
// OBS browser source. It shows nothing while nothing plays, and says nothing about its
// connection (a stream's viewers need no "reconnecting"): the card just stays or goes. Query
// options (docs/displays.md): size=s|m|l, position=top-left|top-right|bottom-left|bottom-right,
// theme=dark|light, progress=0.

import { DisplayFeed, DisplayModel, displayKey } from './tv.js';

const SIZES = ['s', 'm', 'l'];
const POSITIONS = ['top-left', 'top-right', 'bottom-left', 'bottom-right'];
const THEMES = ['dark', 'light'];

/**
 * The overlay's options from the query string; anything unknown falls back to the default.
 * @param {string} search `location.search`
 * @returns {{size: string, position: string, theme: string, progress: boolean}}
 */
export function overlayOptions(search) {
  const q = new URLSearchParams(search);
  const pick = (name, allowed, fallback) => {
    const value = (q.get(name) ?? '').trim().toLowerCase();
    return allowed.includes(value) ? value : fallback;
  };
  const progress = (q.get('progress') ?? '').trim().toLowerCase();
  return {
    size: pick('size', SIZES, 'm'),
    position: pick('position', POSITIONS, 'bottom-left'),
    theme: pick('theme', THEMES, 'dark'),
    progress: !['0', 'false', 'no', 'off'].includes(progress),
  };
}

/** Whether the card shows: something plays or is paused, and the stream still counts. */
export function cardVisible(np, feedState) {
  if (feedState === 'ended' || feedState === 'revoked') return false;
  return Boolean(np && np.status !== 'stopped' && np.title);
}

function startOverlay() {
  const root = document.querySelector('[data-testid="overlay"]');
  const part = (id) => root.querySelector(`[data-testid="${id}"]`);
  const options = overlayOptions(location.search);
  Object.assign(root.dataset, {
    size: options.size, position: options.position, theme: options.theme, progress: String(options.progress),
  });
  const model = new DisplayModel();
  let feedState = 'connecting';
  let frame = 0;

  function render() {
    const np = model.view?.now_playing ?? null;
    const visible = cardVisible(np, feedState);
    root.dataset.visible = String(visible);
    root.dataset.status = np?.status ?? 'stopped';
    // The words stay while the card fades out; they change only for another track.
    if (!visible) return;
    part('overlay-title').textContent = np.title;
    part('overlay-artists').textContent = (np.artists ?? []).join(', ');
    const cover = part('overlay-cover');
    if (np.cover_url) {
      if (cover.getAttribute('src') !== np.cover_url) cover.src = np.cover_url;
      cover.hidden = false;
    } else {
      cover.hidden = true;
      cover.removeAttribute('src');
    }
    paint(performance.now());
  }

  function paint(now) {
    const anchor = model.anchor;
    if (!options.progress || !anchor) return;
    const position = model.positionAt(now);
    part('overlay-progress-fill').style.transform = `scaleX(${anchor.durationMs > 0 ? Math.min(1, position / anchor.durationMs) : 0})`;
  }

  function tick(now) {
    if (model.anchor?.playing) paint(now);
    frame = requestAnimationFrame(tick);
  }

  const feed = new DisplayFeed(displayKey(location.pathname), {
    onEvent(name, data, lastEventId) {
      model.apply(name, data, lastEventId, performance.now(), Date.now());
      if (name === 'snapshot') root.dataset.snapshots = String(model.snapshots);
      if (name === 'snapshot' && model.view?.session?.state === 'ended') {
        feed.finish('ended');
        return;
      }
      if (name === 'snapshot' || name === 'playback') render();
    },
    onState(state) {
      feedState = state;
      root.dataset.connection = state;
      if (state === 'ended' || state === 'revoked') {
        cancelAnimationFrame(frame);
        render();
      }
    },
  });
  part('overlay-cover').addEventListener('error', (e) => { e.currentTarget.hidden = true; });
  feed.start();
  frame = requestAnimationFrame(tick);
  window.addEventListener('pageshow', (e) => { if (e.persisted) location.reload(); });
}

if (globalThis.document?.documentElement?.dataset.display === 'overlay') startOverlay();

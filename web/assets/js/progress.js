// Where the playing track is now, between the server's `playback` updates. Pure functions:
// the e2e unit tests import them directly.

/** Largest plausible delay between the server's sample and our receipt; beyond it the clocks disagree. */
const MAX_TRUSTED_LAG_MS = 10_000;

/**
 * Anchors a `playback` frame to the local monotonic clock.
 * `server_time_ms` is the server's wall clock when `progress_ms` was measured; the difference to our
 * wall clock is the transit time, which we add while playing — unless the clocks are clearly
 * apart (another machine with a skewed clock), where we trust the frame as of now.
 * @param {{progress_ms: number, server_time_ms?: number, is_playing: boolean}} playback
 * @param {number} receivedPerfMs `performance.now()` at receipt
 * @param {number} receivedWallMs `Date.now()` at receipt
 * @returns {{baseMs: number, atPerfMs: number}}
 */
export function anchorPlayback(playback, receivedPerfMs, receivedWallMs) {
  let lag = 0;
  if (Number.isFinite(playback.server_time_ms)) {
    const d = receivedWallMs - playback.server_time_ms;
    if (d >= 0 && d <= MAX_TRUSTED_LAG_MS) lag = d;
  }
  const progress = Number(playback.progress_ms) || 0;
  return { baseMs: playback.is_playing ? progress + lag : progress, atPerfMs: receivedPerfMs };
}

/**
 * The estimated position at `nowPerfMs`, clamped to the track.
 * @param {{is_playing: boolean}} playback
 * @param {{baseMs: number, atPerfMs: number}} anchor
 * @param {number} durationMs
 * @param {number} nowPerfMs
 */
export function progressAt(playback, anchor, durationMs, nowPerfMs) {
  const elapsed = playback.is_playing ? Math.max(0, nowPerfMs - anchor.atPerfMs) : 0;
  const position = anchor.baseMs + elapsed;
  const max = Number(durationMs) > 0 ? Number(durationMs) : position;
  return Math.min(Math.max(0, position), max);
}

/** `m:ss` (or `h:mm:ss`) for a position in milliseconds. */
export function formatTime(ms) {
  const total = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

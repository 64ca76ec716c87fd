// Spotify seats and spectators, in words: an app in Spotify's development mode serves only the
// users its owner allow-listed (5 at most), so Sesh counts those "seats" and lets everyone else
// watch as a spectator. Pure functions, no DOM: the unit tests import them directly.

/** What a spectator's name may be: 1–40 characters once trimmed (the server's rule). */
export const MAX_DISPLAY_NAME = 40;

/**
 * The invite preview's `seats` (`{limit, used, left}`, `limit` 0 = no limit), checked; null
 * when the server sent none (then nothing is said about seats).
 * @returns {{limit: number, used: number, left: number|null}|null}
 */
export function normalizeSeats(raw) {
  if (!raw || typeof raw !== 'object' || !Number.isInteger(raw.limit) || raw.limit < 0) return null;
  const used = Number.isInteger(raw.used) && raw.used >= 0 ? raw.used : 0;
  if (raw.limit === 0) return { limit: 0, used, left: null };
  const left = Number.isInteger(raw.left) ? Math.max(0, raw.left) : Math.max(0, raw.limit - used);
  return { limit: raw.limit, used, left };
}

/** Whether logging in with Spotify can still get this user a seat (unknown or unlimited: yes). */
export function seatsLeft(seats) {
  return !seats || seats.limit === 0 || seats.left > 0;
}

/** "2 of 5 Spotify seats left", "1 of 5 Spotify seats left", "No Spotify seats left"; null without a limit. */
export function seatsSentence(seats) {
  if (!seats || seats.limit === 0) return null;
  if (seats.left === 0) return 'No Spotify seats left';
  return `${seats.left} of ${seats.limit} Spotify ${seats.limit === 1 ? 'seat' : 'seats'} left`;
}

/** The owner's card title: "Spotify seats: 3/5 used" (no limit: "Spotify seats: 3 used"). */
export function seatsUsedTitle(limit, usedCount) {
  return limit > 0 ? `Spotify seats: ${usedCount}/${limit} used` : `Spotify seats: ${usedCount} used`;
}

/** A friendly name to start from, "Guest 4821"; `random` is `Math.random` (a test passes its own). */
export function defaultSpectatorName(random = Math.random) {
  const n = 1000 + Math.floor(Math.min(Math.max(random(), 0), 0.9999) * 9000);
  return `Guest ${n}`;
}

/**
 * A spectator's name as typed: `{name}` trimmed, or `{error}` in words (empty, too long). Counts
 * characters as people see them (an emoji is one), as the server does.
 */
export function checkDisplayName(text) {
  const name = String(text ?? '').trim();
  if (!name) return { error: 'Type a name the others will see.' };
  if ([...name].length > MAX_DISPLAY_NAME) return { error: `Use at most ${MAX_DISPLAY_NAME} characters.` };
  return { name };
}

/** Why the Spotify login did not seat the user (`?login=` of the join page), or null. */
export function loginOutcome(search) {
  const value = new URLSearchParams(search ?? '').get('login');
  return ['not_registered', 'no_seats', 'expired'].includes(value) ? value : null;
}

/** `location.search` without `login=` (so a reload does not explain it again). */
export function withoutLoginOutcome(search) {
  const params = new URLSearchParams(search ?? '');
  params.delete('login');
  const rest = params.toString();
  return rest ? `?${rest}` : '';
}

/** "seen just now", "seen 5 minutes ago", "seen 3 hours ago", "seen yesterday", "seen 4 days ago"; "not seen yet". */
export function lastSeenText(lastSeenMs, nowMs = Date.now()) {
  if (!Number.isFinite(lastSeenMs) || lastSeenMs <= 0) return 'not seen yet';
  const minutes = Math.floor(Math.max(0, nowMs - lastSeenMs) / 60_000);
  if (minutes < 1) return 'seen just now';
  if (minutes < 60) return `seen ${minutes} ${minutes === 1 ? 'minute' : 'minutes'} ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `seen ${hours} ${hours === 1 ? 'hour' : 'hours'} ago`;
  const days = Math.floor(hours / 24);
  if (days === 1) return 'seen yesterday';
  return `seen ${days} days ago`;
}

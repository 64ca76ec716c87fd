// The collaborative queue's part of the session page's model (no DOM): the entry deltas
// applied to the window of the queue the page holds, the queue settings, the vote to skip,
// and a Spotify track link pasted into the search box. session-state.js uses these.

/** What a session's queue settings are when the server sends none (docs/http-api.md). */
export const DEFAULT_QUEUE_SETTINGS = Object.freeze({
  order: 'fair',
  maxQueuedPerMember: 3,
  maxTrackMs: 600_000,
  noReplayPlays: 20,
  addingLocked: false,
  bannedTracks: Object.freeze([]),
});

/** The ranges the server accepts in `PATCH …/settings` (out of range: `invalid_settings`). */
export const QUEUE_LIMITS = Object.freeze({
  maxQueuedPerMember: [1, 50],
  maxTrackMinutes: [1, 60],
  noReplayPlays: [0, 1000],
});

const intOr = (value, fallback) => (Number.isInteger(value) ? value : fallback);

/** The queue fields of `settings` (snapshot, `settings_changed`, the PATCH answer); missing ones keep `previous`. */
export function normalizeQueueSettings(raw, previous = DEFAULT_QUEUE_SETTINGS) {
  if (!raw || typeof raw !== 'object') return { ...previous };
  return {
    order: raw.queue_order === 'votes' || raw.queue_order === 'fair' ? raw.queue_order : previous.order,
    maxQueuedPerMember: intOr(raw.max_queued_per_member, previous.maxQueuedPerMember),
    maxTrackMs: intOr(raw.max_track_ms, previous.maxTrackMs),
    noReplayPlays: intOr(raw.no_replay_plays, previous.noReplayPlays),
    addingLocked: typeof raw.adding_locked === 'boolean' ? raw.adding_locked : previous.addingLocked,
    bannedTracks: Array.isArray(raw.banned_tracks) ? raw.banned_tracks.filter((t) => typeof t === 'string') : previous.bannedTracks,
  };
}

/** The snapshot's `skip` (`{entry_id, votes, needed, you_voted}`), or nobody voting. */
export function normalizeSkip(raw) {
  return {
    entryId: raw?.entry_id ?? null,
    votes: intOr(raw?.votes, 0),
    needed: intOr(raw?.needed, 0),
    youVoted: raw?.you_voted === true,
  };
}

/** A `skip_votes` frame: the caller's own vote carries over only while the same entry plays. */
export function nextSkip(previous, frame) {
  const entryId = frame.entry_id ?? null;
  return {
    entryId,
    votes: intOr(frame.votes, 0),
    needed: intOr(frame.needed, previous.needed),
    youVoted: entryId !== null && entryId === previous.entryId ? previous.youVoted : false,
  };
}

/** A Spotify track id: 22 characters of base 62. */
const TRACK_ID = /^[0-9A-Za-z]{22}$/;

/**
 * The track a pasted Spotify link or URI names (`https://open.spotify.com/track/ID?si=…`,
 * `…/intl-de/track/ID`, `spotify:track:ID`), as `{id, uri}`; null for anything else (search
 * words, an album link).
 */
export function parseTrackLink(text) {
  const value = String(text ?? '').trim();
  const uri = /^spotify:track:([^:?#\s]+)$/i.exec(value);
  if (uri) return TRACK_ID.test(uri[1]) ? { id: uri[1], uri: `spotify:track:${uri[1]}` } : null;
  if (!/^https?:\/\//i.test(value)) return null;
  let url;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (!/^(open|play)\.spotify\.com$/i.test(url.hostname)) return null;
  const parts = url.pathname.split('/').filter(Boolean);
  // An optional locale ("intl-de") before the kind.
  if (parts[0]?.startsWith('intl-')) parts.shift();
  if (parts.length !== 2 || parts[0] !== 'track' || !TRACK_ID.test(parts[1])) return null;
  return { id: parts[1], uri: `spotify:track:${parts[1]}` };
}

/** Index in the window (not the whole queue) of the entry with `id`; -1 when the window lacks it. */
export function windowIndexOf(s, id) {
  return id == null ? -1 : s.queue.findIndex((e) => e.id === id);
}

/**
 * Where an entry the window lacks can have been: after the window (there are entries after
 * it), and whether it can also have been before it (upcoming entries lie between the playing
 * one and the window's start: the window was moved past them, an unusual case).
 */
function outsideWindow(s) {
  const end = s.queueOffset + s.queue.length;
  return {
    after: end < s.queueLength,
    before: s.queueOffset > 0,
    // Entries before the window are played ones (never added, removed or moved) unless the
    // window starts past the entry after the playing one; past the window's end lies the
    // playing one itself when the window is behind it.
    ambiguous: s.queueOffset > s.position + 1 || s.position >= end,
  };
}

/**
 * Applies `entry_added {entry, index}` (`index` in the whole queue; later entries shift up).
 * `shift(from, by)` moves the indexes the page keeps (the now-playing position) that are at
 * `from` or after.
 * @returns {{changed: boolean, stale: boolean}} stale: the window can no longer be trusted (fetch it again)
 */
export function applyEntryAdded(s, entry, index, shift) {
  if (!entry || typeof entry !== 'object' || !Number.isInteger(index) || index < 0) return { changed: false, stale: false };
  if (windowIndexOf(s, entry.id) >= 0) return { changed: false, stale: false }; // told twice
  const at = Math.min(index, s.queueLength);
  if (at < s.queueOffset) s.queueOffset += 1;
  else if (at <= s.queueOffset + s.queue.length) s.queue.splice(at - s.queueOffset, 0, entry);
  s.queueLength += 1;
  shift(at, 1);
  return { changed: true, stale: false };
}

/** Applies `entry_removed {id}` (later entries shift down). */
export function applyEntryRemoved(s, id, shift) {
  const i = windowIndexOf(s, id);
  if (i >= 0) {
    const at = s.queueOffset + i;
    s.queue.splice(i, 1);
    s.queueLength -= 1;
    shift(at + 1, -1);
    return { changed: true, stale: false };
  }
  const where = outsideWindow(s);
  if (!where.after && !where.before) return { changed: false, stale: false }; // the whole queue is here: not ours
  s.queueLength = Math.max(s.queueOffset + s.queue.length, s.queueLength - 1);
  if (where.after && !where.ambiguous) return { changed: true, stale: false };
  // It can only have been before the window (or we cannot tell): the window's place moved.
  if (!where.after) s.queueOffset = Math.max(0, s.queueOffset - 1);
  return { changed: true, stale: true };
}

/** Applies `entry_moved {id, index}` (taken out, then inserted at `index` of the list without it). */
export function applyEntryMoved(s, id, index, shift) {
  if (!Number.isInteger(index) || index < 0) return { changed: false, stale: false };
  const i = windowIndexOf(s, id);
  if (i >= 0) {
    const from = s.queueOffset + i;
    const [entry] = s.queue.splice(i, 1);
    shift(from + 1, -1);
    const at = Math.min(index, s.queueLength - 1);
    if (at < s.queueOffset) s.queueOffset += 1;
    else if (at <= s.queueOffset + s.queue.length) s.queue.splice(at - s.queueOffset, 0, entry);
    shift(at, 1);
    return { changed: true, stale: false };
  }
  const where = outsideWindow(s);
  if (!where.after && !where.before) return { changed: false, stale: false };
  // From after the window to after it (also right after its end): the window keeps its entries.
  if (!where.ambiguous && index >= s.queueOffset + s.queue.length) return { changed: false, stale: false };
  // Into the window (we do not have the entry), or from or to where we cannot tell.
  return { changed: false, stale: true };
}

/** Applies `entry_votes {id, votes}`: only an entry the window holds shows it. */
export function applyEntryVotes(s, id, votes) {
  const i = windowIndexOf(s, id);
  if (i < 0 || !Number.isInteger(votes)) return false;
  s.queue[i] = { ...s.queue[i], votes };
  return true;
}

/** Applies `entry_updated {entry}` (its credits changed): the same entry, in place. */
export function applyEntryUpdated(s, entry) {
  const i = windowIndexOf(s, entry?.id);
  if (i < 0) return false;
  s.queue[i] = { ...s.queue[i], ...entry };
  return true;
}

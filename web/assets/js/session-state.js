// The session page's model: what the server told us (welcome + events, docs/websocket.md),
// normalised, with no DOM. session.js renders it; the unit tests drive it directly.

import { anchorPlayback } from './progress.js';
import {
  applyEntryAdded, applyEntryMoved, applyEntryRemoved, applyEntryUpdated, applyEntryVotes, nextSkip,
  normalizeQueueSettings, normalizeSkip,
} from './queue-state.js';

/** A person's id whether the server sent a plain id or an object. */
export function idOf(person) {
  if (person == null) return null;
  if (typeof person === 'string') return person;
  return person.id ?? person.user_id ?? null;
}

function normalizeMember(m, hostId) {
  const id = idOf(m);
  return {
    id,
    display_name: m.display_name || id,
    role: m.role ?? (id === hostId ? 'host' : 'guest'),
    online: m.online,
    listening: LISTENING.includes(m.listening) ? m.listening : null,
  };
}

/** How a member listens along on their own device (`null`: not at all). */
const LISTENING = ['in_sync', 'detached'];

/** Online members of a list (the viewer's own entry may still say offline before the socket opens). */
function countOnline(members) {
  return members.filter((m) => m.online).length;
}

/**
 * The queue fields of a snapshot, `session_started`, `queue` event or start answer: `queue` is
 * entries `queue_offset …` of the `queue_length` entries of the whole queue (a server before
 * queue windows sends the whole queue and neither number).
 */
function queueWindowOf(raw) {
  const queue = Array.isArray(raw.queue) ? raw.queue : [];
  const offset = Number.isInteger(raw.queue_offset) && raw.queue_offset >= 0 ? raw.queue_offset : 0;
  const length = Number.isInteger(raw.queue_length) ? Math.max(raw.queue_length, offset + queue.length) : offset + queue.length;
  return { queue, queueOffset: offset, queueLength: length };
}

/** Builds the session from a `welcome.session` or an HTTP snapshot (the same object). */
function normalizeSession(raw, previous, fallbackId) {
  const hostId = idOf(raw.host) ?? raw.host_id ?? previous?.hostId ?? null;
  const members = (raw.members ?? []).map((m) => normalizeMember(m, hostId));
  // A member whose role says host wins over a stale host field.
  const hostByRole = members.find((m) => m.role === 'host')?.id;
  return {
    id: raw.id ?? fallbackId,
    state: raw.state ?? 'lobby',
    hostId: hostByRole ?? hostId,
    invite_code: raw.invite_code ?? previous?.invite_code ?? null,
    /** Set while nobody uses the session (`session_idle`): when it ends, ms since the epoch on the server's clock. */
    idleEndsAt: Number.isFinite(raw.idle_ends_at_ms) ? raw.idle_ends_at_ms : null,
    /** The viewer's own top tracks, the ones they brought (the snapshot's `your_tracks`). */
    yourTracks: Array.isArray(raw.your_tracks) ? raw.your_tracks : (previous?.yourTracks ?? []),
    /** What the host named the session (null: no name). */
    name: raw.settings ? (raw.settings.name ?? null) : (previous?.name ?? null),
    /** What the host lets guests do (`settings.guest_permissions`), e.g. `show_invite`. */
    guestPermissions: Array.isArray(raw.settings?.guest_permissions) ? raw.settings.guest_permissions : (previous?.guestPermissions ?? []),
    join_url: raw.join_url ?? previous?.join_url ?? null,
    // In a big session `members` is only the first of them; the counts are of everyone.
    members,
    memberCount: Number.isInteger(raw.member_count) ? Math.max(raw.member_count, members.length) : members.length,
    onlineCount: Number.isInteger(raw.online_count) ? raw.online_count : countOnline(members),
    ...queueWindowOf(raw),
    /** The longest window the server sent: about its `SESH_QUEUE_WINDOW` once the queue is longer. */
    windowSize: Array.isArray(raw.queue) ? raw.queue.length : 0,
    /** Index of the now-playing entry in the whole queue (not in the window). */
    position: Number.isInteger(raw.position) ? raw.position : 0,
    device: raw.device ?? null,
    /** The host's view only: `{id, display_name}` of the users the host removed (empty for guests). */
    banned: normalizeBanned(raw.banned),
    /** The entry already handed to Spotify ("Up next"): pinned, no votes. */
    committedId: raw.committed_id ?? null,
    /** Votes to skip the playing entry (`{entryId, votes, needed, youVoted}`). */
    skip: normalizeSkip(raw.skip),
    /** The host's rules for the queue (order, limits, lock, banned tracks). */
    // The banned tracks come beside the settings (`banned_tracks` of the session view).
    queueSettings: normalizeQueueSettings(
      raw.settings && Array.isArray(raw.banned_tracks) && !raw.settings.banned_tracks ? { ...raw.settings, banned_tracks: raw.banned_tracks } : raw.settings,
      previous?.queueSettings,
    ),
    /** The window no longer matches the server's queue (a change it could not place): fetch it again. */
    windowStale: false,
  };
}

function normalizeBanned(list) {
  return (Array.isArray(list) ? list : []).map((p) => ({ id: idOf(p), display_name: p?.display_name || idOf(p) })).filter((p) => p.id);
}

/** Ids of the members who brought a track (`added_by` holds ids, or objects from older servers). */
export function addedByIds(addedBy) {
  return (addedBy ?? []).map((p) => idOf(p)).filter(Boolean);
}

/** How many members brought a track: `added_by_count` (servers that cap `added_by`), else the list's length. */
export function addedByCount(item, ids = addedByIds(item?.added_by)) {
  return Number.isInteger(item?.added_by_count) ? Math.max(item.added_by_count, ids.length) : ids.length;
}

/** Artist names, whether the server sent strings or `{name}` objects. */
export function artistNames(track) {
  return (track?.artists ?? []).map((a) => (typeof a === 'string' ? a : a.name)).join(', ');
}

/**
 * `GET /api/me/devices` → devices for the picker. Spotify lists some restricted devices without
 * an id; they are kept (shown disabled, with the reason) under a synthetic key.
 */
export function normalizeDevices(data) {
  const list = Array.isArray(data) ? data : (data?.devices ?? []);
  return list.map((d, i) => ({
    id: d.id ?? null,
    key: d.id ?? `unknown-${i}`,
    name: d.name || 'Unnamed device',
    type: d.type ?? d.kind ?? '',
    is_active: Boolean(d.is_active),
    is_restricted: Boolean(d.is_restricted) || !d.id,
    restricted_reason: d.restricted_reason ?? null,
  }));
}

/** What the page calls someone who left before it saw their name. */
export const FORMER_MEMBER = 'a former member';

/** Names a page keeps across reloads, per session: bounded like everything else. */
export const MAX_REMEMBERED_NAMES = 500;

/** The viewer's own votes the page keeps (entries the window no longer holds included). */
export const MAX_REMEMBERED_VOTES = 1000;

/**
 * The player's extra state from a `playback` (newer servers): volume, Spotify's own shuffle
 * and repeat, and whether the device takes volume commands. `supported` is false for a server
 * that sends none of it (the page then offers no seek, volume, repeat, reshuffle or transfer).
 */
export function playerExtras(playback) {
  const supported = Boolean(playback) && ('repeat' in playback || 'volume_percent' in playback || 'changes' in playback);
  const device = playback?.device && typeof playback.device === 'object' ? playback.device : null;
  const volume = Number.isFinite(playback?.volume_percent) ? Math.min(100, Math.max(0, Math.round(playback.volume_percent))) : null;
  const repeat = ['off', 'track', 'context'].includes(playback?.repeat) ? playback.repeat : 'off';
  return {
    supported,
    volume,
    // Volume only where the device says it takes it and Spotify reported a level.
    canSetVolume: supported && volume !== null && device?.supports_volume !== false,
    shuffle: playback?.shuffle === true,
    repeat,
    changes: Array.isArray(playback?.changes) ? playback.changes : [],
  };
}

/**
 * Which part of the queue a phone shows while collapsed: the now-playing entry and the next
 * `upcoming`, as indexes of the window held (`from` inclusive, `to` exclusive); null when the
 * whole window fits anyway.
 */
export function collapsedRange(queueLength, currentInWindow, upcoming = 5) {
  const start = Math.max(0, currentInWindow);
  const end = Math.min(queueLength, start + 1 + upcoming);
  if (start === 0 && end >= queueLength) return null;
  return { from: start, to: end };
}

/**
 * What a spectator needs on top of a guest permission (the server's rule table): `null` for one
 * they get as guests do, a permission for one that also takes the spectators' switch; a
 * permission missing here (playback control) they never get.
 */
export const SPECTATORS_ALSO_NEED = Object.freeze({
  chat: null,
  show_invite: null,
  vote: 'spectators_vote',
  vote_skip: 'spectators_vote',
  add_tracks: 'spectators_add',
});

export class SessionModel {
  constructor(sessionId) {
    this.sessionId = sessionId;
    /** `{id, display_name, role}` of the viewer. */
    this.you = null;
    /**
     * `{id, state, hostId, invite_code, join_url, members, memberCount, onlineCount, queue,
     * queueOffset, queueLength, position, device, banned}`: `queue` holds entries `queueOffset …` of the
     * `queueLength` entries of the whole queue, and `position` indexes the whole queue.
     */
    this.session = null;
    /** Last `playback` with a track (or null) and its local time anchor. */
    this.playback = null;
    this.anchor = null;
    /** Last `spotify_status` that is not `ok`, with `until` (wall ms) for rate-limit countdowns. */
    this.spotify = null;
    /**
     * Display names of everyone this page has seen in the session, by id. Kept when they
     * leave: the tracks they brought stay in the queue, and `added_by` holds only ids.
     */
    this.names = new Map();
    /**
     * The viewer's own vote (1, -1; 0 none) per entry id: `your_vote` comes only with the
     * snapshot and queue pages, never in broadcast frames.
     */
    this.myVotes = new Map();
    /** Per entry id, how many `entry_votes` came: an answer older than a frame must not undo it. */
    this.votesSeen = new Map();
    /** How many `skip_votes` came (the same, for the vote to skip). */
    this.skipSeen = 0;
    /** Bumped on every change of the queue window, so that a page fetched meanwhile is known to be old. */
    this.queueVersion = 0;
  }

  /** Notes the viewer's votes that came with entries (snapshot, queue page, the add answer). */
  noteYourVotes(entries) {
    for (const e of entries ?? []) {
      if (e?.id == null || ![1, -1, 0].includes(e.your_vote)) continue;
      this.myVotes.delete(e.id);
      this.myVotes.set(e.id, e.your_vote);
    }
    // Bounded: the oldest go first (entries long played).
    while (this.myVotes.size > MAX_REMEMBERED_VOTES) this.myVotes.delete(this.myVotes.keys().next().value);
  }

  /** Notes the names of `members` (normalised or as sent) for `memberName`. */
  rememberNames(members) {
    for (const m of members ?? []) {
      const id = idOf(m);
      if (!id || !m.display_name) continue;
      // Newest last, so that `namesToKeep` drops the longest-unseen first.
      this.names.delete(id);
      this.names.set(id, m.display_name);
    }
  }

  /** Paints from the HTTP snapshot before the socket's `welcome` arrives. */
  loadSnapshot(raw, me) {
    this.session = normalizeSession(raw ?? {}, this.session, this.sessionId);
    // The snapshot's own row tells the role (a spectator's too); a big session may not list it.
    const listed = this.session.members.find((m) => m.id === me.id)?.role;
    const spectating = me.spectating != null && me.spectating === this.session.id;
    const role = me.id === this.session.hostId ? 'host' : listed ?? (spectating ? 'spectator' : 'guest');
    this.you = { id: me.id, display_name: me.display_name, role };
    this.rememberNames(raw?.members);
    this.rememberNames([this.you]);
    this.noteYourVotes(raw?.queue);
  }

  /** A `welcome` replaces everything we knew. */
  applyWelcome(frame, perfNow, wallNow) {
    this.you = frame.you ? { ...frame.you } : this.you;
    this.session = normalizeSession(frame.session ?? {}, this.session, this.sessionId);
    if (this.you && !this.you.role) this.you.role = this.you.id === this.session.hostId ? 'host' : 'guest';
    // A welcome replaces the state, but not the names of members who left before it.
    this.rememberNames(frame.session?.members);
    if (this.you) this.rememberNames([this.you]);
    this.noteYourVotes(frame.session?.queue);
    this.queueVersion += 1;
    this.setPlayback(frame.playback ?? null, perfNow, wallNow);
    this.setSpotifyStatus(frame.spotify ?? null, wallNow);
  }

  setPlayback(playback, perfNow, wallNow) {
    this.playback = playback && playback.track ? playback : null;
    this.anchor = this.playback ? anchorPlayback(this.playback, perfNow, wallNow) : null;
  }

  setSpotifyStatus(status, wallNow) {
    if (!status || !status.state || status.state === 'ok') {
      this.spotify = null;
      return;
    }
    this.spotify = { ...status };
    if (status.state === 'rate_limited' && Number.isFinite(status.retry_after_s)) {
      this.spotify.until = wallNow + status.retry_after_s * 1000;
    }
  }

  upsertMember(raw) {
    const member = normalizeMember(raw, this.session.hostId);
    this.rememberNames([raw]);
    const index = this.session.members.findIndex((m) => m.id === member.id);
    if (index >= 0) {
      const before = this.session.members[index];
      this.session.members[index] = { ...before, ...member, online: member.online ?? before.online };
    } else {
      this.session.members.push(member);
    }
  }

  /**
   * Whether `members` lists everyone. Only then does the server announce members one by one
   * (over `SESH_ROSTER_LIMIT` it lists the first of them and sends `members_summary` counts).
   */
  isRosterComplete() {
    return Boolean(this.session) && this.session.members.length >= this.session.memberCount;
  }

  /** Members the list does not show ("and K more"). */
  hiddenMemberCount() {
    if (!this.session) return 0;
    return Math.max(0, this.session.memberCount - this.session.members.length);
  }

  /** Per-member events keep the counts of a session whose list is complete. */
  recount() {
    const s = this.session;
    s.memberCount = s.members.length;
    s.onlineCount = countOnline(s.members);
  }

  /** Takes a member off the list (after the viewer removed them from a big session, which sends no `member_left`). */
  dropMember(id) {
    if (this.session) this.session.members = this.session.members.filter((m) => m.id !== id);
  }

  /** Replaces the queue (whole or a window of it) from a frame or an HTTP answer that has the queue fields. */
  setQueue(raw) {
    const held = queueWindowOf(raw);
    Object.assign(this.session, held);
    this.session.windowSize = Math.max(this.session.windowSize ?? 0, held.queue.length);
    this.session.windowStale = false;
    if ('committed_id' in raw) this.session.committedId = raw.committed_id ?? null;
    this.noteYourVotes(held.queue);
    this.queueVersion += 1;
  }

  /** Moves the whole-queue indexes the page keeps (the now-playing position) at `from` or after by `by`. */
  shiftPositions(from, by) {
    const s = this.session;
    if (s.position >= from) s.position = Math.max(0, s.position + by);
    const reported = this.playback?.position;
    if (Number.isInteger(reported) && reported >= from) this.playback = { ...this.playback, position: Math.max(0, reported + by) };
  }

  /** The parts an entry delta changed (none when it changed nothing); marks a window it could not place. */
  queueDelta({ changed, stale }) {
    if (stale) this.session.windowStale = true;
    if (changed || stale) this.queueVersion += 1;
    return { parts: changed || stale ? ['queue'] : [], outcome: null };
  }

  /** The `POST …/start` answer, in case it beats the socket's `session_started`. */
  applyStartAnswer(result, device) {
    const s = this.session;
    if (!s || s.state !== 'lobby' || !Array.isArray(result?.queue)) return false;
    this.setQueue(result);
    s.position = Number.isInteger(result.position) ? result.position : 0;
    s.state = 'playing';
    if (device) s.device = device;
    return true;
  }

  /**
   * Applies one session event.
   * @returns {{parts: string[], outcome: null|'kicked'|'left'|'ended'|'became_host'}} which parts
   *   of the page changed (`all` for everything) and anything the page must react to.
   */
  applyEvent(frame, perfNow, wallNow) {
    const none = { parts: [], outcome: null };
    if (!this.session) return none;
    const s = this.session;
    switch (frame.type) {
      case 'member_joined':
      case 'member_updated': {
        const complete = this.isRosterComplete();
        this.upsertMember(frame.member ?? frame);
        if (complete) this.recount();
        return { parts: ['members', 'nowPlaying', 'queue'], outcome: null };
      }
      case 'member_left': {
        const id = idOf(frame.user_id ?? frame.member ?? frame);
        if (id === this.you?.id) return { parts: [], outcome: frame.reason === 'kicked' ? 'kicked' : 'left' };
        const complete = this.isRosterComplete();
        // Before the member goes: the name the host's "Removed" list shows.
        if (frame.reason === 'kicked' && this.isHost()) this.addBanned({ id, display_name: this.knownName(id) ?? id });
        s.members = s.members.filter((m) => m.id !== id);
        if (complete) this.recount();
        return { parts: ['members', 'nowPlaying', 'banned'], outcome: null };
      }
      case 'member_unbanned':
        this.removeBanned(idOf(frame.user_id ?? frame));
        return { parts: ['banned'], outcome: null };
      case 'members_summary': {
        // A big session's counts; with `members` it became small again and lists everyone.
        if (Array.isArray(frame.members)) {
          s.members = frame.members.map((m) => normalizeMember(m, s.hostId));
          this.rememberNames(frame.members);
        }
        if (Number.isInteger(frame.member_count)) s.memberCount = Math.max(frame.member_count, s.members.length);
        if (Number.isInteger(frame.online_count)) s.onlineCount = frame.online_count;
        return { parts: Array.isArray(frame.members) ? ['members', 'nowPlaying', 'queue'] : ['members'], outcome: null };
      }
      case 'handover_offered':
        s.handoverOffer = { from: idOf(frame.from), to: idOf(frame.to) };
        return { parts: ['handover'], outcome: s.handoverOffer.to === this.you?.id ? 'handover_offered' : null };
      case 'host_away':
        s.hostAway = Number.isFinite(frame.since_ms) ? frame.since_ms : Date.now();
        return { parts: ['handover'], outcome: null };
      case 'host_back':
        s.hostAway = null;
        return { parts: ['handover'], outcome: null };
      case 'host_changed': {
        const hostId = idOf(frame.host ?? frame.user_id);
        s.handoverOffer = null;
        s.hostAway = null;
        const wasHost = this.isHost();
        s.hostId = hostId;
        // Co-hosts stay co-hosts; the old host becomes a guest.
        const roleAfter = (id, role) => (id === hostId ? 'host' : role === 'host' ? 'guest' : role);
        for (const m of s.members) m.role = roleAfter(m.id, m.role);
        if (this.you) this.you.role = roleAfter(this.you.id, wasHost ? 'host' : (this.you.role ?? 'guest'));
        // Only the host's view lists the removed; a new host gets it from a fresh snapshot.
        if (!this.isHost()) s.banned = [];
        return { parts: ['all'], outcome: !wasHost && this.isHost() ? 'became_host' : null };
      }
      case 'session_started':
      case 'queue':
        if (Array.isArray(frame.queue)) this.setQueue(frame);
        if (Number.isInteger(frame.position)) s.position = frame.position;
        if (frame.type === 'session_started' || s.state === 'lobby') s.state = 'playing';
        if (frame.device) s.device = frame.device;
        return { parts: ['all'], outcome: null };
      case 'playback':
        this.setPlayback('playback' in frame ? frame.playback : frame, perfNow, wallNow);
        if (s.state === 'lobby' && this.playback) s.state = 'playing';
        // A track change moves the queue's position only here: `queue` events come when the
        // queue's content changes (start, a late joiner), not on every track.
        if (Number.isInteger(this.playback?.position) && this.playback.position < s.queueLength) {
          s.position = this.playback.position;
        }
        return { parts: ['all'], outcome: null };
      case 'presence': {
        const complete = this.isRosterComplete();
        const member = s.members.find((m) => m.id === idOf(frame.user_id ?? frame.user));
        if (member) member.online = Boolean(frame.online);
        if (complete) this.recount();
        return { parts: ['members'], outcome: null };
      }
      case 'listening': {
        const id = idOf(frame.user_id);
        const member = s.members.find((m) => m.id === id);
        if (member) member.listening = LISTENING.includes(frame.listening) ? frame.listening : null;
        const yours = id === this.you?.id;
        return { parts: ['members', 'listen'], outcome: yours && frame.reason ? `listening_${frame.reason}` : null };
      }
      case 'role_changed': {
        const id = idOf(frame.user_id ?? frame.user);
        const role = ['host', 'co_host', 'guest'].includes(frame.role) ? frame.role : null;
        if (!id || !role) return none;
        const member = s.members.find((m) => m.id === id);
        if (member) member.role = role;
        if (this.you?.id === id) this.you.role = role;
        return { parts: ['all'], outcome: null };
      }
      case 'settings_changed':
        this.setSettings(frame.settings);
        // The name is in the header; what guests may do decides the invite, the search, the
        // votes, the vote to skip and the player's controls; the host's forms show the
        // queue's rules and the guest controls; the chat's input comes and goes with its switch.
        return { parts: ['head', 'invite', 'queue', 'search', 'skip', 'queueSettings', 'guestControls', 'chat'], outcome: null };
      case 'entry_added': {
        const r = applyEntryAdded(s, frame.entry, frame.index, (from, by) => this.shiftPositions(from, by));
        // An added entry starts with its adder's up vote: when that is the viewer, it is theirs.
        const entry = frame.entry;
        if (r.changed && entry?.origin === 'added' && addedByIds(entry.added_by)[0] === this.you?.id && !this.myVotes.has(entry.id)) {
          this.myVotes.set(entry.id, 1);
        }
        return this.queueDelta(r);
      }
      case 'entry_removed': {
        const r = applyEntryRemoved(s, frame.id, (from, by) => this.shiftPositions(from, by));
        this.myVotes.delete(frame.id);
        this.votesSeen.delete(frame.id);
        if (s.committedId === frame.id) s.committedId = null;
        return this.queueDelta(r);
      }
      case 'entry_moved':
        return this.queueDelta(applyEntryMoved(s, frame.id, frame.index, (from, by) => this.shiftPositions(from, by)));
      case 'entry_votes':
        this.votesSeen.set(frame.id, (this.votesSeen.get(frame.id) ?? 0) + 1);
        return this.queueDelta({ changed: applyEntryVotes(s, frame.id, frame.votes), stale: false });
      case 'entry_updated':
        return this.queueDelta({ changed: applyEntryUpdated(s, frame.entry), stale: false });
      case 'entry_committed':
        s.committedId = frame.id ?? null;
        return { parts: ['queue'], outcome: null };
      case 'skip_votes':
        this.skipSeen += 1;
        s.skip = nextSkip(s.skip, frame);
        return { parts: ['skip'], outcome: null };
      case 'track_banned':
        if (typeof frame.track_id === 'string' && !s.queueSettings.bannedTracks.includes(frame.track_id)) {
          s.queueSettings = { ...s.queueSettings, bannedTracks: [...s.queueSettings.bannedTracks, frame.track_id] };
        }
        return { parts: ['search'], outcome: null };
      case 'invite_rotated':
        this.setInvite(frame);
        return { parts: ['invite'], outcome: null };
      case 'spotify_status':
        this.setSpotifyStatus(frame, wallNow);
        return { parts: ['spotify'], outcome: null };
      case 'session_idle':
        s.idleEndsAt = Number.isFinite(frame.ends_at_ms) ? frame.ends_at_ms : Date.now();
        return { parts: ['idle'], outcome: null };
      case 'session_active':
        s.idleEndsAt = null;
        return { parts: ['idle'], outcome: null };
      case 'session_ended':
        s.state = 'ended';
        s.idleEndsAt = null;
        return { parts: ['all'], outcome: 'ended' };
      default:
        return none; // a type this page does not know yet
    }
  }

  /** Adds a removed user to the host's list (once; a kick's answer and its `member_left` both tell). */
  addBanned(person) {
    const s = this.session;
    if (!s || !person?.id || s.banned.some((p) => p.id === person.id)) return;
    s.banned.push({ id: person.id, display_name: person.display_name || person.id });
  }

  /** Takes a user off the host's list of the removed (let back in, here or in another tab). */
  removeBanned(id) {
    if (this.session) this.session.banned = this.session.banned.filter((p) => p.id !== id);
  }

  /** The host's list of the removed from a fresh snapshot (after becoming host). */
  setBanned(list) {
    if (this.session) this.session.banned = normalizeBanned(list);
  }

  /**
   * A new invite (`invite_rotated`, or the host's own `POST …/invite` answer, which may come
   * first): the old link stops working.
   */
  setInvite({ invite_code: code, join_url: url }) {
    const s = this.session;
    if (!s || !code) return;
    s.invite_code = code;
    s.join_url = url ?? null;
  }

  /**
   * What the header says: `lobby`, `playing`, `paused` (the session plays, its music is
   * paused) or `ended`.
   */
  displayState() {
    const state = this.session?.state ?? 'lobby';
    if (state !== 'playing') return state;
    const np = this.nowPlaying();
    return np && !np.isPlaying ? 'paused' : 'playing';
  }

  isHost() {
    return Boolean(this.you && this.session && (this.you.id === this.session.hostId || this.you.role === 'host'));
  }

  /** The settings of `settings_changed` or of the host's own PATCH answer (the whole settings). */
  setSettings(settings) {
    const s = this.session;
    if (!s || !settings) return;
    s.name = settings.name ?? null;
    if (Array.isArray(settings.guest_permissions)) s.guestPermissions = settings.guest_permissions;
    s.queueSettings = normalizeQueueSettings(settings, s.queueSettings);
  }

  // ----- who may do what with the queue (the server decides; the page offers only what it allows) -----

  /** The host or a co-host: they moderate the queue (remove any entry, ban tracks, skip). */
  isModerator() {
    return this.isHost() || this.you?.role === 'co_host';
  }

  /** A spectator: in the session with a name only, no Spotify account (never host or co-host). */
  isSpectator() {
    return this.you?.role === 'spectator';
  }

  /**
   * Whether the viewer holds `permission` (`add_tracks`, `vote`, …): moderators hold them all,
   * guests those the host opened; spectators those too, as far as SPECTATORS_ALSO_NEED allows.
   */
  may(permission) {
    if (this.isModerator()) return true;
    const granted = (p) => Boolean(this.session?.guestPermissions.includes(p));
    if (!this.isSpectator()) return granted(permission);
    if (!Object.hasOwn(SPECTATORS_ALSO_NEED, permission)) return false;
    const also = SPECTATORS_ALSO_NEED[permission];
    return granted(permission) && (also === null || granted(also));
  }

  /** Search and add: while the music plays, for moderators, and for guests who may unless the host locked adding. */
  canAdd() {
    const s = this.session;
    if (!s || s.state !== 'playing') return false;
    return this.isModerator() || (this.may('add_tracks') && !s.queueSettings.addingLocked);
  }

  /** The member who added (or first brought) an entry. */
  ownerOf(entry) {
    return addedByIds(entry?.added_by)[0] ?? null;
  }

  /** The index of the playing entry in the whole queue, or the session's position while nothing is reported. */
  playingIndex() {
    const current = this.currentIndex();
    return current >= 0 ? current : this.session.position;
  }

  /** The entry that plays now, if the window holds it. */
  playingEntry() {
    if (!this.session || this.session.state !== 'playing') return null;
    return this.entryAt(this.playingIndex()) ?? null;
  }

  /**
   * What an entry of the window is to the queue: `played`, `playing`, `committed` (handed to
   * Spotify: "Up next", pinned) or `upcoming` (votes and moves).
   */
  entryRole(entry, index) {
    const playing = this.playingIndex();
    if (index < playing) return 'played';
    if (index === playing) return 'playing';
    if (entry?.id != null && entry.id === this.session.committedId) return 'committed';
    return 'upcoming';
  }

  /** Whether the viewer may vote on the entry (upcoming, and allowed to vote). */
  canVoteOn(entry, index) {
    return this.session?.state === 'playing' && this.may('vote') && entry?.id != null && this.entryRole(entry, index) === 'upcoming';
  }

  /** Remove: moderators any entry still to come, members the ones they added. */
  canRemove(entry, index) {
    const role = this.entryRole(entry, index);
    if (this.session?.state !== 'playing' || entry?.id == null || (role !== 'upcoming' && role !== 'committed')) return false;
    return this.isModerator() || (entry.origin === 'added' && this.ownerOf(entry) === this.you?.id);
  }

  /** Ban the track (moderators): every entry of it still to come leaves, and nobody can add it again. */
  canBan(entry, index) {
    const role = this.entryRole(entry, index);
    return this.session?.state === 'playing' && this.isModerator() && entry?.id != null && (role === 'upcoming' || role === 'committed');
  }

  /** Skip outright (`POST …/player/next`): moderators, guests allowed to skip, and whoever added the playing entry. */
  canSkipDirectly() {
    // Spectators never steer the host's player, not even past a track they added.
    if (this.session?.state !== 'playing' || this.isSpectator()) return false;
    if (this.may('skip')) return true;
    const entry = this.playingEntry();
    return entry?.origin === 'added' && this.ownerOf(entry) === this.you?.id;
  }

  /** Vote to skip: for those who may and cannot skip outright. */
  canVoteSkip() {
    return this.session?.state === 'playing' && this.may('vote_skip') && !this.canSkipDirectly() && Boolean(this.playingEntry());
  }

  /** The votes to skip the playing entry (none yet when the count is of an entry before it). */
  skipState() {
    const { skip } = this.session;
    const playing = this.playingEntry();
    if (skip.entryId !== null && playing?.id != null && skip.entryId !== playing.id) {
      return { votes: 0, needed: skip.needed, youVoted: false };
    }
    return { votes: skip.votes, needed: skip.needed, youVoted: skip.youVoted };
  }

  /**
   * The entry of `trackId` from the playing one on (a search result already in the queue),
   * with its index and role; null when the window holds none.
   */
  queuedEntryOf(trackId) {
    if (!this.session || !trackId) return null;
    const { queue, queueOffset } = this.session;
    const from = this.playingIndex();
    for (let i = Math.max(0, from - queueOffset); i < queue.length; i += 1) {
      const entry = queue[i];
      if (entry.track?.id === trackId) return { entry, index: queueOffset + i, role: this.entryRole(entry, queueOffset + i) };
    }
    return null;
  }

  isBannedTrack(trackId) {
    return Boolean(this.session?.queueSettings.bannedTracks.includes(trackId));
  }

  /** The viewer's vote on an entry: 1, -1 or 0. */
  myVote(entry) {
    return this.myVotes.get(entry?.id) ?? 0;
  }

  /**
   * Shows the viewer's vote at once (the net count follows); the token settles or reverts it.
   * @returns {object|null} null when the window does not hold the entry
   */
  beginVote(id, vote) {
    const s = this.session;
    const i = s ? s.queue.findIndex((e) => e.id === id) : -1;
    if (i < 0) return null;
    const entry = s.queue[i];
    const previousVote = this.myVote(entry);
    const previousVotes = Number.isInteger(entry.votes) ? entry.votes : 0;
    this.myVotes.set(id, vote);
    s.queue[i] = { ...entry, votes: previousVotes + vote - previousVote };
    this.queueVersion += 1;
    return { id, vote, previousVote, previousVotes, seen: this.votesSeen.get(id) ?? 0 };
  }

  /** The vote's answer (`{id, votes, your_vote}`): the count too, unless an `entry_votes` told a newer one meanwhile. */
  settleVote(token, answer) {
    if (!token) return;
    if ([1, -1, 0].includes(answer?.your_vote)) this.myVotes.set(token.id, answer.your_vote);
    if (Number.isInteger(answer?.votes) && (this.votesSeen.get(token.id) ?? 0) === token.seen) {
      applyEntryVotes(this.session, token.id, answer.votes);
    }
  }

  /** A refused vote: the viewer's vote goes back, and the count too unless a frame set it meanwhile. */
  revertVote(token) {
    if (!token) return;
    this.myVotes.set(token.id, token.previousVote);
    if ((this.votesSeen.get(token.id) ?? 0) === token.seen) applyEntryVotes(this.session, token.id, token.previousVotes);
  }

  /** Toggles the viewer's vote to skip at once; the token settles or reverts it. */
  beginSkipVote() {
    const s = this.session;
    const now = this.skipState();
    const playing = this.playingEntry();
    const token = { previous: { ...s.skip }, entryId: playing?.id ?? s.skip.entryId, seen: this.skipSeen };
    const youVoted = !now.youVoted;
    s.skip = { entryId: token.entryId, votes: Math.max(0, now.votes + (youVoted ? 1 : -1)), needed: now.needed, youVoted };
    return token;
  }

  /** The answer of `POST …/skip-vote` (`{entry_id, votes, needed, you_voted}`), for the entry still playing. */
  settleSkipVote(token, answer) {
    const s = this.session;
    if (!token || !answer || answer.entry_id !== s.skip.entryId) return;
    const fresh = this.skipSeen === token.seen;
    s.skip = {
      entryId: answer.entry_id,
      votes: fresh && Number.isInteger(answer.votes) ? answer.votes : s.skip.votes,
      needed: fresh && Number.isInteger(answer.needed) ? answer.needed : s.skip.needed,
      youVoted: answer.you_voted === true,
    };
  }

  revertSkipVote(token) {
    const s = this.session;
    if (!token || s.skip.entryId !== token.entryId) return;
    if (this.skipSeen === token.seen) s.skip = { ...token.previous };
    else s.skip = { ...s.skip, youVoted: token.previous.entryId === token.entryId ? token.previous.youVoted : false };
  }

  /**
   * The window to fetch again after a change it could not place (`windowStale`): where it
   * starts, as long as it is (at least the server's window); null when it is fine.
   */
  staleWindowPage() {
    const s = this.session;
    if (!s?.windowStale) return null;
    const limit = Math.max(1, Math.min(Math.max(s.queue.length, s.windowSize || 0, 1), 500));
    const offset = Math.max(0, Math.min(s.queueOffset, Math.max(0, s.queueLength - limit)));
    return { offset, limit, version: this.queueVersion };
  }

  /**
   * The page fetched after `staleWindowPage`: replaces the window unless the queue changed
   * again while it loaded (then the next fetch is due).
   * @returns {boolean} whether the window was replaced
   */
  replaceStaleWindow(request, page) {
    const s = this.session;
    if (!s || !Array.isArray(page?.items) || !Number.isInteger(page.offset) || request.version !== this.queueVersion) return false;
    this.setQueue({ queue: page.items, queue_offset: page.offset, queue_length: page.total });
    return true;
  }

  /**
   * A member's name; for someone who left, the name they had (also from before a reload, see
   * `restoreNames`); null for someone this page never saw a name for.
   */
  knownName(id) {
    const member = this.session?.members.find((m) => m.id === id);
    if (member) return member.display_name;
    if (this.you?.id === id && this.you.display_name) return this.you.display_name;
    return this.names.get(id) ?? null;
  }

  /**
   * A member's name, or — for someone who left before this page saw them (`added_by` holds
   * only ids, and the server names only current members) — FORMER_MEMBER, never a raw id.
   */
  memberName(id) {
    return this.knownName(id) ?? FORMER_MEMBER;
  }

  /**
   * The names this page knows, to keep across a reload (the page stores them): `[id, name]`
   * pairs, the newest last, at most MAX_REMEMBERED_NAMES.
   */
  namesToKeep() {
    return [...this.names].slice(-MAX_REMEMBERED_NAMES);
  }

  /** Names kept from before a reload; the server's names (members) win over them. */
  restoreNames(pairs) {
    if (!Array.isArray(pairs)) return;
    for (const pair of pairs.slice(-MAX_REMEMBERED_NAMES)) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string' || !pair[1]) continue;
      if (!this.names.has(pair[0])) this.names.set(pair[0], pair[1]);
    }
  }

  /**
   * "Bob", "you & Carol", "Bob, Carol & Dave"; with `total` above the names listed (the server
   * names the first few who brought a track and counts them all): "Bob, Carol & 68 others".
   * People whose names this page never learnt are counted: "Bob & 2 former members".
   */
  namesList(ids, total = ids.length) {
    const names = [];
    let unknown = 0;
    for (const id of ids) {
      if (id === this.you?.id) names.push('you');
      else {
        const name = this.knownName(id);
        if (name) names.push(name);
        else unknown += 1;
      }
    }
    if (unknown === 1) names.push(FORMER_MEMBER);
    else if (unknown > 1) names.push(`${unknown} former members`);
    const others = Math.max(0, total - ids.length);
    if (others > 0) return `${names.join(', ')} & ${others} ${others === 1 ? 'other' : 'others'}`;
    if (names.length <= 1) return names.join('');
    return `${names.slice(0, -1).join(', ')} & ${names.at(-1)}`;
  }

  /** Whether the viewer is among those who brought the queue entry (or playback) ("yours"). */
  isMine(item) {
    return Boolean(this.you?.id) && addedByIds(item?.added_by).includes(this.you.id);
  }

  /** "your", "Bob’s", "Bob & Carol’s", "Alexis’", "Bob & 3 others’". */
  possessive(ids, total = ids.length) {
    if (ids.length === 1 && total <= 1 && ids[0] === this.you?.id) return 'your';
    const list = this.namesList(ids, total);
    return list.endsWith('s') ? `${list}’` : `${list}’s`;
  }

  /** The queue entry at `index` of the whole queue, if the window we hold has it. */
  entryAt(index) {
    const { queue, queueOffset } = this.session;
    return index >= queueOffset ? queue[index - queueOffset] : undefined;
  }

  /**
   * The index (in the whole queue) that plays now: the server's `position` for the track, else
   * a search of the window we hold; -1 when something outside the queue plays.
   */
  currentIndex() {
    const { queue, queueOffset, queueLength, position } = this.session;
    const id = this.playback?.track?.id;
    const reported = this.playback?.position;
    if (Number.isInteger(reported) && reported >= 0 && reported < queueLength) {
      // Outside the window we cannot check the track, and the server knows best anyway.
      const entry = this.entryAt(reported);
      if (!entry || !id || entry.track?.id === id) return reported;
    }
    if (id) {
      if (this.entryAt(position)?.track?.id === id) return position;
      const after = queue.findIndex((e, i) => i + queueOffset >= position && e.track?.id === id);
      if (after >= 0) return after + queueOffset;
      const anywhere = queue.findIndex((e) => e.track?.id === id);
      return anywhere >= 0 ? anywhere + queueOffset : -1;
    }
    return position < queueLength ? position : -1;
  }

  /** Entries of the whole queue after the window we hold ("N more in the queue"). */
  queueAfterWindow() {
    if (!this.session) return 0;
    const { queue, queueOffset, queueLength } = this.session;
    return Math.max(0, queueLength - queueOffset - queue.length);
  }

  /** `{offset, limit}` of the `GET …/queue` page that continues the window, or null at the end. */
  nextQueuePage(limit) {
    const rest = this.queueAfterWindow();
    if (rest === 0) return null;
    const { queue, queueOffset } = this.session;
    return { offset: queueOffset + queue.length, limit: Math.min(limit, rest) };
  }

  /**
   * Appends a `GET …/queue` page (`{items, offset, total}`) to the window. A page that no
   * longer continues it (a `queue` event replaced the window meanwhile) is dropped.
   * @returns {boolean} whether the queue changed
   */
  appendQueuePage(page) {
    const s = this.session;
    if (!s || !Array.isArray(page?.items) || page.offset !== s.queueOffset + s.queue.length) return false;
    s.queue = s.queue.concat(page.items);
    if (Number.isInteger(page.total)) s.queueLength = Math.max(page.total, s.queueOffset + s.queue.length);
    this.noteYourVotes(page.items);
    this.queueVersion += 1;
    return page.items.length > 0;
  }

  /**
   * When the now-playing entry is not in the window we hold (the server moves windows by
   * itself, but not always in time, e.g. not after it restarted): the `GET …/queue` page
   * to fetch, a window of `size` entries (default: as long as the server's) placed as the
   * server places its own; else null.
   */
  windowMiss(size = this.session?.windowSize) {
    const s = this.session;
    if (!s || s.state !== 'playing') return null;
    const index = this.currentIndex();
    if (index < 0 || index >= s.queueLength || this.entryAt(index)) return null;
    const limit = Math.max(1, Math.min(size || 100, s.queueLength, 500));
    const offset = Math.max(0, Math.min(index - Math.floor(limit / 10), s.queueLength - limit));
    return { offset, limit };
  }

  /**
   * Replaces the window with a page fetched after `windowMiss`, unless it no longer holds the
   * now-playing entry (the position moved on while it loaded).
   * @returns {boolean} whether the queue changed
   */
  replaceQueueWindow(page) {
    const s = this.session;
    if (!s || !Array.isArray(page?.items) || !Number.isInteger(page.offset)) return false;
    const index = this.currentIndex();
    if (index < page.offset || index >= page.offset + page.items.length) return false;
    this.setQueue({ queue: page.items, queue_offset: page.offset, queue_length: page.total });
    return true;
  }

  /**
   * What the now-playing card shows: the reported track, or — while the player has not been
   * observed yet (just started, server restarted) — the queue's current entry, shown paused.
   */
  nowPlaying() {
    if (!this.session || this.session.state === 'ended') return null;
    // While the host plays something of their own, guests see the party's track, on hold:
    // what the host listens to privately is not the party's business.
    const onHold = this.spotify?.state === 'host_took_over' && !this.isHost() && !Number.isInteger(this.playback?.position);
    const index = onHold ? this.session.position : this.currentIndex();
    const entry = index >= 0 ? this.entryAt(index) : null;
    if (this.playback?.track && !onHold) {
      const source = this.playback.added_by?.length ? this.playback : entry;
      const ids = addedByIds(source?.added_by);
      // An entry someone added after the start (not from top tracks) says so.
      const origin = entry && (!this.playback.track.id || entry.track?.id === this.playback.track.id) ? (entry.origin ?? null) : null;
      return { track: this.playback.track, addedBy: ids, addedByCount: addedByCount(source, ids), origin, isPlaying: Boolean(this.playback.is_playing), device: this.playback.device, fromPlayback: true };
    }
    if (entry && this.session.state === 'playing') {
      const ids = addedByIds(entry.added_by);
      return { track: entry.track, addedBy: ids, addedByCount: addedByCount(entry, ids), origin: entry.origin ?? null, isPlaying: false, device: null, fromPlayback: false };
    }
    return null;
  }
}

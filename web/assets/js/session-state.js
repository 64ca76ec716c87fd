// The session page's model: what the server told us (welcome + events, docs/websocket.md),
// normalised, with no DOM. session.js renders it; the unit tests drive it directly.

import { anchorPlayback } from './progress.js';

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
  };
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
    join_url: raw.join_url ?? previous?.join_url ?? null,
    members,
    queue: raw.queue ?? [],
    position: Number.isInteger(raw.position) ? raw.position : 0,
    device: raw.device ?? null,
  };
}

/** Ids of the members who brought a track (`added_by` holds ids, or objects from older servers). */
export function addedByIds(addedBy) {
  return (addedBy ?? []).map((p) => idOf(p)).filter(Boolean);
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

export class SessionModel {
  constructor(sessionId) {
    this.sessionId = sessionId;
    /** `{id, display_name, role}` of the viewer. */
    this.you = null;
    /** `{id, state, hostId, invite_code, join_url, members, queue, position, device}` */
    this.session = null;
    /** Last `playback` with a track (or null) and its local time anchor. */
    this.playback = null;
    this.anchor = null;
    /** Last `spotify_status` that is not `ok`, with `until` (wall ms) for rate-limit countdowns. */
    this.spotify = null;
  }

  /** Paints from the HTTP snapshot before the socket's `welcome` arrives. */
  loadSnapshot(raw, me) {
    this.session = normalizeSession(raw ?? {}, this.session, this.sessionId);
    this.you = { id: me.id, display_name: me.display_name, role: me.id === this.session.hostId ? 'host' : 'guest' };
  }

  /** A `welcome` replaces everything we knew. */
  applyWelcome(frame, perfNow, wallNow) {
    this.you = frame.you ? { ...frame.you } : this.you;
    this.session = normalizeSession(frame.session ?? {}, this.session, this.sessionId);
    if (this.you && !this.you.role) this.you.role = this.you.id === this.session.hostId ? 'host' : 'guest';
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
    const index = this.session.members.findIndex((m) => m.id === member.id);
    if (index >= 0) {
      const before = this.session.members[index];
      this.session.members[index] = { ...before, ...member, online: member.online ?? before.online };
    } else {
      this.session.members.push(member);
    }
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
      case 'member_updated':
        this.upsertMember(frame.member ?? frame);
        return { parts: ['members', 'nowPlaying', 'queue'], outcome: null };
      case 'member_left': {
        const id = idOf(frame.user_id ?? frame.member ?? frame);
        if (id === this.you?.id) return { parts: [], outcome: frame.reason === 'kicked' ? 'kicked' : 'left' };
        s.members = s.members.filter((m) => m.id !== id);
        return { parts: ['members', 'nowPlaying'], outcome: null };
      }
      case 'host_changed': {
        const hostId = idOf(frame.host ?? frame.user_id);
        const wasHost = this.isHost();
        s.hostId = hostId;
        for (const m of s.members) m.role = m.id === hostId ? 'host' : 'guest';
        if (this.you) this.you.role = this.you.id === hostId ? 'host' : 'guest';
        return { parts: ['all'], outcome: !wasHost && this.isHost() ? 'became_host' : null };
      }
      case 'session_started':
      case 'queue':
        if (Array.isArray(frame.queue)) s.queue = frame.queue;
        if (Number.isInteger(frame.position)) s.position = frame.position;
        if (frame.type === 'session_started' || s.state === 'lobby') s.state = 'playing';
        if (frame.device) s.device = frame.device;
        return { parts: ['all'], outcome: null };
      case 'playback':
        this.setPlayback('playback' in frame ? frame.playback : frame, perfNow, wallNow);
        if (s.state === 'lobby' && this.playback) s.state = 'playing';
        // A track change moves the queue's position only here: `queue` events come when the
        // queue's content changes (start, a late joiner), not on every track.
        if (Number.isInteger(this.playback?.position) && this.playback.position < s.queue.length) {
          s.position = this.playback.position;
        }
        return { parts: ['all'], outcome: null };
      case 'presence': {
        const member = s.members.find((m) => m.id === idOf(frame.user_id ?? frame.user));
        if (member) member.online = Boolean(frame.online);
        return { parts: ['members'], outcome: null };
      }
      case 'invite_rotated':
        s.invite_code = frame.invite_code ?? s.invite_code;
        s.join_url = frame.join_url ?? null;
        return { parts: ['invite'], outcome: null };
      case 'spotify_status':
        this.setSpotifyStatus(frame, wallNow);
        return { parts: ['spotify'], outcome: null };
      case 'session_ended':
        s.state = 'ended';
        return { parts: ['all'], outcome: 'ended' };
      default:
        return none; // settings_changed, or a type this page does not know yet
    }
  }

  isHost() {
    return Boolean(this.you && this.session && (this.you.id === this.session.hostId || this.you.role === 'host'));
  }

  memberName(id) {
    const member = this.session?.members.find((m) => m.id === id);
    if (member) return member.display_name;
    if (this.you?.id === id) return this.you.display_name || id;
    return id;
  }

  /** "Bob", "you & Carol", "Bob, Carol & Dave". */
  namesList(ids) {
    const names = ids.map((id) => (id === this.you?.id ? 'you' : this.memberName(id)));
    if (names.length <= 1) return names.join('');
    return `${names.slice(0, -1).join(', ')} & ${names.at(-1)}`;
  }

  /** "your", "Bob’s", "Bob & Carol’s", "Alexis’". */
  possessive(ids) {
    if (ids.length === 1 && ids[0] === this.you?.id) return 'your';
    const list = this.namesList(ids);
    return list.endsWith('s') ? `${list}’` : `${list}’s`;
  }

  /** The queue index that plays now: the server's `position` for the track, else a search. */
  currentIndex() {
    const { queue, position } = this.session;
    const id = this.playback?.track?.id;
    const reported = this.playback?.position;
    if (Number.isInteger(reported) && queue[reported] && (!id || queue[reported].track?.id === id)) return reported;
    if (id) {
      if (queue[position]?.track?.id === id) return position;
      const after = queue.findIndex((e, i) => i >= position && e.track?.id === id);
      if (after >= 0) return after;
      return queue.findIndex((e) => e.track?.id === id); // -1: something outside the queue plays
    }
    return position < queue.length ? position : -1;
  }

  /**
   * What the now-playing card shows: the reported track, or — while the player has not been
   * observed yet (just started, server restarted) — the queue's current entry, shown paused.
   */
  nowPlaying() {
    if (!this.session || this.session.state === 'ended') return null;
    const index = this.currentIndex();
    const entry = index >= 0 ? this.session.queue[index] : null;
    if (this.playback?.track) {
      const ids = addedByIds(this.playback.added_by?.length ? this.playback.added_by : entry?.added_by);
      return { track: this.playback.track, addedBy: ids, isPlaying: Boolean(this.playback.is_playing), device: this.playback.device };
    }
    if (entry && this.session.state === 'playing') {
      return { track: entry.track, addedBy: addedByIds(entry.added_by), isPlaying: false, device: null };
    }
    return null;
  }
}

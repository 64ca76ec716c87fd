// Frames the way the gateway sends them (crates/gateway/src/wire.rs), for the model's tests.

export const track = (id) => ({
  id, uri: `spotify:track:${id}`, name: `Song ${id}`, artists: ['A'], album: 'X', image_url: null, duration_ms: 200_000,
});

/** Entries `from … to - 1` of a queue whose entry i (id i) plays track `t{i}`. */
export const entries = (from, to) => Array.from({ length: to - from }, (_, k) => ({
  id: from + k, track: track(`t${from + k}`), added_by: ['alice'], added_by_count: 1, origin: 'top_tracks', votes: 0,
}));

/** An entry `id` that `user` added after the start (it starts with their up vote). */
export const added = (id, user, extra = {}) => ({
  id, track: track(`n${id}`), added_by: [user], added_by_count: 1, origin: 'added', votes: 1, ...extra,
});

export const member = (id, extra = {}) => ({ id, display_name: id[0].toUpperCase() + id.slice(1), role: id === 'alice' ? 'host' : 'guest', online: true, ...extra });

/** A `welcome` for bob; `session` fields override the small, whole-queue defaults. */
export const welcome = (session = {}) => ({
  type: 'welcome', protocol: 1, seq: 41, recovered: false,
  you: { id: 'bob', display_name: 'Bob', role: 'guest' },
  session: {
    id: 's1', state: 'playing', host: 'alice', invite_code: 'c', join_url: 'http://x/j/c',
    members: [member('alice'), member('bob')], member_count: 2, online_count: 2,
    queue: entries(0, 3), queue_offset: 0, queue_length: 3, position: 0, device: 'd1',
    settings: { capacity: 50, shuffle_mode: 'fair' },
    ...session,
  },
  playback: null,
  spotify: { state: 'ok', message: 'connected to Spotify' },
});

/** A `playback` event for entry `position` of a queue built by `entries`. */
export const playback = (position, seq = 50) => ({
  type: 'playback', seq, track: track(`t${position}`), is_playing: true, progress_ms: 0, server_time_ms: 0,
  device: { id: 'd1', name: 'Mac' }, added_by: ['alice'], position,
});

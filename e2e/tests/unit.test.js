// Unit tests of the front end's pure modules (no browser): progress clock, backoff, messages.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anchorPlayback, formatTime, progressAt } from '../../web/assets/js/progress.js';
import { backoffDelay } from '../../web/assets/js/socket.js';
import { describeError, isKnownCode, rateLimitMessage } from '../../web/assets/js/messages.js';

describe('progress clock', () => {
  const playing = { progress_ms: 60_000, server_time_ms: 1_000_000, is_playing: true };

  it('adds the transit time and the time since receipt while playing', () => {
    const anchor = anchorPlayback(playing, 500, 1_000_250);
    assert.deepEqual(anchor, { baseMs: 60_250, atPerfMs: 500 });
    assert.equal(progressAt(playing, anchor, 200_000, 2_500), 62_250);
  });

  it('stands still while paused', () => {
    const paused = { ...playing, is_playing: false };
    const anchor = anchorPlayback(paused, 500, 1_000_250);
    assert.equal(progressAt(paused, anchor, 200_000, 60_000), 60_000);
  });

  it('ignores a skewed clock instead of jumping', () => {
    const ahead = anchorPlayback(playing, 0, 1_000_000 + 3_600_000);
    assert.equal(ahead.baseMs, 60_000);
    const behind = anchorPlayback(playing, 0, 999_000);
    assert.equal(behind.baseMs, 60_000);
  });

  it('never runs past the end of the track', () => {
    const anchor = anchorPlayback(playing, 0, 1_000_000);
    assert.equal(progressAt(playing, anchor, 61_000, 10_000), 61_000);
  });

  it('formats times like a player', () => {
    assert.equal(formatTime(0), '0:00');
    assert.equal(formatTime(61_999), '1:01');
    assert.equal(formatTime(3_725_000), '1:02:05');
  });
});

describe('reconnect backoff', () => {
  it('grows exponentially with jitter between half and all of the ceiling', () => {
    assert.equal(backoffDelay(0, () => 0), 250);
    assert.equal(backoffDelay(0, () => 1), 500);
    assert.equal(backoffDelay(3, () => 0), 2_000);
    assert.equal(backoffDelay(3, () => 1), 4_000);
  });

  it('is capped at 15 s', () => {
    assert.equal(backoffDelay(30, () => 1), 15_000);
    assert.equal(backoffDelay(30, () => 0), 7_500);
  });
});

describe('error messages', () => {
  it('has the agreed words for the Spotify errors', () => {
    assert.equal(describeError('premium_required').title, 'Playback control needs Spotify Premium');
    assert.equal(describeError('no_active_device').title, 'Open Spotify on a device first');
    assert.equal(describeError('reauth_required').login, true);
    assert.equal(describeError('unauthorized').login, true);
  });

  it('knows every code the API documents', () => {
    for (const code of ['premium_required', 'no_active_device', 'rate_limited', 'reauth_required', 'session_full',
      'session_ended', 'forbidden', 'not_a_member', 'banned', 'invite_not_found', 'no_tracks', 'already_started',
      'not_started', 'invalid_target', 'spotify_unavailable', 'spotify_error', 'unauthorized', 'unauthenticated',
      'network', 'invalid_device', 'spotify_not_found', 'session_not_found', 'internal', 'csrf', 'invalid_json',
      'invalid_query', 'invalid_next', 'invalid_capacity', 'unavailable', 'not_found']) {
      assert.ok(isKnownCode(code), code);
    }
  });

  it('says a removed member can come back only if the host lets them', () => {
    for (const code of ['banned', 'kicked']) {
      assert.equal(describeError(code).message, 'You can join again only if the host lets you back in.');
    }
  });

  it('counts a rate limit down', () => {
    assert.equal(describeError('rate_limited', { retryAfterS: 12 }).message, 'Try again in 12 seconds.');
    assert.equal(rateLimitMessage(0.2), 'Try again in 1 second.');
    assert.equal(rateLimitMessage(-1), 'You can try again now.');
  });

  it('falls back to the server message for codes it does not know', () => {
    const words = describeError('brand_new_code', { fallback: 'the server said so' });
    assert.equal(words.message, 'the server said so');
  });
});

describe('session model', async () => {
  const { SessionModel, normalizeDevices } = await import('../../web/assets/js/session-state.js');
  const track = (id) => ({ id, uri: `spotify:track:${id}`, name: `Song ${id}`, artists: ['A'], album: 'X', image_url: null, duration_ms: 200_000 });
  const welcome = () => ({
    type: 'welcome', seq: 41, recovered: false,
    you: { id: 'bob', display_name: 'Bob', role: 'guest' },
    session: {
      id: 's1', state: 'playing', host: 'alice', invite_code: 'c', join_url: 'http://x/j/c',
      members: [{ id: 'alice', display_name: 'Alice', role: 'host', online: true }, { id: 'bob', display_name: 'Bob', role: 'guest', online: true }],
      queue: [{ track: track('t1'), added_by: ['alice'] }, { track: track('t2'), added_by: ['bob', 'alice'] }],
      position: 0, device: 'd1',
    },
    playback: null,
    spotify: { state: 'ok', message: 'connected to Spotify' },
  });

  it('rebuilds everything from a welcome and shows the queue entry until playback is known', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome(), 0, 0);
    assert.equal(m.isHost(), false);
    assert.equal(m.session.hostId, 'alice');
    assert.equal(m.nowPlaying().track.id, 't1');
    assert.equal(m.nowPlaying().isPlaying, false);
    assert.equal(m.spotify, null);
  });

  it('follows playback to the reported queue entry and names who brought it', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome(), 0, 0);
    const r = m.applyEvent({ type: 'playback', seq: 42, track: track('t2'), is_playing: true, progress_ms: 1000, server_time_ms: 0, device: { id: 'd1', name: 'Mac' }, added_by: ['bob', 'alice'], position: 1 }, 0, 0);
    assert.deepEqual(r.parts, ['all']);
    assert.equal(m.currentIndex(), 1);
    const np = m.nowPlaying();
    assert.equal(np.track.id, 't2');
    assert.equal(np.isPlaying, true);
    assert.equal(m.possessive(np.addedBy), 'you & Alice’s');
  });

  it('names the first members who brought a track and counts the rest', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome(), 0, 0);
    m.applyEvent({ type: 'playback', seq: 42, track: track('t2'), is_playing: true, progress_ms: 0, server_time_ms: 0, device: null, added_by: ['alice', 'bob'], added_by_count: 70, position: 1 }, 0, 0);
    const np = m.nowPlaying();
    assert.deepEqual(np.addedBy, ['alice', 'bob']);
    assert.equal(np.addedByCount, 70);
    assert.equal(m.possessive(np.addedBy, np.addedByCount), 'Alice, you & 68 others’');
    assert.equal(m.namesList(['alice'], 2), 'Alice & 1 other');
    // Older servers sent no count: the list is everyone.
    assert.equal(m.namesList(['alice', 'bob']), 'Alice & you');
  });

  it('tracks members, presence and the host role', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome(), 0, 0);
    m.applyEvent({ type: 'member_joined', seq: 42, member: { id: 'carol', display_name: 'Carol', role: 'guest', online: false } }, 0, 0);
    m.applyEvent({ type: 'presence', seq: 43, user_id: 'carol', online: true }, 0, 0);
    assert.deepEqual(m.session.members.map((x) => [x.id, x.online]), [['alice', true], ['bob', true], ['carol', true]]);
    const r = m.applyEvent({ type: 'host_changed', seq: 44, host: 'bob' }, 0, 0);
    assert.equal(r.outcome, 'became_host');
    assert.equal(m.isHost(), true);
    assert.equal(m.session.members.find((x) => x.id === 'alice').role, 'guest');
    m.applyEvent({ type: 'member_left', seq: 45, user_id: 'carol', reason: 'left' }, 0, 0);
    assert.deepEqual(m.session.members.map((x) => x.id), ['alice', 'bob']);
  });

  it('tells the page when the viewer was removed or the session ended', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome(), 0, 0);
    assert.equal(m.applyEvent({ type: 'member_left', seq: 42, user_id: 'bob', reason: 'kicked' }, 0, 0).outcome, 'kicked');
    assert.equal(m.applyEvent({ type: 'session_ended', seq: 43 }, 0, 0).outcome, 'ended');
    assert.equal(m.nowPlaying(), null);
  });

  it('keeps a rate-limit deadline and clears the status on ok', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome(), 0, 0);
    m.applyEvent({ type: 'spotify_status', seq: 42, state: 'rate_limited', retry_after_s: 5, message: 'busy' }, 0, 10_000);
    assert.equal(m.spotify.until, 15_000);
    m.applyEvent({ type: 'spotify_status', seq: 43, state: 'ok', message: 'connected' }, 0, 20_000);
    assert.equal(m.spotify, null);
  });

  it('keeps restricted devices without an id, disabled', () => {
    const devices = normalizeDevices([{ id: 'd1', name: 'Mac', type: 'Computer', is_active: true, is_restricted: false }, { id: null, name: 'TV', type: 'TV', is_active: false, is_restricted: true }]);
    assert.deepEqual(devices.map((d) => [d.key, d.is_restricted]), [['d1', false], ['unknown-1', true]]);
  });
});

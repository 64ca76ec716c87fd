// The session model's header state (paused is not "playing", the session's name), the invite it
// shows the host and the tracks the viewer brought.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionModel } from '../../../web/assets/js/session-state.js';
import { playback, welcome } from './fixtures.js';

describe('header state', () => {
  it('says paused while the session plays but its music is paused', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome({ state: 'lobby', queue: [], queue_length: 0 }), 0, 0);
    assert.equal(m.displayState(), 'lobby');
    m.applyWelcome(welcome(), 0, 0);
    m.applyEvent(playback(0, 42), 0, 0);
    assert.equal(m.displayState(), 'playing');
    m.applyEvent({ ...playback(0, 43), is_playing: false }, 0, 0);
    assert.equal(m.displayState(), 'paused');
    m.applyEvent({ type: 'session_ended', seq: 44 }, 0, 0);
    assert.equal(m.displayState(), 'ended');
  });

  it('says paused before the player was observed, as the now-playing card does', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome(), 0, 0);
    assert.equal(m.nowPlaying().isPlaying, false);
    assert.equal(m.displayState(), 'paused');
  });
});

describe('guest permissions', () => {
  it('come with the snapshot and with settings_changed (show_invite decides the guest’s invite card)', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome({ settings: { capacity: 50, shuffle_mode: 'fair', guest_permissions: ['chat', 'show_invite'] } }), 0, 0);
    assert.deepEqual(m.session.guestPermissions, ['chat', 'show_invite']);
    m.applyEvent({ type: 'settings_changed', seq: 42, settings: { capacity: 50, shuffle_mode: 'fair', guest_permissions: ['chat'] } }, 0, 0);
    assert.deepEqual(m.session.guestPermissions, ['chat']);
  });
});

describe('session name', () => {
  it('takes the name of the snapshot and of settings_changed, and keeps it over a frame without settings', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome({ settings: { capacity: 50, shuffle_mode: 'fair', name: 'Garden party' } }), 0, 0);
    assert.equal(m.session.name, 'Garden party');
    const r = m.applyEvent({ type: 'settings_changed', seq: 42, settings: { capacity: 50, shuffle_mode: 'fair', name: 'Friday' } }, 0, 0);
    // The header shows the name; the invite card, the search, the votes and the vote to skip
    // depend on what guests may do; the host's forms show the queue's rules and the guest controls.
    assert.deepEqual(r.parts, ['head', 'invite', 'queue', 'search', 'skip', 'queueSettings', 'guestControls', 'chat']);
    assert.equal(m.session.name, 'Friday');
    m.applyEvent({ type: 'settings_changed', seq: 43, settings: { capacity: 50, shuffle_mode: 'fair', name: null } }, 0, 0);
    assert.equal(m.session.name, null);
    m.applyWelcome(welcome({ settings: { capacity: 50, shuffle_mode: 'fair' } }), 0, 0);
    assert.equal(m.session.name, null);
  });

  it('lists the tracks the viewer brought, and none from a server that sends none', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome({ state: 'lobby', your_tracks: [{ id: 'b1', name: 'Song b1' }] }), 0, 0);
    assert.deepEqual(m.session.yourTracks.map((t) => t.id), ['b1']);
    m.applyWelcome(welcome(), 0, 0);
    assert.ok(Array.isArray(m.session.yourTracks));
  });
});

describe('invite', () => {
  it('takes the new code and link of invite_rotated', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome(), 0, 0);
    const r = m.applyEvent({ type: 'invite_rotated', seq: 42, invite_code: 'n3w', join_url: 'http://x/j/n3w' }, 0, 0);
    assert.deepEqual(r.parts, ['invite']);
    assert.deepEqual([m.session.invite_code, m.session.join_url], ['n3w', 'http://x/j/n3w']);
  });

  it('takes the host’s own rotate answer and ignores one without a code', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome(), 0, 0);
    m.setInvite({ invite_code: 'n3w', join_url: 'http://x/j/n3w' });
    m.setInvite({});
    assert.deepEqual([m.session.invite_code, m.session.join_url], ['n3w', 'http://x/j/n3w']);
  });
});

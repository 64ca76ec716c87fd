// The session model's header state (paused is not "playing") and the invite it shows the host.

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

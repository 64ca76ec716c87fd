// The player's extras from a `playback` of newer servers (volume, Spotify's shuffle and repeat,
// which device takes volume) and the phone's collapsed queue: what the page shows or hides.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionModel, collapsedRange, playerExtras } from '../../../web/assets/js/session-state.js';
import { playback, track, welcome } from './fixtures.js';

describe('the player’s extras', () => {
  it('offers none to a server that sends none of them', () => {
    const extras = playerExtras(playback(0));
    assert.equal(extras.supported, false);
    assert.equal(extras.canSetVolume, false);
    assert.equal(extras.repeat, 'off');
    assert.equal(playerExtras(null).supported, false);
  });

  it('reads volume, shuffle, repeat and the changes', () => {
    const p = {
      ...playback(0), volume_percent: 64.4, shuffle: true, repeat: 'track', changes: ['seek', 'volume'],
      device: { id: 'd1', name: 'Mac', supports_volume: true },
    };
    assert.deepEqual(playerExtras(p), { supported: true, volume: 64, canSetVolume: true, shuffle: true, repeat: 'track', changes: ['seek', 'volume'] });
  });

  it('hides the volume for a device without volume control, or with no level reported', () => {
    const base = { ...playback(0), repeat: 'off', shuffle: false, changes: [] };
    assert.equal(playerExtras({ ...base, volume_percent: 50, device: { id: 'd2', name: 'Phone', supports_volume: false } }).canSetVolume, false);
    assert.equal(playerExtras({ ...base, volume_percent: null, device: { id: 'd1', name: 'Mac', supports_volume: true } }).canSetVolume, false);
    assert.equal(playerExtras({ ...base, volume_percent: 150, device: { id: 'd1', name: 'Mac', supports_volume: true } }).volume, 100);
  });

  it('treats an unknown repeat state as off', () => {
    assert.equal(playerExtras({ ...playback(0), repeat: 'sometimes' }).repeat, 'off');
    assert.equal(playerExtras({ ...playback(0), repeat: 'context' }).repeat, 'context');
  });
});

describe('the phone’s collapsed queue', () => {
  it('shows the current entry and the next five', () => {
    assert.deepEqual(collapsedRange(25, 3), { from: 3, to: 9 });
    assert.deepEqual(collapsedRange(25, 22), { from: 22, to: 25 });
  });

  it('needs no collapsing when everything fits', () => {
    assert.equal(collapsedRange(6, 0), null);
    assert.equal(collapsedRange(0, 0), null);
    assert.deepEqual(collapsedRange(7, 0), { from: 0, to: 6 });
  });

  it('starts at the beginning when nothing of the queue plays', () => {
    assert.deepEqual(collapsedRange(10, -1), { from: 0, to: 6 });
  });
});

describe('a take-over as a guest sees it', () => {
  it('shows the party’s track on hold, not what the host plays privately', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome({ position: 1 }), 0, 0);
    m.applyEvent({ type: 'playback', seq: 42, track: track('private'), is_playing: true, progress_ms: 5000, server_time_ms: 0, device: { id: 'd1', name: 'Mac' }, added_by: [], position: null }, 0, 0);
    assert.equal(m.nowPlaying().track.id, 'private', 'before the server calls it a take-over');
    m.applyEvent({ type: 'spotify_status', seq: 43, state: 'host_took_over', message: 'the host is playing something else in Spotify' }, 0, 0);
    const np = m.nowPlaying();
    assert.equal(np.track.id, 't1');
    assert.equal(np.isPlaying, false);
    assert.equal(np.fromPlayback, false);
    assert.equal(m.displayState(), 'paused');
    // The host sees what they play.
    m.you.role = 'host';
    m.session.hostId = 'bob';
    assert.equal(m.nowPlaying().track.id, 'private');
  });
});

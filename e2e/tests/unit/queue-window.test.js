// The session model with a long queue sent as a window (`queue_offset`, `queue_length`).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionModel } from '../../../web/assets/js/session-state.js';
import { entries, playback, welcome } from './fixtures.js';

/** Bob's model after a welcome holding entries 40…139 of a 1000-entry queue, playing 50. */
function bigQueue() {
  const m = new SessionModel('s1');
  m.applyWelcome(welcome({ queue: entries(40, 140), queue_offset: 40, queue_length: 1000, position: 50 }), 0, 0);
  return m;
}

describe('queue window', () => {
  it('keeps the offset and the whole length, and finds the current entry in the window', () => {
    const m = bigQueue();
    assert.equal(m.session.queueOffset, 40);
    assert.equal(m.session.queueLength, 1000);
    assert.equal(m.session.queue.length, 100);
    assert.equal(m.currentIndex(), 50);
    assert.equal(m.entryAt(50).track.id, 't50');
    assert.equal(m.entryAt(39), undefined);
    assert.equal(m.entryAt(140), undefined);
    assert.equal(m.nowPlaying().track.id, 't50');
    assert.equal(m.queueAfterWindow(), 860);
  });

  it('moves the highlight with playback positions beyond the window length', () => {
    const m = bigQueue();
    m.applyEvent(playback(120), 0, 0);
    assert.equal(m.session.position, 120);
    assert.equal(m.currentIndex(), 120);
    assert.equal(m.nowPlaying().addedBy[0], 'alice');
    assert.equal(m.windowMiss(100), null, 'still inside the window');
  });

  it('replaces the window from a queue event', () => {
    const m = bigQueue();
    const r = m.applyEvent({ type: 'queue', seq: 51, queue: entries(121, 221), queue_offset: 121, queue_length: 1000, position: 131 }, 0, 0);
    assert.deepEqual(r.parts, ['all']);
    assert.equal(m.session.queueOffset, 121);
    assert.equal(m.session.position, 131);
    assert.equal(m.entryAt(131).track.id, 't131');
    assert.equal(m.queueAfterWindow(), 779);
  });

  it('takes the window of session_started and of the start answer', () => {
    const lobby = () => {
      const m = new SessionModel('s1');
      m.applyWelcome(welcome({ state: 'lobby', queue: [], queue_offset: 0, queue_length: 0, position: 0 }), 0, 0);
      return m;
    };
    const m = lobby();
    m.applyEvent({ type: 'session_started', seq: 42, queue: entries(0, 100), queue_offset: 0, queue_length: 250, position: 0, device: 'd1' }, 0, 0);
    assert.equal(m.session.state, 'playing');
    assert.equal(m.session.queueLength, 250);
    assert.equal(m.queueAfterWindow(), 150);

    const n = lobby();
    assert.equal(n.applyStartAnswer({ queue: entries(0, 100), queue_offset: 0, queue_length: 250, position: 0 }, { id: 'd1', name: 'Mac' }), true);
    assert.equal(n.session.queueLength, 250);
    assert.equal(n.session.device.name, 'Mac');
    assert.equal(n.applyStartAnswer({ queue: entries(0, 100), queue_offset: 0, queue_length: 250, position: 0 }), false, 'already playing');
  });

  it('never takes the window for the whole queue, and treats a server without the fields as whole', () => {
    const m = new SessionModel('s1');
    const w = welcome({ queue: entries(0, 3), position: 1 });
    delete w.session.queue_offset;
    delete w.session.queue_length;
    m.applyWelcome(w, 0, 0);
    assert.equal(m.session.queueOffset, 0);
    assert.equal(m.session.queueLength, 3);
    assert.equal(m.queueAfterWindow(), 0);
    assert.equal(m.nextQueuePage(100), null);
    // A position past the window is accepted while it is inside the whole queue, not beyond.
    const big = bigQueue();
    big.applyEvent(playback(999), 0, 0);
    assert.equal(big.session.position, 999);
    big.applyEvent({ ...playback(1000), track: null }, 0, 0);
    assert.equal(big.session.position, 999);
  });

  it('appends the next page for "Show more" and drops a page that no longer fits', () => {
    const m = bigQueue();
    assert.deepEqual(m.nextQueuePage(100), { offset: 140, limit: 100 });
    assert.equal(m.appendQueuePage({ items: entries(140, 240), offset: 140, total: 1000 }), true);
    assert.equal(m.session.queue.length, 200);
    assert.equal(m.entryAt(239).track.id, 't239');
    assert.equal(m.queueAfterWindow(), 760);
    // A page asked for before a queue event moved the window is stale.
    m.applyEvent({ type: 'queue', seq: 51, queue: entries(500, 600), queue_offset: 500, queue_length: 1000, position: 510 }, 0, 0);
    assert.equal(m.appendQueuePage({ items: entries(240, 340), offset: 240, total: 1000 }), false);
    assert.equal(m.session.queue.length, 100);
    // The last page asks only for what is left.
    m.applyEvent({ type: 'queue', seq: 52, queue: entries(900, 990), queue_offset: 900, queue_length: 1000, position: 910 }, 0, 0);
    assert.deepEqual(m.nextQueuePage(100), { offset: 990, limit: 10 });
    assert.equal(m.appendQueuePage({ items: entries(990, 1000), offset: 990, total: 1000 }), true);
    assert.equal(m.nextQueuePage(100), null);
  });

  it('asks for the window around a now-playing entry outside the one it holds, placed like the server places it', () => {
    const m = bigQueue();
    m.applyEvent(playback(300), 0, 0);
    assert.equal(m.currentIndex(), 300, 'the server position is trusted outside the window');
    assert.equal(m.nowPlaying().track.id, 't300');
    assert.deepEqual(m.windowMiss(100), { offset: 290, limit: 100 });
    // Near the end the window is clamped to the end of the queue.
    m.applyEvent(playback(995), 0, 0);
    assert.deepEqual(m.windowMiss(100), { offset: 900, limit: 100 });
    // Before the window.
    m.applyEvent(playback(3), 0, 0);
    assert.deepEqual(m.windowMiss(100), { offset: 0, limit: 100 });
    // A stale page (the track moved on while it loaded) is dropped; a fitting one replaces the window.
    assert.equal(m.replaceQueueWindow({ items: entries(290, 390), offset: 290, total: 1000 }), false);
    assert.equal(m.replaceQueueWindow({ items: entries(0, 100), offset: 0, total: 1000 }), true);
    assert.equal(m.session.queueOffset, 0);
    assert.equal(m.windowMiss(100), null);
    assert.equal(m.currentIndex(), 3);
  });

  it('asks for a window as long as the server sends, not as long as "Show more" made it', () => {
    const m = bigQueue();
    m.appendQueuePage({ items: entries(140, 240), offset: 140, total: 1000 });
    m.applyEvent(playback(700), 0, 0);
    assert.deepEqual(m.windowMiss(), { offset: 690, limit: 100 });
  });

  it('asks for nothing in the lobby, with a whole queue, or while something else plays', () => {
    const lobby = new SessionModel('s1');
    lobby.applyWelcome(welcome({ state: 'lobby', queue: [], queue_length: 0 }), 0, 0);
    assert.equal(lobby.windowMiss(100), null);
    const small = new SessionModel('s1');
    small.applyWelcome(welcome(), 0, 0);
    small.applyEvent(playback(2), 0, 0);
    assert.equal(small.windowMiss(100), null);
    const other = bigQueue();
    other.applyEvent({ ...playback(0), track: { id: 'elsewhere', name: 'Podcast' }, position: null }, 0, 0);
    assert.equal(other.currentIndex(), -1);
    assert.equal(other.windowMiss(100), null);
  });
});

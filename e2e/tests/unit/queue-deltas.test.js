// The collaborative queue in the session model (issue 17): the entry deltas applied to the
// window the page holds (whole-queue indexes; the window's offset and length kept right for
// changes outside it), the viewer's own votes, the vote to skip, who may do what, the queue
// settings and a pasted Spotify link.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionModel } from '../../../web/assets/js/session-state.js';
import { parseTrackLink } from '../../../web/assets/js/queue-state.js';
import { added, entries, member, playback, welcome } from './fixtures.js';

/** Bob's model of a whole 10-entry queue playing entry 2. */
function small(session = {}) {
  const m = new SessionModel('s1');
  m.applyWelcome(welcome({ queue: entries(0, 10), queue_offset: 0, queue_length: 10, position: 2, ...session }), 0, 0);
  m.applyEvent(playback(2, 42), 0, 0);
  return m;
}

/** Bob's model holding entries 40…139 of a 1000-entry queue, playing 50. */
function big() {
  const m = new SessionModel('s1');
  m.applyWelcome(welcome({ queue: entries(40, 140), queue_offset: 40, queue_length: 1000, position: 50 }), 0, 0);
  m.applyEvent(playback(50, 42), 0, 0);
  return m;
}

const ids = (m) => m.session.queue.map((e) => e.id);
const frame = (type, fields) => ({ type, seq: 60, ...fields });

describe('entry_added', () => {
  it('inserts at the whole-queue index inside the window; later entries shift up', () => {
    const m = small();
    const r = m.applyEvent(frame('entry_added', { entry: added(100, 'carol'), index: 4 }), 0, 0);
    assert.deepEqual(r.parts, ['queue']);
    assert.deepEqual(ids(m), [0, 1, 2, 3, 100, 4, 5, 6, 7, 8, 9]);
    assert.equal(m.session.queueLength, 11);
    assert.equal(m.currentIndex(), 2, 'the playing entry stays');
    assert.equal(m.entryAt(5).id, 4);
  });

  it('appends at the end of a window that reaches the end of the queue', () => {
    const m = small();
    m.applyEvent(frame('entry_added', { entry: added(100, 'carol'), index: 10 }), 0, 0);
    assert.equal(ids(m).at(-1), 100);
    assert.equal(m.session.queueLength, 11);
    assert.equal(m.queueAfterWindow(), 0);
  });

  it('counts an entry after the window without holding it', () => {
    const m = big();
    m.applyEvent(frame('entry_added', { entry: added(2000, 'carol'), index: 500 }), 0, 0);
    assert.equal(m.session.queueOffset, 40);
    assert.equal(m.session.queue.length, 100);
    assert.equal(m.session.queueLength, 1001);
    assert.equal(m.queueAfterWindow(), 861);
    assert.deepEqual(m.nextQueuePage(100), { offset: 140, limit: 100 });
  });

  it('moves the window on by one for an entry inserted before it', () => {
    const m = big();
    m.applyEvent(frame('entry_added', { entry: added(2000, 'carol'), index: 10 }), 0, 0);
    assert.equal(m.session.queueOffset, 41);
    assert.equal(m.session.queueLength, 1001);
    assert.equal(m.entryAt(41).id, 40, 'the same entries, one further down');
    assert.equal(m.session.position, 51, 'the playing entry moved with them');
    assert.equal(m.currentIndex(), 51);
    assert.equal(m.nowPlaying().track.id, 't50');
  });

  it('ignores an entry it holds already, and knows the viewer’s own up vote', () => {
    const m = small();
    m.applyEvent(frame('entry_added', { entry: added(100, 'bob'), index: 5 }), 0, 0);
    const again = m.applyEvent(frame('entry_added', { entry: added(100, 'bob'), index: 5 }), 0, 0);
    assert.deepEqual(again.parts, []);
    assert.equal(m.session.queueLength, 11);
    assert.equal(m.myVote(m.entryAt(5)), 1, 'an added entry starts with its adder’s up vote');
    m.applyEvent(frame('entry_added', { entry: added(101, 'carol'), index: 6 }), 0, 0);
    assert.equal(m.myVote(m.entryAt(6)), 0);
  });
});

describe('entry_removed', () => {
  it('takes an entry out of the window; later entries shift down', () => {
    const m = small();
    m.applyEvent(frame('entry_removed', { id: 5 }), 0, 0);
    assert.deepEqual(ids(m), [0, 1, 2, 3, 4, 6, 7, 8, 9]);
    assert.equal(m.session.queueLength, 9);
    assert.equal(m.currentIndex(), 2);
  });

  it('counts an entry after the window out, and ignores one a whole queue does not have', () => {
    const m = big();
    m.applyEvent(frame('entry_removed', { id: 700 }), 0, 0);
    assert.equal(m.session.queueOffset, 40);
    assert.equal(m.session.queueLength, 999);
    assert.equal(m.session.windowStale, false);
    const s = small();
    assert.deepEqual(s.applyEvent(frame('entry_removed', { id: 12345 }), 0, 0).parts, []);
    assert.equal(s.session.queueLength, 10);
  });

  it('clears the committed entry and the viewer’s vote', () => {
    const m = small({ committed_id: 3 });
    assert.equal(m.entryRole(m.entryAt(3), 3), 'committed');
    m.applyEvent(frame('entry_removed', { id: 3 }), 0, 0);
    assert.equal(m.session.committedId, null);
  });

  it('asks for the window again when it cannot tell where a missing entry was', () => {
    // The window starts well after the playing entry (entries 60…159, playing 50).
    const m = new SessionModel('s1');
    m.applyWelcome(welcome({ queue: entries(60, 160), queue_offset: 60, queue_length: 1000, position: 50 }), 0, 0);
    m.applyEvent(frame('entry_removed', { id: 55 }), 0, 0);
    assert.equal(m.session.windowStale, true);
    assert.equal(m.session.queueLength, 999);
    const request = m.staleWindowPage();
    assert.deepEqual({ offset: request.offset, limit: request.limit }, { offset: 60, limit: 100 });
    // A page fetched before another change is old: dropped, and asked for again.
    m.applyEvent(frame('entry_votes', { id: 70, votes: 3 }), 0, 0);
    m.applyEvent(frame('entry_added', { entry: added(2000, 'carol'), index: 900 }), 0, 0);
    assert.equal(m.replaceStaleWindow(request, { items: entries(59, 159), offset: 59, total: 999 }), false);
    const again = m.staleWindowPage();
    assert.equal(m.replaceStaleWindow(again, { items: entries(59, 159), offset: 59, total: 1000 }), true);
    assert.equal(m.session.windowStale, false);
    assert.equal(m.session.queueOffset, 59);
    assert.equal(m.staleWindowPage(), null);
  });
});

describe('entry_moved', () => {
  it('moves an entry within the window (the index counts the list without it)', () => {
    const m = small();
    m.applyEvent(frame('entry_moved', { id: 8, index: 3 }), 0, 0);
    assert.deepEqual(ids(m), [0, 1, 2, 8, 3, 4, 5, 6, 7, 9]);
    m.applyEvent(frame('entry_moved', { id: 8, index: 9 }), 0, 0);
    assert.deepEqual(ids(m), [0, 1, 2, 3, 4, 5, 6, 7, 9, 8]);
    assert.equal(m.session.queueLength, 10);
    assert.equal(m.currentIndex(), 2);
  });

  it('lets an entry leave the window for a place after it', () => {
    const m = big();
    m.applyEvent(frame('entry_moved', { id: 60, index: 800 }), 0, 0);
    assert.equal(m.session.queue.length, 99);
    assert.equal(m.session.queueOffset, 40);
    assert.equal(m.session.queueLength, 1000);
    assert.equal(m.entryAt(60).id, 61);
    assert.equal(m.session.windowStale, false);
  });

  it('changes nothing for a move after the window, and asks for the window when one comes into it', () => {
    const m = big();
    assert.deepEqual(m.applyEvent(frame('entry_moved', { id: 700, index: 300 }), 0, 0).parts, []);
    assert.equal(m.session.windowStale, false);
    const r = m.applyEvent(frame('entry_moved', { id: 700, index: 60 }), 0, 0);
    assert.deepEqual(r.parts, ['queue']);
    assert.equal(m.session.windowStale, true, 'the window lacks the entry that came in');
    assert.equal(m.session.queueLength, 1000);
  });
});

describe('votes', () => {
  it('shows the net votes of entry_votes for entries the window holds', () => {
    const m = small();
    assert.deepEqual(m.applyEvent(frame('entry_votes', { id: 5, votes: 3 }), 0, 0).parts, ['queue']);
    assert.equal(m.entryAt(5).votes, 3);
    const b = big();
    assert.deepEqual(b.applyEvent(frame('entry_votes', { id: 900, votes: 3 }), 0, 0).parts, []);
  });

  it('keeps the viewer’s own votes of the snapshot over broadcast windows, which carry none', () => {
    const m = new SessionModel('s1');
    const queue = entries(0, 5).map((e) => ({ ...e, your_vote: e.id === 3 ? -1 : 0 }));
    m.applyWelcome(welcome({ queue, queue_length: 5, position: 0 }), 0, 0);
    assert.equal(m.myVote(m.entryAt(3)), -1);
    m.applyEvent(frame('queue', { queue: entries(0, 5).reverse(), queue_offset: 0, queue_length: 5, position: 0 }), 0, 0);
    assert.equal(m.myVote(m.session.queue.find((e) => e.id === 3)), -1);
  });

  it('shows a vote at once, settles it with the answer and reverts it when refused', () => {
    const m = small();
    const token = m.beginVote(5, 1);
    assert.equal(m.myVote(m.entryAt(5)), 1);
    assert.equal(m.entryAt(5).votes, 1);
    m.settleVote(token, { id: 5, votes: 4, your_vote: 1 });
    assert.equal(m.entryAt(5).votes, 4);
    // Pressing the pressed one withdraws it (0), here refused: back to +1 and 4.
    const withdraw = m.beginVote(5, 0);
    assert.equal(m.entryAt(5).votes, 3);
    m.revertVote(withdraw);
    assert.equal(m.myVote(m.entryAt(5)), 1);
    assert.equal(m.entryAt(5).votes, 4);
    // Up to down moves the count by two.
    m.beginVote(5, -1);
    assert.equal(m.entryAt(5).votes, 2);
  });

  it('does not let an answer older than an entry_votes undo the count', () => {
    const m = small();
    const token = m.beginVote(5, 1);
    m.applyEvent(frame('entry_votes', { id: 5, votes: 7 }), 0, 0);
    m.settleVote(token, { id: 5, votes: 1, your_vote: 1 });
    assert.equal(m.entryAt(5).votes, 7);
    const refused = m.beginVote(6, -1);
    m.applyEvent(frame('entry_votes', { id: 6, votes: 2 }), 0, 0);
    m.revertVote(refused);
    assert.equal(m.entryAt(6).votes, 2);
    assert.equal(m.myVote(m.entryAt(6)), 0);
  });
});

describe('the committed entry and the vote to skip', () => {
  it('pins the committed entry: no votes, as for the playing and played ones', () => {
    const m = small({ settings: { guest_permissions: ['vote'] } });
    assert.deepEqual(m.applyEvent(frame('entry_committed', { id: 3 }), 0, 0).parts, ['queue']);
    assert.deepEqual([1, 2, 3, 4].map((i) => m.entryRole(m.entryAt(i), i)), ['played', 'playing', 'committed', 'upcoming']);
    assert.deepEqual([1, 2, 3, 4].map((i) => m.canVoteOn(m.entryAt(i), i)), [false, false, false, true]);
  });

  it('counts skip votes and keeps the viewer’s own only while the same entry plays', () => {
    const m = small({ skip: { entry_id: 2, votes: 1, needed: 2, you_voted: true } });
    assert.deepEqual(m.skipState(), { votes: 1, needed: 2, youVoted: true });
    assert.deepEqual(m.applyEvent(frame('skip_votes', { entry_id: 2, votes: 1, needed: 3 }), 0, 0).parts, ['skip']);
    assert.deepEqual(m.skipState(), { votes: 1, needed: 3, youVoted: true });
    // The next track plays: the old count is not its count.
    m.applyEvent(playback(3, 43), 0, 0);
    assert.deepEqual(m.skipState(), { votes: 0, needed: 3, youVoted: false });
    m.applyEvent(frame('skip_votes', { entry_id: 3, votes: 1, needed: 3 }), 0, 0);
    assert.equal(m.skipState().youVoted, false);
  });

  it('toggles the viewer’s skip vote at once and settles or reverts it', () => {
    const m = small({ skip: { entry_id: 2, votes: 0, needed: 2, you_voted: false } });
    const token = m.beginSkipVote();
    assert.deepEqual(m.skipState(), { votes: 1, needed: 2, youVoted: true });
    m.settleSkipVote(token, { entry_id: 2, votes: 1, needed: 2, you_voted: true, skipped: false });
    assert.deepEqual(m.skipState(), { votes: 1, needed: 2, youVoted: true });
    const undo = m.beginSkipVote();
    assert.deepEqual(m.skipState(), { votes: 0, needed: 2, youVoted: false });
    m.revertSkipVote(undo);
    assert.deepEqual(m.skipState(), { votes: 1, needed: 2, youVoted: true });
  });
});

describe('who may do what', () => {
  it('offers adding to guests allowed to add, unless the host locked it, and always to moderators', () => {
    const m = small({ settings: { guest_permissions: ['add_tracks', 'vote', 'vote_skip'] } });
    assert.equal(m.canAdd(), true);
    m.applyEvent(frame('settings_changed', { settings: { guest_permissions: ['add_tracks'], adding_locked: true } }), 0, 0);
    assert.equal(m.canAdd(), false);
    assert.equal(m.session.queueSettings.addingLocked, true);
    const r = m.applyEvent(frame('role_changed', { user_id: 'bob', role: 'co_host' }), 0, 0);
    assert.deepEqual(r.parts, ['all']);
    assert.equal(m.isModerator(), true);
    assert.equal(m.canAdd(), true);
    m.applyEvent(frame('settings_changed', { settings: { guest_permissions: [] } }), 0, 0);
    assert.equal(m.canAdd(), true, 'a co-host needs no permission');
    m.applyEvent(frame('role_changed', { user_id: 'bob', role: 'guest' }), 0, 0);
    assert.equal(m.canAdd(), false);
    const lobby = new SessionModel('s1');
    lobby.applyWelcome(welcome({ state: 'lobby', queue: [], queue_length: 0, settings: { guest_permissions: ['add_tracks'] } }), 0, 0);
    assert.equal(lobby.canAdd(), false, 'adding waits for the music');
  });

  it('lets the adder remove their own added entries and moderators any entry still to come', () => {
    const m = small({ settings: { guest_permissions: ['add_tracks', 'vote'] } });
    m.applyEvent(frame('entry_added', { entry: added(100, 'bob'), index: 4 }), 0, 0);
    m.applyEvent(frame('entry_added', { entry: added(101, 'carol'), index: 5 }), 0, 0);
    assert.equal(m.canRemove(m.entryAt(4), 4), true, 'bob added it');
    assert.equal(m.canRemove(m.entryAt(5), 5), false, 'carol added it');
    assert.equal(m.canRemove(m.entryAt(6), 6), false, 'from alice’s top tracks');
    assert.equal(m.canBan(m.entryAt(4), 4), false);
    const host = new SessionModel('s1');
    const w = welcome({ queue: entries(0, 10), queue_length: 10, position: 2 });
    w.you = { id: 'alice', display_name: 'Alice', role: 'host' };
    host.applyWelcome(w, 0, 0);
    assert.deepEqual([1, 2, 3, 9].map((i) => host.canRemove(host.entryAt(i), i)), [false, false, true, true]);
    assert.deepEqual([1, 2, 3].map((i) => host.canBan(host.entryAt(i), i)), [false, false, true]);
  });

  it('lets moderators and the adder of the playing entry skip outright; others vote to skip', () => {
    const m = small({ settings: { guest_permissions: ['vote_skip'] } });
    assert.equal(m.canSkipDirectly(), false);
    assert.equal(m.canVoteSkip(), true);
    m.applyEvent(frame('entry_added', { entry: added(100, 'bob'), index: 3 }), 0, 0);
    m.applyEvent({ ...playback(3, 44), track: m.entryAt(3).track, added_by: ['bob'] }, 0, 0);
    assert.equal(m.playingEntry().id, 100);
    assert.equal(m.canSkipDirectly(), true, 'bob added the playing entry');
    assert.equal(m.canVoteSkip(), false);
    const noVote = small({ settings: { guest_permissions: [] } });
    assert.equal(noVote.canVoteSkip(), false);
    assert.equal(noVote.canVoteOn(noVote.entryAt(5), 5), false);
  });

  it('keeps co-hosts across a host hand-over', () => {
    const m = small({ members: [member('alice'), member('bob'), member('carol', { role: 'co_host' })] });
    m.applyEvent(frame('host_changed', { host: 'bob' }), 0, 0);
    assert.deepEqual(m.session.members.map((x) => x.role), ['guest', 'host', 'co_host']);
    assert.equal(m.isHost(), true);
  });
});

describe('search helpers', () => {
  it('finds a track already in the queue from the playing entry on', () => {
    const m = small({ committed_id: 3 });
    assert.equal(m.queuedEntryOf('t1'), null, 'played: not in the queue any more');
    assert.deepEqual([2, 3, 6].map((i) => m.queuedEntryOf(`t${i}`).role), ['playing', 'committed', 'upcoming']);
    assert.equal(m.queuedEntryOf('t6').index, 6);
    assert.equal(m.queuedEntryOf('nope'), null);
  });

  it('reads the queue settings of the snapshot, settings_changed and track_banned', () => {
    const m = small();
    assert.deepEqual(m.session.queueSettings, { order: 'fair', maxQueuedPerMember: 3, maxTrackMs: 600_000, noReplayPlays: 20, addingLocked: false, bannedTracks: [] });
    m.applyEvent(frame('settings_changed', { settings: { queue_order: 'votes', max_queued_per_member: 5, max_track_ms: 420_000, no_replay_plays: 0, adding_locked: false, banned_tracks: ['x'] } }), 0, 0);
    assert.deepEqual(m.session.queueSettings, { order: 'votes', maxQueuedPerMember: 5, maxTrackMs: 420_000, noReplayPlays: 0, addingLocked: false, bannedTracks: ['x'] });
    m.applyEvent(frame('track_banned', { track_id: 't7' }), 0, 0);
    assert.equal(m.isBannedTrack('t7'), true);
    // The snapshot lists them beside the settings.
    const n = small({ banned_tracks: ['t9'] });
    assert.equal(n.isBannedTrack('t9'), true);
    n.applyEvent(frame('settings_changed', { settings: { queue_order: 'fair' } }), 0, 0);
    assert.equal(n.isBannedTrack('t9'), true, 'settings without the list keep it');
  });

  it('reads a pasted Spotify track link or URI, and nothing else', () => {
    const id = '4uLU6hMCjMI75M1A2tKUQC';
    for (const text of [`spotify:track:${id}`, `https://open.spotify.com/track/${id}`, ` https://open.spotify.com/track/${id}?si=abc123 `,
      `https://open.spotify.com/intl-de/track/${id}`]) {
      assert.deepEqual(parseTrackLink(text), { id, uri: `spotify:track:${id}` }, text);
    }
    for (const text of ['golden harbor', `https://open.spotify.com/album/${id}`, `https://example.com/track/${id}`, 'spotify:track:short',
      `spotify:album:${id}`, `https://open.spotify.com/track/${id}/extra`, '']) {
      assert.equal(parseTrackLink(text), null, text);
    }
  });
});

// Seats and spectators: the join page's words about Spotify seats, the spectator's default name
// and its check, the `?login=` outcomes, the owner's "seen … ago", the messages of the new error
// codes, and what the session model lets a spectator do (what guests may, as far as the
// spectators' two switches open it; never playback).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkDisplayName, defaultSpectatorName, lastSeenText, loginOutcome, normalizeSeats, seatsLeft, seatsSentence,
  seatsUsedTitle, withoutLoginOutcome,
} from '../../../web/assets/js/seats.js';
import { describeError, isKnownCode } from '../../../web/assets/js/messages.js';
import { SessionModel } from '../../../web/assets/js/session-state.js';
import { added, member, welcome } from './fixtures.js';

describe('seats', () => {
  it('says how many Spotify seats are left', () => {
    assert.equal(seatsSentence(normalizeSeats({ limit: 5, used: 3, left: 2 })), '2 of 5 Spotify seats left');
    assert.equal(seatsSentence(normalizeSeats({ limit: 5, used: 4, left: 1 })), '1 of 5 Spotify seats left');
    assert.equal(seatsSentence(normalizeSeats({ limit: 1, used: 0, left: 1 })), '1 of 1 Spotify seat left');
    assert.equal(seatsSentence(normalizeSeats({ limit: 5, used: 5, left: 0 })), 'No Spotify seats left');
  });

  it('says nothing without a limit or without seats in the preview', () => {
    assert.equal(seatsSentence(normalizeSeats({ limit: 0, used: 7, left: null })), null);
    assert.equal(seatsSentence(normalizeSeats(undefined)), null);
    assert.equal(normalizeSeats({ limit: 'five' }), null);
  });

  it('knows when logging in can still get a seat', () => {
    assert.equal(seatsLeft(normalizeSeats({ limit: 5, used: 5, left: 0 })), false);
    assert.equal(seatsLeft(normalizeSeats({ limit: 5, used: 4, left: 1 })), true);
    assert.equal(seatsLeft(normalizeSeats({ limit: 0, used: 9, left: null })), true);
    assert.equal(seatsLeft(null), true, 'a server that counts no seats: log in as before');
    // `left` missing: worked out from the limit, never negative.
    assert.deepEqual(normalizeSeats({ limit: 5, used: 6 }), { limit: 5, used: 6, left: 0 });
  });

  it('titles the owner\'s card with the seats used', () => {
    assert.equal(seatsUsedTitle(5, 3), 'Spotify seats: 3/5 used');
    assert.equal(seatsUsedTitle(0, 3), 'Spotify seats: 3 used');
  });

  it('says when the owner last saw a seat\'s holder', () => {
    const now = 1_800_000_000_000;
    assert.equal(lastSeenText(now - 20_000, now), 'seen just now');
    assert.equal(lastSeenText(now - 60_000, now), 'seen 1 minute ago');
    assert.equal(lastSeenText(now - 5 * 60_000, now), 'seen 5 minutes ago');
    assert.equal(lastSeenText(now - 3 * 3_600_000, now), 'seen 3 hours ago');
    assert.equal(lastSeenText(now - 30 * 3_600_000, now), 'seen yesterday');
    assert.equal(lastSeenText(now - 4 * 86_400_000, now), 'seen 4 days ago');
    assert.equal(lastSeenText(null, now), 'not seen yet');
    assert.equal(lastSeenText(now + 5_000, now), 'seen just now', 'a clock a little ahead is "now"');
  });
});

describe('the spectator\'s name', () => {
  it('starts from a friendly default with four digits', () => {
    assert.equal(defaultSpectatorName(() => 0), 'Guest 1000');
    assert.equal(defaultSpectatorName(() => 0.4242), 'Guest 4817');
    assert.equal(defaultSpectatorName(() => 0.99999), 'Guest 9999');
    for (let i = 0; i < 50; i += 1) assert.match(defaultSpectatorName(), /^Guest [1-9]\d{3}$/);
  });

  it('takes 1 to 40 characters once trimmed, an emoji counting as one', () => {
    assert.deepEqual(checkDisplayName('  Sam  '), { name: 'Sam' });
    assert.ok(checkDisplayName('   ').error);
    assert.ok(checkDisplayName('').error);
    assert.deepEqual(checkDisplayName('x'.repeat(40)), { name: 'x'.repeat(40) });
    assert.match(checkDisplayName('x'.repeat(41)).error, /at most 40/);
    assert.deepEqual(checkDisplayName('🎧'.repeat(40)), { name: '🎧'.repeat(40) });
  });
});

describe('the login\'s outcome on the join page', () => {
  it('reads ?login= and nothing else', () => {
    assert.equal(loginOutcome('?login=not_registered'), 'not_registered');
    assert.equal(loginOutcome('?login=no_seats&x=1'), 'no_seats');
    assert.equal(loginOutcome('?login=expired'), 'expired');
    assert.equal(loginOutcome('?login=<script>'), null);
    assert.equal(loginOutcome(''), null);
    assert.equal(withoutLoginOutcome('?login=expired&x=1'), '?x=1');
    assert.equal(withoutLoginOutcome('?login=expired'), '');
  });

  it('explains each outcome in its own words: the allow-list only when Spotify said so', () => {
    for (const code of ['not_registered', 'no_seats', 'login_expired', 'invalid_display_name', 'already_logged_in']) {
      assert.ok(isKnownCode(code), code);
    }
    assert.match(describeError('not_registered').message, /User Management/);
    assert.match(describeError('not_registered').message, /spectator/);
    assert.match(describeError('no_seats').message, /spectator/);
    assert.doesNotMatch(describeError('login_expired').message, /User Management|dashboard/);
    assert.equal(describeError('login_expired').login, true);
  });
});

describe('what a spectator may do', () => {
  const everything = ['add_tracks', 'vote', 'vote_skip', 'skip', 'pause_resume', 'seek', 'volume', 'chat', 'show_invite'];
  const spectatorWelcome = (permissions) => ({
    ...welcome({
      members: [member('alice'), member('bob'), member('sam', { role: 'spectator', display_name: 'Guest 4821' })],
      member_count: 3,
      queue: [...welcome().session.queue, added(3, 'sam')],
      queue_length: 4,
      settings: { capacity: 50, shuffle_mode: 'fair', guest_permissions: permissions },
    }),
    you: { id: 'sam', display_name: 'Guest 4821', role: 'spectator' },
  });

  it('chats and shares the invite as guests do, votes with the spectators\' switch, adds only with theirs', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(spectatorWelcome([...everything, 'spectators_vote']), 0, 0);
    assert.equal(m.isSpectator(), true);
    assert.equal(m.may('chat'), true);
    assert.equal(m.may('show_invite'), true);
    assert.equal(m.may('vote'), true);
    assert.equal(m.may('vote_skip'), true);
    assert.equal(m.may('add_tracks'), false, 'spectators_add is off');
    assert.equal(m.canAdd(), false);

    m.applyEvent({ type: 'settings_changed', seq: 50, settings: { guest_permissions: [...everything, 'spectators_add'] } }, 0, 0);
    assert.equal(m.may('vote'), false, 'spectators_vote went off');
    assert.equal(m.canVoteOn(m.session.queue[2], 2), false);
    assert.equal(m.may('add_tracks'), true);
    assert.equal(m.canAdd(), true);
  });

  it('needs the guests\' switch too, and never steers the player', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(spectatorWelcome(['spectators_vote', 'spectators_add', 'skip', 'pause_resume', 'seek', 'volume']), 0, 0);
    for (const permission of everything) assert.equal(m.may(permission), false, permission);
    // Not even past the track they added.
    m.applyEvent({ type: 'playback', seq: 51, track: added(3, 'sam').track, is_playing: true, progress_ms: 0, server_time_ms: 0, position: 3, added_by: ['sam'] }, 0, 0);
    assert.equal(m.canSkipDirectly(), false);
  });

  it('keeps a guest\'s rights as they were', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome({ settings: { guest_permissions: ['vote', 'skip'] } }), 0, 0);
    assert.equal(m.isSpectator(), false);
    assert.equal(m.may('vote'), true);
    assert.equal(m.may('skip'), true);
    assert.equal(m.may('chat'), false);
  });

  it('knows the viewer is a spectator from the snapshot, before the socket says so', () => {
    const m = new SessionModel('s1');
    const raw = spectatorWelcome(['chat']).session;
    m.loadSnapshot(raw, { id: 'sam', display_name: 'Guest 4821', spectating: 's1', loggedIn: false });
    assert.equal(m.you.role, 'spectator');
    const unlisted = new SessionModel('s1');
    unlisted.loadSnapshot({ ...raw, members: [member('alice')] }, { id: 'sam', display_name: 'Guest 4821', spectating: 's1', loggedIn: false });
    assert.equal(unlisted.you.role, 'spectator', 'a big session may not list the viewer');
  });
});

// The session model's members: counts, "and K more", `members_summary` in big sessions.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionModel } from '../../../web/assets/js/session-state.js';
import { member, welcome } from './fixtures.js';

/** Bob's model in a session of 1000 members (300 online) that lists the first 200. */
function bigRoom() {
  const listed = [member('alice'), member('bob'), ...Array.from({ length: 198 }, (_, i) => member(`guest${i}`, { online: i % 2 === 0 }))];
  const m = new SessionModel('s1');
  m.applyWelcome(welcome({ members: listed, member_count: 1000, online_count: 300 }), 0, 0);
  return m;
}

describe('members', () => {
  it('keeps the counts of a small session from per-member events', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome(), 0, 0);
    assert.equal(m.isRosterComplete(), true);
    assert.equal(m.hiddenMemberCount(), 0);
    m.applyEvent({ type: 'member_joined', seq: 42, member: member('carol', { online: false }) }, 0, 0);
    assert.deepEqual([m.session.memberCount, m.session.onlineCount], [3, 2]);
    m.applyEvent({ type: 'presence', seq: 43, user_id: 'carol', online: true }, 0, 0);
    assert.deepEqual([m.session.memberCount, m.session.onlineCount], [3, 3]);
    m.applyEvent({ type: 'presence', seq: 44, user_id: 'alice', online: false }, 0, 0);
    m.applyEvent({ type: 'member_updated', seq: 45, member: member('carol', { display_name: 'Caroline' }) }, 0, 0);
    assert.equal(m.memberName('carol'), 'Caroline');
    assert.deepEqual([m.session.memberCount, m.session.onlineCount], [3, 2]);
    m.applyEvent({ type: 'member_left', seq: 46, user_id: 'carol', reason: 'left' }, 0, 0);
    assert.deepEqual([m.session.memberCount, m.session.onlineCount], [2, 1]);
  });

  it('counts from the list when the snapshot has no counts (an older server)', () => {
    const m = new SessionModel('s1');
    const w = welcome({ members: [member('alice'), member('bob', { online: false })] });
    delete w.session.member_count;
    delete w.session.online_count;
    m.applyWelcome(w, 0, 0);
    assert.deepEqual([m.session.memberCount, m.session.onlineCount], [2, 1]);
  });

  it('says "and K more" for members a big session does not list', () => {
    const m = bigRoom();
    assert.equal(m.session.members.length, 200);
    assert.equal(m.isRosterComplete(), false);
    assert.equal(m.hiddenMemberCount(), 800);
    assert.deepEqual([m.session.memberCount, m.session.onlineCount], [1000, 300]);
  });

  it('takes the counts of a members_summary and keeps the list', () => {
    const m = bigRoom();
    const r = m.applyEvent({ type: 'members_summary', member_count: 1200, online_count: 450, seq: 42 }, 0, 0);
    assert.deepEqual(r.parts, ['members']);
    assert.deepEqual([m.session.memberCount, m.session.onlineCount], [1200, 450]);
    assert.equal(m.session.members.length, 200);
    assert.equal(m.hiddenMemberCount(), 1000);
  });

  it('replaces the list when a members_summary carries the whole roster again', () => {
    const m = bigRoom();
    const roster = [member('alice'), member('bob'), member('carol', { online: false })];
    const r = m.applyEvent({ type: 'members_summary', member_count: 3, online_count: 2, members: roster, seq: 42 }, 0, 0);
    assert.ok(r.parts.includes('members') && r.parts.includes('queue'), 'names in the queue may change');
    assert.deepEqual(m.session.members.map((x) => [x.id, x.role, x.online]), [['alice', 'host', true], ['bob', 'guest', true], ['carol', 'guest', false]]);
    assert.equal(m.isRosterComplete(), true);
    assert.equal(m.hiddenMemberCount(), 0);
    // Per-member events are back and keep the counts again.
    m.applyEvent({ type: 'presence', seq: 43, user_id: 'carol', online: true }, 0, 0);
    assert.deepEqual([m.session.memberCount, m.session.onlineCount], [3, 3]);
  });

  it('does not recount a big session from its partial list', () => {
    const m = bigRoom();
    m.applyEvent({ type: 'presence', seq: 42, user_id: 'guest1', online: true }, 0, 0);
    assert.deepEqual([m.session.memberCount, m.session.onlineCount], [1000, 300]);
  });

  it('keeps "and K more" right when the host removes a listed member of a big session', () => {
    const m = bigRoom();
    m.dropMember('guest3');
    // The summary after the kick counts one fewer; listed and counted both lost guest3.
    m.applyEvent({ type: 'members_summary', member_count: 999, online_count: 300, seq: 42 }, 0, 0);
    assert.equal(m.session.members.length, 199);
    assert.equal(m.hiddenMemberCount(), 800);
  });

  it('follows host_changed in a big session', () => {
    const m = bigRoom();
    const r = m.applyEvent({ type: 'host_changed', host: 'bob', seq: 42 }, 0, 0);
    assert.equal(r.outcome, 'became_host');
    assert.equal(m.session.members.find((x) => x.id === 'alice').role, 'guest');
  });
});

describe('listening along', () => {
  it('keeps each member\'s listening from the roster and the listening event', async () => {
    const { listenStatus } = await import('../../../web/assets/js/listen.js');
    const m = new SessionModel('s1');
    m.applyWelcome(welcome({ members: [member('alice'), { ...member('bob'), listening: 'in_sync' }] }), 0, 0);
    assert.equal(m.session.members.find((x) => x.id === 'bob').listening, 'in_sync');
    assert.equal(m.session.members.find((x) => x.id === 'alice').listening, null);
    const detached = m.applyEvent({ type: 'listening', seq: 42, user_id: 'bob', listening: 'detached' }, 0, 0);
    assert.deepEqual(detached.parts, ['members', 'listen']);
    assert.equal(m.session.members.find((x) => x.id === 'bob').listening, 'detached');
    // Bob is the viewer: Sesh stopping it for want of Premium is an outcome his card shows.
    const dropped = m.applyEvent({ type: 'listening', seq: 43, user_id: 'bob', listening: null, reason: 'premium_required' }, 0, 0);
    assert.equal(dropped.outcome, 'listening_premium_required');
    assert.equal(m.session.members.find((x) => x.id === 'bob').listening, null);
    assert.equal(listenStatus('in_sync').text, 'In sync');
    assert.equal(listenStatus('detached').rejoin, true);
    assert.match(listenStatus('detached').text, /^Detached/);
    assert.match(listenStatus(null, true).text, /Needs Spotify Premium/);
    assert.equal(listenStatus(null).text, '');
  });
});

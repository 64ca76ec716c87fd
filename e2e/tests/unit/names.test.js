// The session model's names: a member who left or was removed keeps their name on the tracks
// they brought ("From Carol’s top 5", "from Carol"), not their user id.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FORMER_MEMBER, MAX_REMEMBERED_NAMES, SessionModel } from '../../../web/assets/js/session-state.js';
import { member, playback, welcome } from './fixtures.js';

/** Bob's model of a session with alice, bob and carol, carol having brought entry 1. */
function withCarol() {
  const m = new SessionModel('s1');
  const w = welcome({ members: [member('alice'), member('bob'), member('carol')], member_count: 3, online_count: 3 });
  w.session.queue[1].added_by = ['carol'];
  m.applyWelcome(w, 0, 0);
  return m;
}

describe('names of members', () => {
  it('keeps the name of a member who was removed', () => {
    const m = withCarol();
    m.applyEvent({ type: 'member_left', seq: 42, user_id: 'carol', reason: 'kicked' }, 0, 0);
    assert.deepEqual(m.session.members.map((x) => x.id), ['alice', 'bob']);
    assert.equal(m.memberName('carol'), 'Carol');
    assert.equal(m.namesList(['carol', 'alice']), 'Carol & Alice');
    m.applyEvent({ ...playback(1, 43), added_by: ['carol'] }, 0, 0);
    assert.equal(m.possessive(m.nowPlaying().addedBy), 'Carol’s');
  });

  it('keeps the name of a member who joined, was renamed and left', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(welcome(), 0, 0);
    m.applyEvent({ type: 'member_joined', seq: 42, member: member('dave', { display_name: 'Dave Doe' }) }, 0, 0);
    m.applyEvent({ type: 'member_updated', seq: 43, member: member('dave', { display_name: 'David' }) }, 0, 0);
    m.applyEvent({ type: 'member_left', seq: 44, user_id: 'dave', reason: 'left' }, 0, 0);
    assert.equal(m.memberName('dave'), 'David');
  });

  it('keeps names over a fresh welcome that no longer lists the member', () => {
    const m = withCarol();
    m.applyEvent({ type: 'member_left', seq: 42, user_id: 'carol', reason: 'left' }, 0, 0);
    // After a reconnect (the server restarted): a welcome without carol, her track still queued.
    const w = welcome({ members: [member('alice'), member('bob')] });
    w.session.queue[1].added_by = ['carol'];
    m.applyWelcome(w, 0, 0);
    assert.equal(m.memberName('carol'), 'Carol');
  });

  it('remembers names from a snapshot and from a whole roster in members_summary', () => {
    const m = new SessionModel('s1');
    m.loadSnapshot(welcome({ members: [member('alice'), member('bob'), member('erin', { display_name: 'Erin E' })] }).session, { id: 'bob', display_name: 'Bob' });
    m.applyEvent({ type: 'members_summary', seq: 42, member_count: 2, online_count: 2, members: [member('alice'), member('bob')] }, 0, 0);
    assert.equal(m.memberName('erin'), 'Erin E');
  });

  it('calls someone it never saw a former member, never by id, and follows a rename', () => {
    const m = withCarol();
    assert.equal(m.memberName('zed'), FORMER_MEMBER);
    assert.equal(m.knownName('zed'), null);
    assert.equal(m.namesList(['alice', 'zed']), `Alice & ${FORMER_MEMBER}`);
    assert.equal(m.namesList(['zed', 'yan', 'alice']), 'Alice & 2 former members');
    assert.equal(m.namesList(['zed', 'alice'], 7), `Alice, ${FORMER_MEMBER} & 5 others`);
    assert.equal(m.possessive(['zed']), `${FORMER_MEMBER}’s`);
    m.applyEvent({ type: 'member_updated', seq: 42, member: member('carol', { display_name: 'Caroline' }) }, 0, 0);
    m.applyEvent({ type: 'member_left', seq: 43, user_id: 'carol', reason: 'left' }, 0, 0);
    assert.equal(m.memberName('carol'), 'Caroline');
  });

  it('keeps names across a reload: what the page stored comes back, the server’s names win', () => {
    const before = withCarol();
    before.applyEvent({ type: 'member_left', seq: 42, user_id: 'carol', reason: 'left' }, 0, 0);
    const kept = JSON.parse(JSON.stringify(before.namesToKeep()));
    // The reloaded page: a snapshot without carol, and alice renamed meanwhile.
    const after = new SessionModel('s1');
    after.restoreNames(kept);
    after.loadSnapshot(welcome({ members: [member('alice', { display_name: 'Alicia' }), member('bob')] }).session, { id: 'bob', display_name: 'Bob' });
    assert.equal(after.memberName('carol'), 'Carol');
    assert.equal(after.memberName('alice'), 'Alicia');
  });

  it('keeps at most MAX_REMEMBERED_NAMES names, the longest-unseen going first, and ignores junk', () => {
    const m = new SessionModel('s1');
    m.restoreNames([['x', 1], 'junk', [null, 'N'], ['y', '']]);
    assert.equal(m.names.size, 0);
    m.rememberNames(Array.from({ length: MAX_REMEMBERED_NAMES + 10 }, (_, i) => ({ id: `u${i}`, display_name: `U${i}` })));
    m.rememberNames([{ id: 'u0', display_name: 'U0 again' }]);
    const kept = m.namesToKeep();
    assert.equal(kept.length, MAX_REMEMBERED_NAMES);
    assert.deepEqual(kept.at(-1), ['u0', 'U0 again']);
    assert.ok(!kept.some(([id]) => id === 'u1'));
  });

  it('marks what the viewer brought as theirs', () => {
    const m = withCarol();
    assert.equal(m.isMine({ added_by: ['alice', 'bob'] }), true);
    assert.equal(m.isMine({ added_by: ['carol'] }), false);
    assert.equal(m.isMine({}), false);
  });
});

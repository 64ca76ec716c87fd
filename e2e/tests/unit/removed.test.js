// The host's list of the members they removed (`banned` of the host's snapshot), kept current by
// `member_left` (kicked) and `member_unbanned`; guests have none.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionModel } from '../../../web/assets/js/session-state.js';
import { member, welcome } from './fixtures.js';

const ALICE = { id: 'alice', display_name: 'Alice', role: 'host' };

/** A `welcome` for the host alice, with bob and carol in the session. */
const hostWelcome = (session = {}) => ({
  ...welcome({ members: [member('alice'), member('bob'), member('carol', { display_name: 'Carol Chen' })], member_count: 3, ...session }),
  you: ALICE,
});

describe('the host’s list of the removed', () => {
  it('starts from the snapshot, and a guest’s is empty', () => {
    const host = new SessionModel('s1');
    host.applyWelcome(hostWelcome({ banned: [{ id: 'dave', display_name: 'Dave Dunn' }] }), 0, 0);
    assert.deepEqual(host.session.banned, [{ id: 'dave', display_name: 'Dave Dunn' }]);
    const guest = new SessionModel('s1');
    guest.applyWelcome(welcome(), 0, 0);
    assert.deepEqual(guest.session.banned, []);
  });

  it('adds a kicked member under the name they had and drops them on member_unbanned', () => {
    const m = new SessionModel('s1');
    m.applyWelcome(hostWelcome(), 0, 0);
    const kicked = m.applyEvent({ type: 'member_left', seq: 42, user_id: 'carol', reason: 'kicked' }, 0, 0);
    assert.ok(kicked.parts.includes('banned'));
    assert.deepEqual(m.session.banned, [{ id: 'carol', display_name: 'Carol Chen' }]);
    // The kick's own answer tells the page too: once is enough.
    m.addBanned({ id: 'carol', display_name: 'Carol Chen' });
    assert.equal(m.session.banned.length, 1);
    m.applyEvent({ type: 'member_left', seq: 43, user_id: 'bob', reason: 'left' }, 0, 0);
    assert.deepEqual(m.session.banned.map((p) => p.id), ['carol']);
    const unbanned = m.applyEvent({ type: 'member_unbanned', seq: 44, user_id: 'carol' }, 0, 0);
    assert.deepEqual(unbanned, { parts: ['banned'], outcome: null });
    assert.deepEqual(m.session.banned, []);
  });

  it('is not kept by a guest, nor by a host who hands the role over', () => {
    const guest = new SessionModel('s1');
    guest.applyWelcome(welcome({ members: [member('alice'), member('bob'), member('carol')], member_count: 3 }), 0, 0);
    guest.applyEvent({ type: 'member_left', seq: 42, user_id: 'carol', reason: 'kicked' }, 0, 0);
    assert.deepEqual(guest.session.banned, []);

    const host = new SessionModel('s1');
    host.applyWelcome(hostWelcome({ banned: [{ id: 'dave', display_name: 'Dave Dunn' }] }), 0, 0);
    host.applyEvent({ type: 'host_changed', seq: 42, host: 'bob' }, 0, 0);
    assert.deepEqual(host.session.banned, []);
    host.setBanned([{ id: 'dave', display_name: 'Dave Dunn' }, { id: 'erin' }]);
    assert.deepEqual(host.session.banned, [{ id: 'dave', display_name: 'Dave Dunn' }, { id: 'erin', display_name: 'erin' }]);
  });
});

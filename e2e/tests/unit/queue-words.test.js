// What the queue's controls say (queue-ui.js, search.js): net votes, the server's refusals
// (with when to try again after a rate limit), the host's rules in one line, and how many
// tracks a guest may still add.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../../web/assets/js/api.js';
import { netVotes, refusalText, retryText, rulesSummary } from '../../../web/assets/js/queue-ui.js';
import { addsLeftText } from '../../../web/assets/js/search.js';
import { DEFAULT_QUEUE_SETTINGS } from '../../../web/assets/js/queue-state.js';

describe('queue words', () => {
  it('shows net votes with a sign', () => {
    assert.deepEqual([3, 0, -2, undefined].map(netVotes), ['+3', '0', '−2', '0']);
  });

  it('says the server’s own words for a refusal, and when to try again after a rate limit', () => {
    assert.equal(refusalText(new ApiError(409, 'member_queue_full', 'You already have 3 tracks waiting')), 'You already have 3 tracks waiting.');
    assert.equal(refusalText(new ApiError(429, 'rate_limited', 'too many searches; wait a moment', 42)),
      'Too many searches; wait a moment. Try again in 42 seconds.');
    // No answer at all: our words.
    assert.equal(refusalText(new ApiError(0, 'network', 'network error: offline')), 'Cannot reach Sesh. Check your connection and try again.');
    assert.equal(refusalText(new Error('boom')), 'Something went wrong on our side. Try again in a moment.');
  });

  it('says a long wait as a clock time', () => {
    assert.equal(retryText(1), 'Try again in 1 second.');
    assert.equal(retryText(0.2), 'Try again in 1 second.');
    // In the browser’s own clock format (“12:10”, “12:10 PM”).
    assert.match(retryText(600, new Date(2026, 0, 1, 12, 0)), /^Try again at 12.10( PM)?\.$/);
  });

  it('sums up the host’s rules in one line', () => {
    assert.equal(rulesSummary(DEFAULT_QUEUE_SETTINGS), 'Fair turns · 3 tracks each · up to 10 min · no replays within 20');
    assert.equal(rulesSummary({ ...DEFAULT_QUEUE_SETTINGS, order: 'votes', maxQueuedPerMember: 1, maxTrackMs: 450_000, noReplayPlays: 0, addingLocked: true }),
      'Most votes first · 1 track each · up to 8 min · replays allowed · only you and co-hosts add');
  });

  it('tells a guest how many tracks they may still add', () => {
    assert.equal(addsLeftText(0, 3), 'You can add up to 3 tracks');
    assert.equal(addsLeftText(1, 3), 'You can add 2 more (1 waiting)');
    assert.equal(addsLeftText(3, 3), '3 tracks of yours waiting: add more once one plays');
    assert.equal(addsLeftText(0, 1), 'You can add up to 1 track');
  });
});

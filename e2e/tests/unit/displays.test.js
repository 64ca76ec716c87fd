// The display pages' pure parts (tv.js, overlay.js, displays.js): the key from the address, the
// progress clock corrected by the server's clock, the words, the model fed by the display
// stream, the stream's reconnects and its ended and revoked ends (with a fake EventSource and
// fake timers), and the overlay's query options.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ClockOffset, DisplayFeed, DisplayModel, anchorNowPlaying, displayKey, membersText, namesText, positionAt, shortUrl, trackKey,
} from '../../../web/assets/js/tv.js';
import { cardVisible, overlayOptions } from '../../../web/assets/js/overlay.js';
import { displayName, openStreamsText } from '../../../web/assets/js/displays.js';

const nowPlaying = (extra = {}) => ({
  title: 'Midnight City', artists: ['M83'], album: 'Hurry Up', cover_url: null,
  status: 'playing', progress_ms: 60_000, duration_ms: 240_000, server_time_ms: 1_000_000,
  brought_by: ['Alice'], brought_by_count: 1, ...extra,
});
const stopped = { title: '', artists: [], album: '', cover_url: null, status: 'stopped', progress_ms: 0, duration_ms: 0, server_time_ms: 1_000_000, brought_by: [], brought_by_count: 0 };

describe('the display key', () => {
  it('is the last segment of the path, decoded', () => {
    assert.equal(displayKey('/tv/AbC_-123'), 'AbC_-123');
    assert.equal(displayKey('/overlay/AbC%2D1/'), 'AbC-1');
    assert.equal(displayKey('/tv/%E0%A4%A'), '%E0%A4%A', 'a broken escape is kept as it is');
  });
});

describe('the display’s progress clock', () => {
  it('takes the clocks to agree while the differences are small delivery times', () => {
    const clock = new ClockOffset();
    clock.add(1_500);
    clock.add(300);
    assert.equal(clock.offsetMs, 0);
  });

  it('finds a clock that runs ahead or behind by the smallest difference', () => {
    const ahead = new ClockOffset();
    for (const d of [3_600_900, 3_600_200, 3_600_450]) ahead.add(d);
    assert.equal(ahead.offsetMs, 3_600_200);
    const behind = new ClockOffset();
    for (const d of [-4_000, -4_700, -3_900]) behind.add(d);
    assert.equal(behind.offsetMs, -4_700);
    behind.reset();
    assert.equal(behind.offsetMs, 0);
  });

  it('forgets old samples, so a new server clock takes over', () => {
    const clock = new ClockOffset();
    clock.add(-50_000);
    for (let i = 0; i < 16; i += 1) clock.add(200);
    assert.equal(clock.offsetMs, 0);
  });

  it('adds the age of the server’s reading while playing, and the time since receipt', () => {
    const anchor = anchorNowPlaying(nowPlaying(), 500, 1_000_750, 0);
    assert.equal(anchor.baseMs, 60_750);
    assert.equal(positionAt(anchor, 2_500), 62_750);
    // The same reading on a screen whose clock is an hour ahead.
    const skewed = anchorNowPlaying(nowPlaying(), 500, 1_000_750 + 3_600_000, 3_600_000);
    assert.equal(skewed.baseMs, 60_750);
  });

  it('stands still while paused, never passes the end, and is 0 when nothing plays', () => {
    const paused = anchorNowPlaying(nowPlaying({ status: 'paused' }), 0, 1_005_000, 0);
    assert.equal(positionAt(paused, 90_000), 60_000);
    const late = anchorNowPlaying(nowPlaying({ progress_ms: 239_000 }), 0, 1_000_000, 0);
    assert.equal(positionAt(late, 10_000), 240_000);
    assert.equal(positionAt(anchorNowPlaying(stopped, 0, 1_000_000, 0), 5_000), 0);
    assert.equal(positionAt(null, 5_000), 0);
  });
});

describe('the display’s words', () => {
  it('names who brought a track', () => {
    assert.equal(namesText(['Alice'], 1), 'Alice');
    assert.equal(namesText(['Alice', 'Bob'], 2), 'Alice and Bob');
    assert.equal(namesText(['Alice', 'Bob', 'Carol'], 3), 'Alice, Bob and Carol');
    assert.equal(namesText(['Alice', 'Bob', 'Carol'], 7), 'Alice, Bob, Carol and 4 more');
    assert.equal(namesText([], 0), '');
    assert.equal(namesText([], 2), '2 people');
  });

  it('shortens the join link and counts the people', () => {
    assert.equal(shortUrl('https://sesh.example/j/Zm9v'), 'sesh.example/j/Zm9v');
    assert.equal(shortUrl('http://127.0.0.1:8080/j/abc'), '127.0.0.1:8080/j/abc');
    assert.equal(membersText({ member_count: 1, online_count: 1 }), '1 person');
    assert.equal(membersText({ member_count: 5, online_count: 3 }), '5 people · 3 online');
  });

  it('tells a track from nothing playing', () => {
    assert.equal(trackKey(stopped), '');
    assert.equal(trackKey(null), '');
    assert.equal(trackKey(nowPlaying()), trackKey(nowPlaying({ progress_ms: 5 })));
    assert.notEqual(trackKey(nowPlaying()), trackKey(nowPlaying({ title: 'Wait' })));
  });
});

describe('the display model', () => {
  const snapshot = (extra = {}) => ({
    session: { name: 'Friday', state: 'playing' }, now_playing: nowPlaying(), upcoming: [{ entry_id: 1, title: 'Next' }],
    upcoming_total: 12, members: { member_count: 5, online_count: 3 }, join: { url: 'http://x/j/a' }, ...extra,
  });

  it('applies a snapshot, then the changes, and says when the track changed', () => {
    const m = new DisplayModel();
    assert.equal(m.apply('snapshot', snapshot(), '41', 0, 1_000_000).trackChanged, true);
    assert.equal(m.snapshots, 1);
    assert.equal(m.apply('playback', nowPlaying({ progress_ms: 70_000 }), '42', 0, 1_000_000).trackChanged, false);
    assert.equal(m.positionAt(1_000), 71_000);
    assert.equal(m.apply('playback', nowPlaying({ title: 'Wait', progress_ms: 0 }), '43', 0, 1_000_000).trackChanged, true);
    m.apply('queue', { upcoming: [], upcoming_total: 0 }, '44', 0, 0);
    assert.deepEqual(m.view.upcoming, []);
    m.apply('members', { member_count: 6, online_count: 4 }, '45', 0, 0);
    assert.equal(m.view.members.member_count, 6);
    m.apply('session_ended', {}, '46', 0, 0);
    assert.equal(m.view.session.state, 'ended');
  });

  it('moves the upcoming list up by a change, or takes a whole new one', () => {
    const m = new DisplayModel();
    const entry = (id) => ({ entry_id: id, title: `T${id}` });
    m.apply('snapshot', snapshot({ upcoming: [entry(1), entry(2), entry(3)], upcoming_total: 3 }), '41', 0, 0);
    m.apply('queue', { drop: 1, append: [entry(4)], upcoming_total: 3 }, '42', 0, 0);
    assert.deepEqual(m.view.upcoming.map((e) => e.entry_id), [2, 3, 4]);
    m.apply('queue', { drop: 0, append: [], upcoming_total: 9 }, '43', 0, 0);
    assert.deepEqual(m.view.upcoming.map((e) => e.entry_id), [2, 3, 4]);
    assert.equal(m.view.upcoming_total, 9);
    m.apply('queue', { upcoming: [entry(4), entry(2)], upcoming_total: 2 }, '44', 0, 0);
    assert.deepEqual(m.view.upcoming.map((e) => e.entry_id), [4, 2]);
  });

  it('changes the QR code’s version with every join event, with or without an id of its own', () => {
    const m = new DisplayModel();
    m.apply('snapshot', snapshot(), '41', 0, 0);
    assert.equal(m.qrVersion, '41');
    m.apply('join', { url: 'http://x/j/b' }, '47', 0, 0);
    assert.equal(m.qrVersion, '47');
    assert.equal(m.view.join.url, 'http://x/j/b');
    m.apply('join', { url: 'http://x/j/c' }, '47', 0, 0);
    assert.notEqual(m.qrVersion, '47');
  });

  it('follows the session’s name and state', () => {
    const m = new DisplayModel();
    m.apply('snapshot', snapshot({ session: { name: null, state: 'lobby' }, now_playing: stopped }), '3', 0, 0);
    m.apply('session', { name: 'Friday', state: 'playing' }, '4', 0, 0);
    assert.deepEqual(m.view.session, { name: 'Friday', state: 'playing' });
  });

  it('ignores changes before its first snapshot', () => {
    const m = new DisplayModel();
    assert.equal(m.apply('playback', nowPlaying(), '1', 0, 0).trackChanged, false);
    assert.equal(m.view, null);
  });
});

/** A stand-in for the browser's EventSource: the test opens, fails and feeds it. */
class FakeSource {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;
  static made = [];

  constructor(url) {
    this.url = url;
    this.readyState = FakeSource.CONNECTING;
    this.listeners = {};
    this.closed = false;
    FakeSource.made.push(this);
  }

  addEventListener(name, fn) { (this.listeners[name] ??= []).push(fn); }
  close() { this.closed = true; this.readyState = FakeSource.CLOSED; }
  open() { this.readyState = FakeSource.OPEN; this.onopen?.(); }
  fail(readyState) { this.readyState = readyState; this.onerror?.(); }
  emit(name, data, lastEventId = '') { for (const fn of this.listeners[name] ?? []) fn({ data: JSON.stringify(data), lastEventId }); }
}

function harness(status = 200) {
  FakeSource.made = [];
  const timers = [];
  const fetched = [];
  const states = [];
  const events = [];
  const feed = new DisplayFeed('k/1', {
    onEvent: (name, data, id) => events.push([name, id]),
    onState: (s) => states.push(s),
  }, {
    EventSourceImpl: FakeSource,
    fetchImpl: async (url) => {
      fetched.push(url);
      if (status === 0) throw new TypeError('network');
      return { status };
    },
    setTimer: (fn, ms) => { timers.push({ fn, ms, live: true }); return timers.length - 1; },
    clearTimer: (t) => { if (t !== null && timers[t]) timers[t].live = false; },
    // One off the default, to tell the hint's timer from the retries' in the list.
    hintAfterMs: 3_999,
  });
  const runTimers = () => { for (const t of timers.splice(0)) if (t.live) t.fn(); };
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { feed, timers, fetched, states, events, runTimers, settle };
}

describe('the display stream', () => {
  it('opens the key’s stream and hands on its events', () => {
    const { feed, states, events } = harness();
    feed.start();
    const source = FakeSource.made[0];
    assert.equal(source.url, '/d/k%2F1/events');
    source.open();
    source.emit('snapshot', { session: {} }, '41');
    source.emit('playback', nowPlaying());
    source.emit('session', { name: 'Friday', state: 'playing' }, '42');
    assert.deepEqual(states, ['live']);
    assert.deepEqual(events, [['snapshot', '41'], ['playback', ''], ['session', '42']]);
  });

  it('says “reconnecting” only after a while without a connection, and not after a blip', () => {
    const h = harness();
    h.feed.start();
    const source = FakeSource.made[0];
    source.open();
    source.fail(FakeSource.CONNECTING);
    assert.equal(h.timers.length, 1);
    assert.equal(h.timers[0].ms, 3_999);
    source.open();
    h.runTimers();
    assert.deepEqual(h.states, ['live'], 'the blip passed unsaid');
    source.fail(FakeSource.CONNECTING);
    h.runTimers();
    assert.deepEqual(h.states, ['live', 'reconnecting']);
    source.open();
    assert.deepEqual(h.states, ['live', 'reconnecting', 'live']);
    assert.equal(FakeSource.made.length, 1, 'the browser reconnects by itself');
  });

  it('shows a revoked key when the browser gives up and the key answers 403', async () => {
    const h = harness(403);
    h.feed.start();
    const source = FakeSource.made[0];
    source.fail(FakeSource.CLOSED);
    await h.settle();
    assert.deepEqual(h.fetched, ['/d/k%2F1/nowplaying.json']);
    assert.equal(h.states.at(-1), 'revoked');
    assert.equal(source.closed, true);
    h.runTimers();
    assert.equal(FakeSource.made.length, 1, 'no new stream for a revoked key');
  });

  for (const status of [429, 503, 0]) {
    it(`tries a new stream later when the browser gives up on a ${status || 'network'} answer`, async () => {
      const h = harness(status);
      h.feed.start();
      FakeSource.made[0].fail(FakeSource.CLOSED);
      await h.settle();
      assert.ok(!h.states.includes('revoked'));
      assert.ok(h.timers.some((t) => t.live && t.ms === 2_000), 'a retry is planned');
      h.runTimers();
      assert.equal(FakeSource.made.length, 2);
      assert.equal(h.states.at(-1), 'reconnecting');
      FakeSource.made[1].open();
      assert.equal(h.states.at(-1), 'live');
    });
  }

  it('waits longer after each stream the browser gave up on', async () => {
    const h = harness(503);
    h.feed.start();
    const waits = [];
    for (let i = 0; i < 6; i += 1) {
      FakeSource.made.at(-1).fail(FakeSource.CLOSED);
      await h.settle();
      waits.push(...h.timers.filter((t) => t.live && t.ms !== 3_999).map((t) => t.ms));
      h.runTimers();
    }
    assert.deepEqual(waits, [2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });

  it('closes for good after session_ended', () => {
    const h = harness();
    h.feed.start();
    const source = FakeSource.made[0];
    source.open();
    source.emit('session_ended', {}, '50');
    assert.equal(source.closed, true);
    assert.equal(h.states.at(-1), 'ended');
    source.emit('playback', nowPlaying());
    assert.deepEqual(h.events.map(([n]) => n), ['session_ended']);
  });
});

describe('the overlay’s options', () => {
  it('has defaults', () => {
    assert.deepEqual(overlayOptions(''), { size: 'm', position: 'bottom-left', theme: 'dark', progress: true });
  });

  it('reads each option and ignores what it does not know', () => {
    assert.deepEqual(overlayOptions('?size=l&position=top-right&theme=light&progress=0'),
      { size: 'l', position: 'top-right', theme: 'light', progress: false });
    assert.deepEqual(overlayOptions('?size=xl&position=middle&theme=blue&progress=1'),
      { size: 'm', position: 'bottom-left', theme: 'dark', progress: true });
    assert.equal(overlayOptions('?SIZE=S&size=S').size, 's');
  });

  it('shows the card only while something plays or is paused', () => {
    assert.equal(cardVisible(nowPlaying(), 'live'), true);
    assert.equal(cardVisible(nowPlaying({ status: 'paused' }), 'reconnecting'), true);
    assert.equal(cardVisible(stopped, 'live'), false);
    assert.equal(cardVisible(nowPlaying(), 'ended'), false);
    assert.equal(cardVisible(nowPlaying(), 'revoked'), false);
    assert.equal(cardVisible(null, 'connecting'), false);
  });
});

describe('the host’s display links', () => {
  it('counts the open streams in words', () => {
    assert.equal(openStreamsText(0), 'Not open');
    assert.equal(openStreamsText(1), 'Open on 1 screen');
    assert.equal(openStreamsText(3), 'Open on 3 screens');
    assert.equal(openStreamsText(undefined), 'Not open');
  });

  it('names a key by its label, else by its place', () => {
    assert.equal(displayName({ label: '  Living room TV ' }, 0), 'Living room TV');
    assert.equal(displayName({ label: '' }, 1), 'Display 2');
  });
});

// Recap page `/s/{id}/recap`: what a session played, in order, with who brought each track,
// its votes and skips; the top voted; each member's tallies (`GET /api/sessions/{id}/recap`,
// members only, read again every 20 s while the session lives); the same JSON as a download;
// and "Save as a playlist in my Spotify" (`POST /api/sessions/{id}/playlist`), which first asks
// Spotify for the permission to create playlists when Sesh does not have it yet.

import { ApiError, getJson, isSpectatorOnly, loginUrl, postJson } from './api.js';
import { describeError } from './messages.js';
import { formatTime } from './progress.js';
import { icon } from './icons.js';
import { avatar, byTestId, h, initPage, isInactive, setBusy, showStatePanel } from './ui.js';

const sessionId = decodeURIComponent(location.pathname.match(/^\/s\/([^/]+)\/recap\/?$/)?.[1] ?? '');
const sessionUrl = `/s/${encodeURIComponent(sessionId)}`;
const apiPath = `/api/sessions/${encodeURIComponent(sessionId)}`;

/** How often a live session's recap is read again. */
const REFRESH_MS = 20_000;

const $ = (id) => byTestId(id);

/** The signed-in user, the last recap's text (to repaint only on a change), the refresh timer. */
const page = { me: null, shown: '', timer: null };

// ---------- words ----------

function personName(ref) {
  if (ref.id === page.me?.id) return 'you';
  return ref.display_name || 'a former member';
}

/** "Bob", "Bob & Carol", "Bob, Carol & Erin" (the session page's way). */
function namesList(refs) {
  const names = refs.map(personName);
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} & ${names.at(-1)}`;
}

/** "your", "Bob’s", "Bob & Carol’s", "Alexis’". */
function possessive(refs) {
  if (refs.length === 1 && refs[0].id === page.me?.id) return 'your';
  const list = namesList(refs);
  return list.endsWith('s') ? `${list}’` : `${list}’s`;
}

/** "Added by Bob", "From Bob’s top 5", "From Bob’s top 5 and yours"; empty when nobody is known. */
function creditText(play) {
  const by = play.brought_by ?? [];
  if (!by.length) return '';
  if (play.origin === 'added') return `Added by ${namesList(by.slice(0, 1))}`;
  const others = by.filter((ref) => ref.id !== page.me?.id);
  if (others.length && others.length < by.length) return `From ${possessive(others)} top 5 and yours`;
  return `From ${possessive(by)} top 5`;
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "28 s", "42 min", "1 h 5 min". */
function formatLength(ms) {
  if (ms < 59_500) return `${Math.max(0, Math.round(ms / 1000))} s`;
  const minutes = Math.round(ms / 60_000);
  const hours = Math.floor(minutes / 60);
  return hours ? `${hours} h ${minutes % 60} min` : `${minutes} min`;
}

function sessionTitle(session) {
  if (session.name) return session.name;
  return session.host?.id === page.me?.id ? 'Your session' : `${session.host?.display_name || 'Someone'}’s session`;
}

// ---------- rendering ----------

function render(recap) {
  const text = JSON.stringify(recap);
  if (text === page.shown) return;
  page.shown = text;
  $('recap-loading').hidden = true;
  $('recap-view').hidden = false;
  renderHead(recap);
  renderTop(recap);
  renderTracks(recap);
  renderMembers(recap);
}

function renderHead({ session, counts }) {
  const title = sessionTitle(session);
  $('recap-title').textContent = title;
  document.title = `Recap: ${title} — Sesh`;
  const host = $('recap-host');
  host.hidden = !session.name;
  host.textContent = session.name ? (session.host?.id === page.me?.id ? 'Your session' : `${session.host?.display_name ?? 'Someone'}’s session`) : '';

  const badge = $('recap-state');
  const [label, cls] = session.final ? ['Ended', '']
    : session.state === 'lobby' ? ['Not started yet', 'badge-state-lobby'] : ['Live — still playing', 'badge-state-playing'];
  badge.textContent = label;
  badge.className = `badge ${cls}`.trim();
  badge.dataset.state = session.final ? 'ended' : session.state;
  $('recap-live-note').hidden = session.final;

  $('stat-length').hidden = session.length_ms == null;
  $('stat-length-value').textContent = session.length_ms == null ? '' : formatLength(session.length_ms);
  $('count-tracks').textContent = String(counts.tracks);
  $('count-skipped').textContent = String(counts.skipped);
  $('count-up-votes').textContent = String(counts.up_votes);
  $('count-down-votes').textContent = String(counts.down_votes);
  $('count-members').textContent = String(counts.members);
}

function cover(track) {
  const placeholder = () => h('span', { class: 'thumb recap-thumb-empty', 'aria-hidden': 'true' }, icon('note'));
  if (!track.image_url) return placeholder();
  // The title and album are right beside it: the cover itself says nothing more.
  const img = h('img', { class: 'thumb', src: track.image_url, alt: '', width: 44, height: 44, loading: 'lazy', decoding: 'async' });
  img.addEventListener('error', () => img.replaceWith(placeholder()), { once: true });
  return img;
}

function votesText(play) {
  if (!play.up_votes && !play.down_votes) return '';
  return `${plural(play.up_votes, 'up vote')}, ${plural(play.down_votes, 'down vote')}`;
}

function timeOf(ms) {
  const at = new Date(ms);
  return h('time', { datetime: at.toISOString() }, at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
}

/** One play: cover, title, artists, who brought it, when, how long, votes, badges. */
function playItem(play, { index, testid, net = false }) {
  const { track } = play;
  const credit = creditText(play);
  const meta = [];
  if (play.started_at_ms != null) meta.push(timeOf(play.started_at_ms));
  if (play.skipped && play.played_ms != null) meta.push(`played ${formatTime(play.played_ms)} of ${formatTime(track.duration_ms)}`);
  else meta.push(formatTime(track.duration_ms));
  const votes = votesText(play);
  if (votes && !net) meta.push(votes);
  const joined = meta.flatMap((part, i) => (i ? [' · ', part] : [part]));
  return h('li', {
    class: 'queue-item recap-item',
    testid,
    dataset: { entryId: String(play.entry_id), trackId: track.id, skipped: String(play.skipped), nowPlaying: String(play.now_playing) },
  },
  h('span', { class: 'queue-index', 'aria-hidden': 'true' }, String(index + 1)),
  cover(track),
  h('div', { class: 'queue-text' },
    h('span', { class: 'recap-title-row' },
      h('span', { class: 'recap-track-title', testid: 'recap-track-title' }, track.name || 'Unknown track'),
      play.now_playing ? h('span', { class: 'badge badge-state-playing', testid: 'now-playing-badge' }, 'Now playing') : null,
      play.skipped ? h('span', { class: 'badge badge-skipped', testid: 'skipped-badge' }, 'Skipped') : null),
    h('span', { class: 'recap-sub' }, (track.artists ?? []).join(', ')),
    credit ? h('span', { class: 'recap-credit', testid: 'recap-credit' }, credit) : null,
    net ? h('span', { class: 'recap-meta', testid: 'recap-votes' }, votes)
      : h('span', { class: 'recap-meta' }, joined)),
  net ? h('span', { class: 'recap-net', 'aria-hidden': 'true' }, play.votes > 0 ? `+${play.votes}` : String(play.votes)) : null);
}

function renderTop({ tracks, top_voted: top }) {
  const plays = (top ?? []).map((i) => tracks[i]).filter(Boolean);
  $('top-voted').replaceChildren(...plays.map((play, index) => playItem(play, { index, testid: 'top-track', net: true })));
  $('top-empty').hidden = plays.length > 0;
}

function renderTracks({ tracks }) {
  $('recap-tracks').replaceChildren(...tracks.map((play, index) => playItem(play, { index, testid: 'recap-track' })));
  $('tracks-count').textContent = tracks.length ? String(tracks.length) : '';
  $('tracks-empty').hidden = tracks.length > 0;
}

/** One person's tallies: their name, then four labelled numbers (a list, so a phone needs no table). */
function memberItem(m) {
  const stat = (label, value, testid) => h('div', {}, h('dt', {}, label), h('dd', { testid }, String(value)));
  return h('li', { class: 'recap-member', testid: 'recap-member', dataset: { userId: m.id } },
    h('h3', { class: 'recap-member-name' }, avatar(m.id, m.display_name), h('span', {}, m.display_name,
      m.id === page.me?.id ? [' ', h('span', { class: 'recap-you' }, '(you)')] : null)),
    h('dl', { class: 'recap-member-stats' },
      stat('Played', m.brought, 'member-brought'),
      stat('Added', m.added, 'member-added'),
      stat('Votes', m.votes_cast, 'member-votes'),
      stat('Skipped', m.skipped, 'member-skipped')));
}

function renderMembers({ members }) {
  $('recap-members').replaceChildren(...members.map(memberItem));
  $('recap-members').hidden = members.length === 0;
  $('members-empty').hidden = members.length > 0;
  document.getElementById('members-hint').hidden = members.length === 0;
}

// ---------- loading ----------

/** Shows why the recap cannot be shown (logged out, not a member, not found…). */
function showBlocked(err) {
  clearTimeout(page.timer);
  $('recap-loading').hidden = true;
  $('recap-view').hidden = true;
  const code = err instanceof ApiError ? (err.status === 401 ? 'unauthorized' : err.code) : 'server_error';
  const home = h('a', { class: 'button button-ghost', href: '/' }, 'Go to the start page');
  let panel;
  if (code === 'unauthorized') {
    panel = {
      iconName: 'lock',
      title: 'Log in to see the recap',
      message: 'Only the session’s members can see its recap.',
      actions: [h('a', { class: 'button button-primary button-large', href: loginUrl(location.pathname), testid: 'login' }, 'Log in with Spotify'), home],
    };
  } else if (code === 'not_a_member') {
    panel = {
      iconName: 'users',
      title: 'Only the session’s members can see its recap',
      message: 'Join the session with the invite link the host sent you, then come back.',
      actions: [home],
    };
  } else if (err instanceof ApiError && err.status === 404) {
    panel = {
      iconName: 'warning',
      title: 'Recap not found',
      message: 'The link may be mistyped, or the session is gone.',
      actions: [home],
    };
  } else {
    const words = describeError(code, { fallback: err?.message });
    panel = { iconName: 'warning', title: words.title, message: words.message, actions: [home] };
  }
  showStatePanel($('recap-message'), { ...panel, code, testid: 'recap-blocked' });
  document.title = `${panel.title} — Sesh`;
}

async function load(first = false) {
  clearTimeout(page.timer);
  let recap;
  try {
    recap = await getJson(`${apiPath}/recap`);
  } catch (err) {
    const refused = err instanceof ApiError && err.status >= 400 && err.status < 500;
    if (first || refused) showBlocked(err);
    // A refresh that did not get through keeps what is shown; the next one tries again.
    else page.timer = setTimeout(load, REFRESH_MS);
    return null;
  }
  render(recap);
  if (!recap.session.final) page.timer = setTimeout(load, REFRESH_MS);
  return recap;
}

// ---------- saving as a playlist ----------

/** Where Spotify asks for the permission to create playlists, coming back here to save. */
function consentUrl() {
  const next = `${location.pathname}?save=1`;
  return `/auth/login?consent=playlist&next=${encodeURIComponent(next)}`;
}

/** Puts `parts` (text and links) into the save panel's status line. */
function saySaved(parts, { refused = false } = {}) {
  const status = $('save-status');
  status.dataset.kind = refused ? 'refused' : 'done';
  status.replaceChildren(...parts);
}

function savedParts({ url, added, total }) {
  const open = url ? h('a', { href: url, target: '_blank', rel: 'noopener', testid: 'playlist-link' }, 'Open it in Spotify') : null;
  let words;
  if (!added) words = 'Already saved — nothing new since.';
  else if (added < total) words = `Saved ${plural(added, 'new track')} to your Spotify playlist (${total} in all).`;
  else words = `Saved ${plural(added, 'track')} to your Spotify.`;
  return [words, open ? ' ' : null, open].filter(Boolean);
}

function refusalParts(err) {
  const code = err instanceof ApiError ? err.code : 'server_error';
  if (code === 'nothing_played') return ['Nothing has played yet.'];
  if (code === 'rate_limited') {
    return [err.retryAfterS != null ? `Spotify is busy, try again in ${err.retryAfterS} s.` : 'Spotify is busy, try again in a moment.'];
  }
  const words = describeError(code, { fallback: err?.message });
  const login = words.login || err?.status === 401
    ? [' ', h('a', { href: loginUrl(location.pathname), testid: 'save-login' }, 'Log in with Spotify')] : [];
  // Codes the page has words for get those; any other the server's own sentence.
  const known = words.title !== 'That did not work' || !err?.message;
  return [known ? `${words.title}. ${words.message}` : err.message, ...login];
}

/**
 * Saves the recap to the user's Spotify. Without Spotify's permission the server answers
 * `consent_required`: the page goes to ask for it and comes back with `?save=1`, which saves
 * once by itself (`auto`); refused again then, it offers the permission as a link instead of
 * going round in circles.
 */
async function save(button, { auto = false } = {}) {
  if (isInactive(button)) return;
  setBusy(button, true);
  saySaved(['Saving to your Spotify…']);
  let leaving = false;
  try {
    saySaved(savedParts(await postJson(`${apiPath}/playlist`)));
  } catch (err) {
    if (err instanceof ApiError && err.code === 'consent_required' && !auto) {
      leaving = true;
      saySaved(['Asking Spotify for permission…']);
      location.assign(consentUrl());
    } else if (err instanceof ApiError && err.code === 'consent_required') {
      saySaved(['Sesh still may not create playlists in your Spotify. ',
        h('a', { href: consentUrl(), testid: 'save-consent' }, 'Give Sesh permission')], { refused: true });
    } else {
      saySaved(refusalParts(err), { refused: true });
    }
  } finally {
    if (!leaving) setBusy(button, false);
  }
}

/** Back from Spotify's permission page with `?save=1`: save once, and drop it from the address. */
function saveIfAsked() {
  const params = new URLSearchParams(location.search);
  if (params.get('save') !== '1') return;
  params.delete('save');
  const rest = params.toString();
  history.replaceState(history.state, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
  save($('save-playlist'), { auto: true });
}

// ---------- start ----------

async function main() {
  $('recap-back').href = sessionUrl;
  $('download-json').href = `${sessionUrl}/recap.json`;
  $('save-playlist').addEventListener('click', (e) => save(e.currentTarget));
  const { me, meError } = await initPage();
  if (!sessionId) {
    showBlocked(new ApiError(404, 'not_found', 'no session id in the address'));
    return;
  }
  if (!me) {
    showBlocked(meError ?? new ApiError(401, 'unauthorized', 'logged out'));
    return;
  }
  page.me = me;
  // A spectator has no Spotify account to save a playlist in.
  if (isSpectatorOnly(me)) {
    $('save-panel').hidden = true;
    await load(true);
    return;
  }
  if (await load(true)) saveIfAsked();
}

main();

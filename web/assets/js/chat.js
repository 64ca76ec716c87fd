// The session page's chat panel: the message log (role="log"), the input with its counter,
// reactions on messages and on the playing track, and the moderators' Delete and Mute.
// Messages are written with HTTP (so a refusal answers the request that caused it, shown
// under the input); what happens arrives on the session's socket: the welcome's `chat`,
// and the chat frames without `seq` (docs/websocket.md, "Chat"). Text is only ever put into
// the page as text, never as HTML.

import { ApiError, deleteJson, getJson, postJson } from './api.js';
import { h } from './ui.js';

const REACTIONS = ['👍', '❤️', '😂', '🔥', '🎉'];
const MAX_CHARS = 500;
/** Messages the page keeps in its log (the server keeps 200). */
const KEEP = 200;

const state = {
  sessionId: null,
  me: null,
  moderator: false,
  hostId: null,
  /** user id → { role, muted, name } */
  members: new Map(),
  /** Oldest first. */
  messages: [],
  more: false,
  track: null,
  /** The session is over: the chat is kept to read, nothing more is sent. */
  ended: false,
  /** The viewer may send (the host's "Chat" switch, for spectators as for guests). */
  allowed: true,
};

const el = (id) => document.querySelector(`[data-testid="${id}"]`);

/** Sets the panel up once, before the socket starts. */
export function initChat(sessionId) {
  state.sessionId = sessionId;
  const form = el('chat-form');
  const input = el('chat-input');
  if (!form || !input) return;
  input.addEventListener('input', () => {
    renderCounter();
    showError('');
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    send();
  });
  el('chat-older')?.addEventListener('click', loadOlder);
  renderCounter();
}

/**
 * Looks at every frame of the socket: takes the chat's own (returns true: nothing else needs
 * them) and keeps what it needs of the others (who is who, who moderates, who is muted, which
 * track plays).
 */
export function chatSees(frame) {
  switch (frame.type) {
    case 'welcome':
      state.me = frame.you?.id ?? null;
      state.hostId = frame.session?.host ?? null;
      state.members = new Map((frame.session?.members ?? []).map((m) => [m.id, { role: m.role, muted: Boolean(m.muted), name: m.display_name }]));
      if (state.me && !state.members.has(state.me)) state.members.set(state.me, { role: frame.you.role, muted: false, name: frame.you.display_name });
      state.playing = frame.session?.state === 'playing';
      state.ended = frame.session?.state === 'ended';
      setHistory(frame.chat);
      return false;
    case 'chat_history':
      setHistory(frame);
      return true;
    case 'chat':
      state.messages.push(frame.message);
      if (state.messages.length > KEEP) state.messages.splice(0, state.messages.length - KEEP);
      renderLog();
      return true;
    case 'chat_deleted':
      state.messages = state.messages.filter((m) => m.id !== frame.id);
      renderLog();
      return true;
    case 'chat_reactions': {
      const message = state.messages.find((m) => m.id === frame.id);
      if (message) {
        message.reactions = frame.reactions;
        if (frame.by === state.me) message.mine = toggledMine(message.mine, frame.reaction, frame.on);
        renderLog();
      }
      return true;
    }
    case 'track_reactions': {
      const mine = frame.by === state.me ? toggledMine(state.track?.mine, frame.reaction, frame.on) : (state.track?.entry_id === frame.entry_id ? state.track.mine : []);
      state.track = { entry_id: frame.entry_id, reactions: frame.reactions, mine };
      renderTrack();
      return true;
    }
    case 'member_joined':
    case 'member_updated':
      state.members.set(frame.member.id, { role: frame.member.role, muted: Boolean(frame.member.muted), name: frame.member.display_name });
      renderAllOfIt();
      return false;
    case 'member_muted': {
      const member = state.members.get(frame.user_id);
      if (member) member.muted = frame.muted;
      renderAllOfIt();
      return false;
    }
    case 'role_changed': {
      const member = state.members.get(frame.user_id);
      if (member) member.role = frame.role;
      renderAllOfIt();
      return false;
    }
    case 'host_changed':
      for (const [id, member] of state.members) {
        if (id === frame.host) member.role = 'host';
        else if (member.role === 'host') member.role = 'guest';
      }
      renderAllOfIt();
      return false;
    case 'session_started':
      state.playing = true;
      renderTrack();
      return false;
    case 'playback':
      if ((frame.changes ?? []).includes('track')) {
        state.track = null; // reactions belong to the track that played
        renderTrack();
      }
      return false;
    case 'session_ended':
      state.playing = false;
      state.ended = true;
      renderAllOfIt();
      return false;
    default:
      return false;
  }
}

function toggledMine(mine = [], reaction, on) {
  const set = new Set(mine ?? []);
  if (on) set.add(reaction);
  else set.delete(reaction);
  return REACTIONS.filter((r) => set.has(r));
}

function setHistory(page) {
  state.messages = [...(page?.messages ?? [])];
  state.more = Boolean(page?.more);
  state.track = page?.track_reactions ?? null;
  renderAllOfIt();
}

function myRole() {
  return state.members.get(state.me)?.role ?? 'guest';
}

function amModerator() {
  const role = myRole();
  return role === 'host' || role === 'co_host';
}

/**
 * Whether the viewer may chat (session.js asks the model: moderators always, guests and
 * spectators when the host's switch is on). Without it the messages stay, the input goes.
 */
export function setChatAllowed(allowed) {
  if (state.allowed === Boolean(allowed)) return;
  state.allowed = Boolean(allowed);
  renderForm();
}

function renderAllOfIt() {
  renderLog();
  renderTrack();
  renderForm();
}

function renderCounter() {
  const input = el('chat-input');
  const counter = el('chat-counter');
  if (!input || !counter) return;
  const used = [...input.value.trim()].length;
  counter.textContent = `${used} / ${MAX_CHARS}`;
  counter.dataset.over = String(used > MAX_CHARS);
}

function renderForm() {
  const input = el('chat-input');
  const send = el('chat-send');
  if (!input || !send) return;
  const muted = Boolean(state.members.get(state.me)?.muted);
  input.closest('form')?.toggleAttribute('hidden', state.ended || !state.allowed);
  let off = el('chat-off-note');
  if (!state.allowed && !state.ended && !off) {
    off = h('p', { class: 'empty', testid: 'chat-off-note' }, 'The host turned the chat off.');
    input.closest('form')?.before(off);
  }
  if (off) off.hidden = state.allowed || state.ended;
  input.disabled = muted || !state.me || state.ended;
  send.disabled = muted || !state.me || state.ended;
  // A phone cuts a long placeholder off: the reason gets a line of its own above the input.
  input.placeholder = muted ? 'You are muted' : 'Say something to the room';
  let note = el('chat-muted-note');
  if (muted && !note) {
    note = h('p', { class: 'chat-muted-note', id: 'chat-muted-note', testid: 'chat-muted-note' }, 'A moderator muted you in this chat.');
    input.closest('.chat-row')?.before(note);
  }
  if (note) note.hidden = !muted;
  const described = (input.getAttribute('aria-describedby') ?? '').split(' ').filter((id) => id && id !== 'chat-muted-note');
  input.setAttribute('aria-describedby', (muted ? ['chat-muted-note', ...described] : described).join(' '));
}

function reactionButtons(counts = {}, mine = [], label, onPress, testid) {
  return REACTIONS.map((reaction) => {
    const count = counts?.[reaction] ?? 0;
    const pressed = (mine ?? []).includes(reaction);
    return h('button', {
      type: 'button',
      class: 'chat-reaction',
      testid,
      'aria-pressed': pressed ? 'true' : 'false',
      'aria-label': `${label} ${reaction} (${count})`,
      dataset: { reaction },
      onclick: () => onPress(reaction),
    }, h('span', {}, reaction), count > 0 ? h('span', { class: 'chat-reaction-count' }, `(${count})`) : null);
  });
}

function renderLog() {
  const log = el('chat-list');
  if (!log) return;
  const moderator = amModerator();
  const items = state.messages.map((message) => {
    const author = message.author ?? {};
    const authorRole = state.members.get(author.id)?.role ?? 'guest';
    const authorMuted = Boolean(state.members.get(author.id)?.muted);
    const tools = [];
    if (moderator) {
      tools.push(h('button', { type: 'button', class: 'button button-ghost button-small', testid: 'chat-delete', 'aria-label': `Delete message from ${author.display_name}`, onclick: () => remove(message.id) }, 'Delete'));
      if (authorRole === 'guest' && author.id !== state.me) {
        const label = authorMuted ? 'Unmute' : 'Mute';
        tools.push(h('button', { type: 'button', class: 'button button-ghost button-small', testid: 'chat-mute', 'aria-label': `${label} ${author.display_name}`, onclick: () => mute(author.id, !authorMuted) }, label));
      }
    }
    const time = new Date(message.at_ms);
    return h('li', { class: 'chat-message', testid: 'chat-message', dataset: { messageId: String(message.id), author: author.id ?? '' } },
      h('div', { class: 'chat-meta' },
        h('span', { class: 'chat-author', testid: 'chat-author' }, author.display_name ?? author.id ?? ''),
        authorMuted ? h('span', { class: 'badge', testid: 'chat-muted-badge' }, 'Muted') : null,
        h('time', { class: 'chat-time muted', datetime: time.toISOString() }, time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }))),
      h('p', { class: 'chat-text', testid: 'chat-text' }, message.text),
      h('div', { class: 'chat-actions' },
        h('div', { class: 'chat-reactions', role: 'group', 'aria-label': `Reactions to ${author.display_name}'s message` },
          reactionButtons(message.reactions, message.mine, 'React', (reaction) => react(message.id, reaction), 'chat-react')),
        tools));
  });
  log.replaceChildren(...items);
  el('chat-empty').hidden = state.messages.length > 0;
  el('chat-older').hidden = !state.more;
}

function renderTrack() {
  const bar = el('track-reactions');
  if (!bar) return;
  bar.hidden = !state.playing;
  if (bar.hidden) return;
  bar.replaceChildren(
    h('span', { class: 'chat-track-label muted', 'aria-hidden': 'true' }, 'This track:'),
    ...reactionButtons(state.track?.reactions, state.track?.mine, 'React to the track', reactTrack, 'track-react'),
  );
}

function showError(text) {
  const box = el('chat-error');
  if (box) box.textContent = text;
}

function errorText(err) {
  if (!(err instanceof ApiError)) return 'Could not send; check your connection.';
  switch (err.code) {
    case 'rate_limited':
      return err.retryAfterS ? `You're sending too fast. Try again in ${err.retryAfterS} s.` : "You're sending too fast. Wait a moment.";
    case 'muted':
      return 'A moderator muted you in this chat.';
    case 'forbidden':
      return 'The host has closed the chat to guests.';
    case 'invalid_chat_text':
      return 'Messages are one line of up to 500 characters.';
    default:
      return err.message || 'That did not work; try again.';
  }
}

async function send() {
  const input = el('chat-input');
  const text = input.value.trim();
  if (!text) {
    showError('Type a message first.');
    return;
  }
  if ([...text].length > MAX_CHARS) {
    showError('Messages are one line of up to 500 characters.');
    return;
  }
  try {
    await postJson(`/api/sessions/${state.sessionId}/chat`, { text });
    input.value = '';
    renderCounter();
    showError('');
  } catch (err) {
    showError(errorText(err));
  }
}

async function react(id, reaction) {
  try {
    await postJson(`/api/sessions/${state.sessionId}/chat/${id}/reactions`, { reaction });
  } catch (err) {
    showError(errorText(err));
  }
}

async function reactTrack(reaction) {
  try {
    await postJson(`/api/sessions/${state.sessionId}/track-reactions`, { reaction });
  } catch (err) {
    showError(errorText(err));
  }
}

async function remove(id) {
  try {
    await deleteJson(`/api/sessions/${state.sessionId}/chat/${id}`);
  } catch (err) {
    showError(errorText(err));
  }
}

async function mute(userId, muted) {
  try {
    await postJson(`/api/sessions/${state.sessionId}/members/${encodeURIComponent(userId)}/mute`, { muted });
  } catch (err) {
    showError(errorText(err));
  }
}

async function loadOlder() {
  const first = state.messages[0];
  if (!first) return;
  try {
    const page = await getJson(`/api/sessions/${state.sessionId}/chat?before=${first.id}&limit=50`);
    state.messages = [...page.messages, ...state.messages];
    state.more = page.more;
    renderLog();
  } catch (err) {
    showError(errorText(err));
  }
}

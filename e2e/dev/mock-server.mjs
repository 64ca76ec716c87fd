// DEV ONLY — not used by the tests. Serves web/ with a fake Sesh API + WebSocket so the pages can
// be looked at before (or without) the real `sesh`. Run: node e2e/dev/mock-server.mjs [port] [lobby|playing]
// Log in as someone by opening /auth/login?user=bob&next=/s/demo (default alice).
// MOCK_PLAYER=1 adds the newer player fields (volume, shuffle, repeat); MOCK_SPOTIFY=host_took_over
// sends that status in the welcome. The queue has the collaborative fields (ids, votes, an added
// entry, the committed one, skip votes); /search answers from the same titles.
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = fileURLToPath(new URL('../../web/', import.meta.url));
const port = Number(process.argv[2] ?? 8090);
const mode = process.argv[3] ?? 'playing';
const CSP = "default-src 'self'; img-src 'self' http://127.0.0.1:*; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

const users = { alice: 'Alice Andersen', bob: 'Bob Brown', carol: 'Carol Chen' };
const palette = ['#7a5cff', '#ff5c8a', '#1ed760', '#ffb35c', '#1b9bd7', '#e05cff'];
const titles = ['Midnight Drive', 'Paper Planes Over Tokyo', 'Golden Hour', 'Static Hearts', 'Low Tide', 'Neon Rain',
  'Slow Burn', 'Glass Houses', 'Northern Lights', 'Runaway Train', 'Velvet Morning', 'After Hours'];
const queue = titles.map((name, i) => ({
  track: {
    id: `t${i}`, uri: `spotify:track:t${i}`, name, artists: [['Lumen', 'The Night Owls'][i % 2], ...(i % 3 === 0 ? ['Kai Rivers'] : [])],
    album: `${name} (Deluxe)`, image_url: `http://127.0.0.1:${port}/cover/${i}.svg`, duration_ms: 180000 + i * 7000,
  },
  added_by: [['alice', 'bob', 'carol'][i % 3], ...(i === 4 ? ['carol'] : [])],
  id: i + 1, origin: i === 5 || i === 7 ? 'added' : 'top_tracks', votes: [0, 0, 0, 0, 2, 1, -1, 3, 0, 0, 0, 1][i], your_vote: i === 4 ? 1 : 0,
}));
const session = {
  id: 'demo', state: mode, host: 'alice', invite_code: 'Xy7pQ2mN8vLk',
  join_url: `http://127.0.0.1:${port}/j/Xy7pQ2mN8vLk`,
  members: Object.entries(users).map(([id, display_name], i) => ({ id, display_name, role: i === 0 ? 'host' : 'guest', online: i !== 2 })),
  queue: mode === 'playing' ? queue : [], position: mode === 'playing' ? 2 : 0,
  device: 'dev1',
  committed_id: mode === 'playing' ? 4 : null,
  skip: { entry_id: 3, votes: 1, needed: 2, you_voted: false },
  settings: {
    capacity: 50, shuffle_mode: 'fair', name: null, guest_permissions: ['add_tracks', 'vote', 'vote_skip', 'chat', 'show_invite'],
    queue_order: 'fair', max_queued_per_member: 3, max_track_ms: 600000, no_replay_plays: 20, adding_locked: false, banned_tracks: [],
  },
};
const extraTracks = ['Golden Harbor Nights Like These (Extended Radio Edit)', 'Quiet Satellite', 'Hold the Lantern'].map((name, i) => ({
  id: `x${i}`, uri: `spotify:track:x${i}`, name, artists: ['Mara Lind', 'Kofi Okafor'].slice(0, 1 + (i % 2)), album: name,
  image_url: `http://127.0.0.1:${port}/cover/${i + 3}.svg`, duration_ms: i === 2 ? 900000 : 201000 + i * 9000,
}));
const extras = process.env.MOCK_PLAYER ? { volume_percent: 62, shuffle: true, repeat: 'track', changes: [] } : {};
const playback = () => ({ track: queue[2].track, is_playing: true, progress_ms: 61000, server_time_ms: Date.now(), device: { id: 'dev1', name: 'Living Room Speaker', supports_volume: true }, added_by: queue[2].added_by, position: 2, ...extras });
const spotify = process.env.MOCK_SPOTIFY === 'host_took_over'
  ? { state: 'host_took_over', message: 'the host is playing something else in Spotify; the host can resume the session' }
  : { state: 'ok' };

function userOf(req) {
  const m = /sesh_sid=(\w+)/.exec(req.headers.cookie ?? '');
  return m && users[m[1]] ? m[1] : null;
}
function json(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Security-Policy': CSP });
  res.end(JSON.stringify(body));
}
async function file(res, path) {
  try {
    const data = await readFile(join(WEB, normalize(path)));
    res.writeHead(200, { 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream', 'Content-Security-Policy': CSP, 'Cache-Control': 'no-cache' });
    res.end(data);
  } catch { json(res, 404, { error: { code: 'not_found', message: 'no such file' } }); }
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${port}`);
  const p = url.pathname;
  const me = userOf(req);
  if (p === '/') return file(res, 'index.html');
  if (p.startsWith('/j/')) return file(res, 'join.html');
  if (p.startsWith('/s/')) return file(res, 'session.html');
  if (p.startsWith('/assets/')) return file(res, p.slice(1));
  if (p.startsWith('/cover/')) {
    const i = Number(p.match(/\d+/)?.[0] ?? 0);
    res.writeHead(200, { 'Content-Type': 'image/svg+xml' });
    return res.end(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 300"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${palette[i % 6]}"/><stop offset="1" stop-color="${palette[(i + 2) % 6]}"/></linearGradient></defs><rect width="300" height="300" fill="url(#g)"/><circle cx="150" cy="150" r="80" fill="none" stroke="#fff" stroke-opacity=".5" stroke-width="14"/></svg>`);
  }
  if (p === '/auth/login') {
    const who = url.searchParams.get('user') ?? 'alice';
    res.writeHead(302, { Location: url.searchParams.get('next') ?? '/', 'Set-Cookie': `sesh_sid=${who}; Path=/; HttpOnly; SameSite=Lax` });
    return res.end();
  }
  if (p === '/auth/logout') { res.writeHead(204, { 'Set-Cookie': 'sesh_sid=; Path=/; Max-Age=0' }); return res.end(); }
  if (p === '/api/config') return json(res, 200, { demo: true, version: '0.1.0' });
  if (p.startsWith('/api/invites/')) return json(res, 200, { session_id: 'demo', host: { id: 'alice', display_name: users.alice }, member_count: 3, state: session.state });
  if (p === '/api/me/login') return json(res, 200, me ? { logged_in: true, id: me, display_name: users[me], needs_reauth: false } : { logged_in: false });
  if (!me) return json(res, 401, { error: { code: 'unauthorized', message: 'log in first' } });
  if (p === '/api/me') return json(res, 200, { id: me, display_name: users[me] });
  if (p === '/api/me/sessions') return json(res, 200, [{ id: 'demo', state: session.state, role: me === 'alice' ? 'host' : 'guest', host: { id: 'alice', display_name: users.alice }, member_count: 3 }]);
  if (p === '/api/me/devices') return json(res, 200, { devices: [
    { id: 'dev1', name: 'Living Room Speaker', type: 'Speaker', is_active: true, is_restricted: false },
    { id: 'dev2', name: `${users[me].split(' ')[0]}’s MacBook`, type: 'Computer', is_active: false, is_restricted: false },
    { id: 'dev3', name: 'Kitchen TV', type: 'TV', is_active: false, is_restricted: true },
  ] });
  if (p === '/api/sessions/demo') return json(res, 200, session);
  if (p === '/api/sessions/demo/qr.svg') {
    res.writeHead(200, { 'Content-Type': 'image/svg+xml' });
    let rects = '';
    for (let y = 0; y < 25; y++) for (let x = 0; x < 25; x++) if ((x * 7 + y * 13 + x * y) % 3 === 0) rects += `<rect x="${x}" y="${y}" width="1" height="1"/>`;
    return res.end(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 25 25">${rects}</svg>`);
  }
  if (p === '/api/sessions/demo/search') {
    const q = (url.searchParams.get('q') ?? '').toLowerCase();
    if (q === 'slow') return json(res, 429, { error: { code: 'rate_limited', message: 'Too many searches: at most 20 a minute', retry_after_s: 42 } });
    const all = [...extraTracks, ...queue.map((e) => e.track)];
    return json(res, 200, { tracks: all.filter((t) => `${t.name} ${t.artists.join(' ')}`.toLowerCase().includes(q.split(' ')[0])).slice(0, 10) });
  }
  if (req.method === 'POST' && p === '/api/sessions/demo/queue') return json(res, 409, { error: { code: 'member_queue_full', message: 'You already have 3 tracks waiting; add more once one of them has played.' } });
  if (req.method === 'POST' && /\/queue\/\d+\/vote$/.test(p)) return json(res, 200, { id: Number(p.split('/')[5]), votes: 1, your_vote: 1 });
  if (req.method === 'POST' && p === '/api/sessions/demo/start') return json(res, 403, { error: { code: 'premium_required', message: 'premium' } });
  if (req.method === 'POST' && p.startsWith('/api/sessions/demo/player/')) return json(res, 429, { error: { code: 'rate_limited', message: 'slow down', retry_after_s: 7 } });
  return json(res, 404, { error: { code: 'not_found', message: 'nothing here' } });
});

server.on('upgrade', (req, sock) => {
  const me = userOf(req);
  const key = req.headers['sec-websocket-key'];
  if (!me || !key) { sock.end('HTTP/1.1 403 Forbidden\r\n\r\n'); return; }
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  const send = (obj) => {
    const data = Buffer.from(JSON.stringify(obj));
    const head = data.length < 126 ? Buffer.from([0x81, data.length])
      : Buffer.from([0x81, 126, data.length >> 8, data.length & 255]);
    sock.write(Buffer.concat([head, data]));
  };
  send({ type: 'welcome', seq: 7, you: { id: me, display_name: users[me], role: me === 'alice' ? 'host' : 'guest' },
    session, playback: mode === 'playing' ? playback() : null, spotify });
  sock.on('data', () => {});
  sock.on('error', () => {});
});

server.listen(port, '127.0.0.1', () => console.log(`mock on http://127.0.0.1:${port} (${mode})`));

// Human words for every error code the API and the WebSocket send. Pure data: no DOM,
// so the e2e unit tests import it directly.

/**
 * Each entry: title (what happened), message (what to do), and whether logging in again helps.
 * Codes come from docs/http-api.md, sesh-session's SessionError and sesh-spotify's SpotifyError.
 */
const MESSAGES = {
  premium_required: {
    title: 'Playback control needs Spotify Premium',
    message: 'Spotify only lets Premium accounts control playback, and the music plays from the host’s account. Hand the session to a friend with Premium: “Make host” next to their name, then they press Start.',
  },
  no_active_device: {
    title: 'Open Spotify on a device first',
    message: 'Start the Spotify app on a phone, computer or speaker, then refresh the device list.',
  },
  volume_control_disallowed: {
    title: 'This device sets its own volume',
    message: 'Spotify cannot change the volume of this speaker or TV from here. Use the device itself.',
  },
  start_in_progress: {
    title: 'The music is already starting',
    message: 'Spotify is still answering the first Start. Wait a moment.',
  },
  entry_not_found: {
    title: 'That track is no longer in the queue',
    message: 'The queue changed in the meantime. Look again.',
  },
  rate_limited: {
    title: 'Spotify asked us to slow down',
    message: 'Try again in a moment.',
  },
  session_full: {
    title: 'This session is full',
    message: 'Ask the host to make room, or start a session of your own.',
  },
  session_ended: {
    title: 'This session has ended',
    message: 'The host ended it. You can start a session of your own.',
  },
  reauth_required: {
    title: 'Your Spotify login has expired',
    message: 'Log in with Spotify again to carry on.',
    login: true,
  },
  unauthorized: {
    title: 'You are logged out',
    message: 'Log in with Spotify to carry on.',
    login: true,
  },
  unauthenticated: {
    title: 'You are logged out',
    message: 'Log in with Spotify to carry on.',
    login: true,
  },
  not_logged_in: {
    title: 'You are logged out',
    message: 'Log in with Spotify to carry on.',
    login: true,
  },
  forbidden: {
    title: 'Only the host can do that',
    message: 'Ask the host of this session.',
  },
  not_a_member: {
    title: 'You are not in this session',
    message: 'Open the invite link the host sent you to join.',
  },
  banned: {
    title: 'The host removed you from this session',
    message: 'You can join again only if the host lets you back in.',
  },
  kicked: {
    title: 'The host removed you from this session',
    message: 'You can join again only if the host lets you back in.',
  },
  not_registered: {
    title: 'Your Spotify account is not on this Sesh’s list yet',
    message: 'Spotify lets this Sesh serve only the accounts its operator added. Ask them to add you in Spotify’s developer dashboard (User Management), then log in again — or join as a spectator right now, no Spotify account needed.',
  },
  no_seats: {
    title: 'All Spotify seats are taken',
    message: 'Spotify lets this Sesh serve only a few accounts, and they are all in use. Join as a spectator right now (no Spotify account needed), or ask the operator to free a seat.',
  },
  login_expired: {
    title: 'Spotify ended your login',
    message: 'Log in with Spotify again to carry on.',
    login: true,
  },
  invalid_display_name: {
    title: 'That name does not work',
    message: 'Use 1 to 40 characters, on one line.',
  },
  already_logged_in: {
    title: 'You are logged in with Spotify',
    message: 'This browser is logged in with Spotify, so you join with your account instead. Reload the page and press Join.',
  },
  invite_not_found: {
    title: 'This invite link does not work',
    message: 'It may be mistyped, or the host replaced it. Ask for a new link.',
  },
  session_not_found: {
    title: 'Session not found',
    message: 'It may have ended, or the link is mistyped.',
  },
  not_found: {
    title: 'Not found',
    message: 'The link may be mistyped, or the session is gone.',
  },
  no_tracks: {
    title: 'No tracks to play yet',
    message: 'Nobody in the session has top tracks on Spotify. Listen to some music and try again.',
  },
  already_started: {
    title: 'The music is already playing',
    message: 'This session has already started.',
  },
  not_started: {
    title: 'The session has not started yet',
    message: 'The host starts the music first.',
  },
  invalid_target: {
    title: 'That did not work',
    message: 'That member is not in this session any more.',
  },
  device_not_found: {
    title: 'That device is gone',
    message: 'Refresh the device list and pick another one.',
  },
  restricted_device: {
    title: 'That device cannot be controlled',
    message: 'Spotify does not allow remote control of it. Pick another device.',
  },
  invalid_device: {
    title: 'Pick a device first',
    message: 'Choose where the music should play, then press Start.',
  },
  invalid_json: {
    title: 'That did not work',
    message: 'Sesh did not understand the request. Reload the page and try again.',
  },
  invalid_query: {
    title: 'That did not work',
    message: 'The address looks broken. Go back to the start page and try again.',
  },
  invalid_next: {
    title: 'That login link is broken',
    message: 'Go back to the start page and log in from there.',
  },
  unavailable: {
    title: 'Sesh is busy or restarting',
    message: 'Try again in a moment.',
  },
  invalid_position: {
    title: 'That track is not in the queue',
    message: 'Reload the page and try again.',
  },
  invalid_name: {
    title: 'That name does not work',
    message: 'Use at most 60 characters, on one line.',
  },
  invalid_capacity: {
    title: 'That many people do not fit',
    message: 'Choose a smaller number of people.',
  },
  spotify_not_found: {
    title: 'Spotify could not find that',
    message: 'The device may have gone offline. Refresh the device list and try again.',
  },
  spotify_unavailable: {
    title: 'Spotify is not answering',
    message: 'Try again in a moment.',
  },
  spotify_error: {
    title: 'Spotify refused that',
    message: 'Try again in a moment.',
  },
  bad_origin: {
    title: 'Request blocked',
    message: 'Open Sesh from its own address and try again.',
  },
  csrf: {
    title: 'Request blocked',
    message: 'Open Sesh from its own address and try again.',
  },
  network: {
    title: 'Cannot reach Sesh',
    message: 'Check your connection and try again.',
  },
  server_error: {
    title: 'Something went wrong on our side',
    message: 'Try again in a moment.',
  },
  internal: {
    title: 'Something went wrong on our side',
    message: 'Try again in a moment.',
  },
  bad_request: {
    title: 'That did not work',
    message: 'Reload the page and try again.',
  },
};

/**
 * Turns an error code into words for people.
 * @param {string} code
 * @param {{retryAfterS?: number|null, fallback?: string}} [extra]
 * @returns {{code: string, title: string, message: string, login: boolean, retryAfterS: number|null}}
 */
export function describeError(code, extra = {}) {
  const known = MESSAGES[code];
  const retryAfterS = extra.retryAfterS ?? null;
  if (!known) {
    return {
      code,
      title: 'That did not work',
      message: extra.fallback || 'Try again in a moment.',
      login: false,
      retryAfterS,
    };
  }
  let message = known.message;
  if (code === 'rate_limited' && retryAfterS != null) message = rateLimitMessage(retryAfterS);
  return { code, title: known.title, message, login: Boolean(known.login), retryAfterS };
}

/** The countdown text shown while a rate limit lasts. */
export function rateLimitMessage(secondsLeft) {
  const s = Math.max(0, Math.ceil(secondsLeft));
  if (s === 0) return 'You can try again now.';
  return `Try again in ${s} ${s === 1 ? 'second' : 'seconds'}.`;
}

/** Whether the code is one the messages table knows (used by tests to keep it complete). */
export function isKnownCode(code) {
  return Object.hasOwn(MESSAGES, code);
}

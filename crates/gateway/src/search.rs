//! Finding tracks to add: members' searches of Spotify's catalogue and the track links they
//! paste.
//!
//! A search asks Spotify with the searching member's own token, for their market
//! (`market=from_token`), and its answer is kept for the session for [`SEARCH_TTL`]: friends
//! in one room look for the same songs, so five members typing "Dancing Queen" within ten
//! minutes cost one Spotify call, and identical searches at the same moment wait for that one
//! call instead of making their own. The cache holds at most [`SESSION_ENTRIES`] answers per
//! session and the searches of [`SESSIONS`] sessions (least recently used first out). Each
//! member's searches are limited (`SESH_SEARCHES_PER_MINUTE`), cache hits included: what is
//! limited is their typing, not Spotify's load.
//!
//! The members of a session are taken to share one market (they listen together, on the
//! host's account): the key holds the market asked for, which is always the token's.

use std::{fmt, sync::Arc, time::Duration};

use moka::policy::EvictionPolicy;
use sesh_session::{SessionId, Track, TrackId, UserId};
use sesh_spotify::{Market, SpotifyError};

use crate::{accounts::CallError, limits::LimitExceeded, state::Core, wire::track_from_spotify};

/// How long a search's answer serves the session's members.
pub const SEARCH_TTL: Duration = Duration::from_secs(600);
/// Answers kept per session; past it the least recently used goes.
pub const SESSION_ENTRIES: u64 = 64;
/// Sessions whose answers are kept; past it the least recently searching session's go. With
/// [`SESSION_ENTRIES`], at most 4,096 answers of [`RESULTS`] tracks (tracks shared through the
/// [`crate::tracks::TrackCache`]), a few MB.
pub const SESSIONS: u64 = 64;
/// Tracks asked of Spotify per search: the most it gives since February 2026.
pub const RESULTS: u32 = 10;
/// Longest query, in characters (after trimming).
pub const MAX_QUERY_CHARS: usize = 100;
/// Every search asks for the searching member's own market.
const MARKET: Market = Market::FromToken;
/// Rounds of waiting on another member's call that failed on their credentials before a
/// member asks Spotify on their own.
const MAX_SHARED_ROUNDS: usize = 3;

/// A member's search text, checked and normalized: trimmed, lower-cased, each run of white
/// space one space. Spotify's search ignores case and spacing, so searches that differ only
/// there are one search (one cache entry, one Spotify call).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchQuery(String);

/// Why a search text is refused (`400 invalid_query`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidQuery {
    /// Nothing but white space.
    #[error("type something to search for")]
    Empty,
    /// Over [`MAX_QUERY_CHARS`] characters.
    #[error("a search is at most {MAX_QUERY_CHARS} characters")]
    TooLong,
    /// A control character (a tab or line break inside it, for instance).
    #[error("a search cannot contain control characters")]
    ControlCharacter,
}

impl SearchQuery {
    /// Checks and normalizes what a member typed.
    pub fn parse(raw: &str) -> Result<Self, InvalidQuery> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InvalidQuery::Empty);
        }
        if trimmed.chars().count() > MAX_QUERY_CHARS {
            return Err(InvalidQuery::TooLong);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidQuery::ControlCharacter);
        }
        let words: Vec<String> = trimmed.split_whitespace().map(str::to_lowercase).collect();
        Ok(Self(words.join(" ")))
    }

    /// The normalized text (what Spotify is asked).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One search's answer: up to [`RESULTS`] tracks, in Spotify's order.
pub type SearchResults = Arc<[Arc<Track>]>;

/// Why a search has no answer.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The member searched too often (`SESH_SEARCHES_PER_MINUTE`).
    #[error(transparent)]
    Limited(#[from] LimitExceeded),
    /// Spotify refused or failed (a revoked login of the member is `ReauthRequired`).
    #[error(transparent)]
    Spotify(SpotifyError),
    /// The member's credentials could not be read.
    #[error("could not read the Spotify login")]
    Storage(#[source] anyhow::Error),
}

/// A search's Spotify call that failed, as every request waiting on it receives it.
#[derive(Debug, thiserror::Error)]
#[error("a search made with {by}'s login failed")]
struct FailedCall {
    /// Whose token the call was made with.
    by: UserId,
    #[source]
    error: CallError,
}

impl FailedCall {
    /// Whether the failure was the caller's credentials (revoked, refused, unreadable), not
    /// Spotify or the search itself: another member's token may well work.
    fn is_about_credentials(&self) -> bool {
        match &self.error {
            CallError::Storage(_) => true,
            CallError::Spotify(e) => matches!(
                e,
                SpotifyError::ReauthRequired
                    | SpotifyError::Unauthorized { .. }
                    | SpotifyError::Forbidden { .. }
                    | SpotifyError::NotRegistered { .. }
                    | SpotifyError::PremiumRequired { .. }
            ),
        }
    }
}

impl From<Arc<FailedCall>> for SearchError {
    fn from(failed: Arc<FailedCall>) -> Self {
        match Arc::try_unwrap(failed) {
            // Nobody else waited: the error itself, with its cause chain for the log.
            Ok(failed) => match failed.error {
                CallError::Spotify(e) => Self::Spotify(e),
                CallError::Storage(e) => Self::Storage(e.into()),
            },
            Err(shared) => match &shared.error {
                CallError::Spotify(e) => Self::Spotify(e.duplicate()),
                CallError::Storage(e) => Self::Storage(anyhow::anyhow!("{e}")),
            },
        }
    }
}

/// A session's cached answers, by query and market.
type SessionSearches = moka::future::Cache<(SearchQuery, Market), SearchResults>;

/// The searches of every session (see the module docs). One per server.
pub struct SearchCache {
    sessions: moka::sync::Cache<SessionId, SessionSearches>,
}

impl Default for SearchCache {
    fn default() -> Self {
        Self {
            sessions: moka::sync::Cache::builder()
                .max_capacity(SESSIONS)
                .time_to_idle(SEARCH_TTL)
                .eviction_policy(EvictionPolicy::lru())
                .build(),
        }
    }
}

impl fmt::Debug for SearchCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchCache")
            .field("sessions", &self.sessions.entry_count())
            .finish_non_exhaustive()
    }
}

impl SearchCache {
    /// Tracks matching `query` for `user`, a member of `session` (the caller checks that:
    /// `Action::Search`). Counts against the member's search limit first, then answers from
    /// the session's cache, or asks Spotify with the member's token — once for everyone who
    /// asks the same meanwhile.
    pub async fn search(
        &self,
        core: &Core,
        session: SessionId,
        user: &UserId,
        payer: &UserId,
        query: &SearchQuery,
    ) -> Result<SearchResults, SearchError> {
        core.limits.check_search(user)?;
        // From here on, whose login asks Spotify.
        let user = payer;
        let searches = self.sessions.get_with(session, session_searches);
        let key = (query.clone(), MARKET);
        for _ in 0..MAX_SHARED_ROUNDS {
            match searches
                .try_get_with(key.clone(), ask_spotify(core, user, query))
                .await
            {
                Ok(results) => return Ok(results),
                // Another member's login failed them; ours may not: wait on the next call
                // (ours, or another waiter's).
                Err(failed) if failed.by != *user && failed.is_about_credentials() => {
                    tracing::debug!(by = %failed.by, "a shared search failed on its caller's login; asking again");
                }
                Err(failed) => return Err(failed.into()),
            }
        }
        // Others' logins kept failing: ask with ours alone.
        let results = ask_spotify(core, user, query).await.map_err(Arc::new)?;
        searches.insert(key, results.clone()).await;
        Ok(results)
    }
}

/// A session's answers, new.
fn session_searches() -> SessionSearches {
    moka::future::Cache::builder()
        .max_capacity(SESSION_ENTRIES)
        .time_to_live(SEARCH_TTL)
        .eviction_policy(EvictionPolicy::lru())
        .build()
}

/// One Spotify search with `user`'s token: the first [`RESULTS`] tracks, shared.
async fn ask_spotify(
    core: &Core,
    user: &UserId,
    query: &SearchQuery,
) -> Result<SearchResults, FailedCall> {
    // A member waits on it: first in line when the budget is short.
    core.budget
        .acquire(
            crate::budget::Priority::Interactive,
            std::time::Instant::now(),
        )
        .await;
    let page = core
        .accounts
        .call(&core.spotify, user, |spotify, auth| async move {
            spotify
                .search_tracks(&auth, query.as_str(), MARKET, RESULTS, 0)
                .await
        })
        .await
        .map_err(|error| {
            // The query is the member's own words: it stays out of the log.
            tracing::info!(user = %user, error = %error, "a track search failed");
            FailedCall {
                by: user.clone(),
                error,
            }
        })?;
    let tracks = page
        .items
        .iter()
        .filter_map(track_from_spotify)
        .map(|track| core.tracks.share(track));
    Ok(tracks.collect())
}

/// Why a pasted track cannot be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Spotify has no track with this id (`404 track_not_found`).
    #[error("Spotify has no track {0}")]
    NotFound(TrackId),
    /// The member's requests to Spotify are over `SESH_SPOTIFY_USER_RATE`.
    #[error(transparent)]
    Limited(#[from] LimitExceeded),
    /// Spotify refused or failed, or the member's credentials could not be read.
    #[error(transparent)]
    Call(#[from] CallError),
}

/// The track `id`, for `user` (a member adding it): the copy the server already holds when
/// one is in memory (in a queue, a member's top tracks, a cached search answer: adding a
/// search result costs no Spotify call), else Spotify's `GET /v1/tracks/{id}` with the
/// member's token, which counts against their `SESH_SPOTIFY_USER_RATE`.
pub async fn resolve_track(
    core: &Core,
    user: &UserId,
    id: &TrackId,
) -> Result<Arc<Track>, ResolveError> {
    if let Some(track) = core.tracks.get(id) {
        return Ok(track);
    }
    core.limits.check_spotify_call(user)?;
    let answer = core
        .accounts
        .call(&core.spotify, user, |spotify, auth| async move {
            spotify.track(&auth, id.as_str()).await
        })
        .await;
    let track = match answer {
        Ok(track) => track,
        // A malformed id is a 400 at Spotify: just as unknown.
        Err(CallError::Spotify(
            SpotifyError::NotFound { .. } | SpotifyError::BadRequest { .. },
        )) => {
            return Err(ResolveError::NotFound(id.clone()));
        }
        Err(e) => return Err(e.into()),
    };
    let track = track_from_spotify(&track).ok_or_else(|| ResolveError::NotFound(id.clone()))?;
    Ok(core.tracks.share(track))
}

/// Length of a Spotify id.
const ID_LEN: usize = 22;

/// The track a member pasted: `spotify:track:ID`, or a link to it (`https://open.spotify.com/
/// track/ID`, with or without the scheme, a `/intl-xx` language segment, a `?si=…` or other
/// query, or a `#…`), white space around it allowed. `ID` is 22 base62 characters. Anything
/// else (an album or playlist, another host, a malformed id) is `None`.
pub fn track_id_from_link(input: &str) -> Option<TrackId> {
    let input = input.trim();
    let id = match input.strip_prefix("spotify:track:") {
        Some(id) => id,
        None => track_path_id(strip_host(input)?)?,
    };
    is_spotify_id(id).then(|| TrackId::new(id))
}

/// What follows `open.spotify.com` in a link, with or without an `http(s)://` scheme.
fn strip_host(link: &str) -> Option<&str> {
    let rest = ["https://", "http://"]
        .iter()
        .find_map(|scheme| strip_prefix_ignore_case(link, scheme))
        .unwrap_or(link);
    strip_prefix_ignore_case(rest, "open.spotify.com")
}

/// The id in a link's path (`[/intl-xx]/track/ID[?…|#…]`).
fn track_path_id(path: &str) -> Option<&str> {
    let path = match path.strip_prefix("/intl-") {
        Some(rest) => {
            let (language, rest) = rest.split_at(rest.find('/')?);
            is_language(language).then_some(rest)?
        }
        None => path,
    };
    let id_and_rest = path.strip_prefix("/track/")?;
    let end = id_and_rest.find(['?', '#']).unwrap_or(id_and_rest.len());
    Some(&id_and_rest[..end])
}

/// A language tag as Spotify puts it in `/intl-xx/` (`de`, `pt-BR`, …).
fn is_language(tag: &str) -> bool {
    (2..=8).contains(&tag.len())
        && tag.starts_with(|c: char| c.is_ascii_alphabetic())
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// 22 base62 characters.
fn is_spotify_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const ID: &str = "4uLU6hMCjMI75M1A2tKUQC";

    #[test]
    fn queries_are_trimmed_lower_cased_and_spaced_once() {
        let one = SearchQuery::parse("  Dancing   QUEEN ").unwrap();
        assert_eq!(one.as_str(), "dancing queen");
        assert_eq!(SearchQuery::parse("dancing queen").unwrap(), one);
        assert_eq!(
            SearchQuery::parse("dancing\u{a0}queen").unwrap(),
            one,
            "no-break space"
        );
        assert_eq!(SearchQuery::parse("   "), Err(InvalidQuery::Empty));
        assert_eq!(SearchQuery::parse(""), Err(InvalidQuery::Empty));
        assert_eq!(
            SearchQuery::parse("abba\tgold"),
            Err(InvalidQuery::ControlCharacter)
        );
        assert_eq!(
            SearchQuery::parse("a\u{7}"),
            Err(InvalidQuery::ControlCharacter)
        );
        // Characters, not bytes; counted after trimming.
        let hundred = "é".repeat(MAX_QUERY_CHARS);
        assert!(SearchQuery::parse(&format!("  {hundred}\n")).is_ok());
        assert_eq!(
            SearchQuery::parse(&format!("{hundred}e")),
            Err(InvalidQuery::TooLong)
        );
    }

    #[test]
    fn track_links_in_every_form_members_paste() {
        for link in [
            format!("spotify:track:{ID}"),
            format!("https://open.spotify.com/track/{ID}"),
            format!("https://open.spotify.com/track/{ID}?si=9e6a7c2bd5d84f1c"),
            format!("https://open.spotify.com/intl-de/track/{ID}?si=abc&context=x"),
            format!("open.spotify.com/intl-pt-BR/track/{ID}"),
            format!("http://open.spotify.com/track/{ID}#t=1:02"),
            format!("HTTPS://Open.Spotify.com/track/{ID}"),
            format!(" \t https://open.spotify.com/track/{ID}?si=x \n"),
        ] {
            assert_eq!(track_id_from_link(&link), Some(TrackId::new(ID)), "{link}");
        }
        for link in [
            String::new(),
            ID.to_owned(),
            format!("spotify:album:{ID}"),
            format!("spotify:track:{ID}x"),
            format!("spotify:track:{}", &ID[1..]),
            format!("spotify:track:{}-", &ID[1..]),
            format!("https://open.spotify.com/album/{ID}"),
            format!("https://open.spotify.com/playlist/{ID}"),
            format!("https://open.spotify.com/track/{ID}/"),
            format!("https://open.spotify.com/track/{ID}x?si=1"),
            format!("https://evil.example/track/{ID}"),
            format!("https://open.spotify.com.evil.example/track/{ID}"),
            format!("https://open.spotify.com/intl-/track/{ID}"),
            format!("https://open.spotify.com/intl-d/track/{ID}"),
            format!("https://open.spotify.com/intl-de/de/track/{ID}"),
            format!("ftp://open.spotify.com/track/{ID}"),
            format!("see https://open.spotify.com/track/{ID}"),
            format!("spotify:track:{ID} spotify:track:{ID}"),
            format!("spotify:track:{}", "é".repeat(11)),
        ] {
            assert_eq!(track_id_from_link(&link), None, "{link:?}");
        }
    }

    /// One way of writing a link to `id`.
    fn link_to(id: String) -> impl Strategy<Value = String> {
        let padding = "[ \t\n]{0,3}";
        let form = prop_oneof![
            Just(format!("spotify:track:{id}")),
            (
                prop_oneof![
                    Just(""),
                    Just("https://"),
                    Just("http://"),
                    Just("HTTPS://")
                ],
                prop_oneof![Just("open.spotify.com"), Just("OPEN.spotify.COM")],
                proptest::option::of("[a-z]{2}(-[A-Z]{2})?"),
                proptest::option::of("[?#][ -~]{0,30}"),
            )
                .prop_map({
                    let id = id.clone();
                    move |(scheme, host, language, tail)| {
                        let intl = language.map(|l| format!("/intl-{l}")).unwrap_or_default();
                        let tail = tail.unwrap_or_default();
                        format!("{scheme}{host}{intl}/track/{id}{tail}")
                    }
                }),
        ];
        (padding, form, padding).prop_map(|(before, link, after)| format!("{before}{link}{after}"))
    }

    proptest! {
        #[test]
        fn every_form_of_a_link_gives_its_id(
            (id, link) in "[0-9A-Za-z]{22}".prop_flat_map(|id| (Just(id.clone()), link_to(id)))
        ) {
            prop_assert_eq!(track_id_from_link(&link), Some(TrackId::new(id)));
        }

        #[test]
        fn a_link_whose_id_is_not_22_base62_characters_gives_nothing(
            id in prop_oneof!["[0-9A-Za-z]{0,21}", "[0-9A-Za-z]{23,30}", "[0-9A-Za-z]{10}[^0-9A-Za-z?#]{1,3}[0-9A-Za-z]{9}"],
            form in 0..3usize,
        ) {
            let link = match form {
                0 => format!("spotify:track:{id}"),
                1 => format!("https://open.spotify.com/track/{id}"),
                _ => format!("open.spotify.com/intl-fr/track/{id}?si=1"),
            };
            prop_assert_eq!(track_id_from_link(&link), None, "{}", link);
        }

        #[test]
        fn anything_else_never_panics_and_only_ever_gives_an_id_it_contains(text in any::<String>()) {
            if let Some(id) = track_id_from_link(&text) {
                prop_assert!(is_spotify_id(id.as_str()));
                prop_assert!(text.contains(id.as_str()));
            }
        }

        #[test]
        fn text_before_a_link_spoils_it(
            junk in "\\PC{1,5}".prop_filter("not only white space", |j| !j.trim().is_empty()),
            link in "[0-9A-Za-z]{22}".prop_flat_map(link_to),
        ) {
            let spoiled = format!("{junk}{}", link.trim_start());
            // Unless the junk itself completes a form (a scheme before a bare host).
            prop_assume!(!["https://", "http://"].iter().any(|s| spoiled.to_ascii_lowercase().starts_with(s)));
            prop_assert_eq!(track_id_from_link(&spoiled), None, "{}", spoiled);
        }

        #[test]
        fn equal_queries_up_to_case_and_spacing_are_one(words in proptest::collection::vec("[a-zA-Z0-9]{1,8}", 1..5), gaps in proptest::collection::vec(" {1,3}", 5)) {
            let plain = words.join(" ");
            let spaced: String = words.iter().zip(&gaps).map(|(w, g)| format!("{g}{}", w.to_uppercase())).collect();
            prop_assert_eq!(SearchQuery::parse(&plain).unwrap(), SearchQuery::parse(&spaced).unwrap());
        }
    }
}

/// [`resolve_track`] against the emulator, with a real `Core` (database, credentials, client).
#[cfg(test)]
mod resolve_tests {
    use std::sync::Arc;

    use secrecy::SecretString;
    use serde_json::Value;
    use sesh_spotify::{SpotifyClient, SpotifyConfig, Url};
    use sesh_spotify_emulator::{AppRegistration, Emulator, EmulatorConfig, EmulatorHandle};
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::{
        accounts::Accounts,
        budget::RequestBudget,
        crypto::{SecretKey, TokenCipher},
        db::Database,
        limits::Limits,
        positions::PositionWriter,
        state::HubConfig,
        tracks::{OneAtATime, TrackCache},
    };

    const REDIRECT: &str = "http://127.0.0.1:9/auth/callback";

    struct Fixture {
        core: Core,
        emulator: EmulatorHandle,
        http: reqwest::Client,
        _dir: tempfile::TempDir,
    }

    impl Fixture {
        async fn new() -> Self {
            let emulator = Emulator::start(EmulatorConfig {
                apps: vec![AppRegistration::new("sesh", "secret", REDIRECT)],
                control_api: true,
                ..EmulatorConfig::default()
            })
            .await
            .unwrap();
            let base: Url = emulator.base_url().parse().unwrap();
            let spotify = SpotifyClient::new(SpotifyConfig {
                client_id: "sesh".into(),
                client_secret: Some(SecretString::from("secret")),
                redirect_uri: REDIRECT.into(),
                accounts_url: base.clone(),
                api_url: base,
            })
            .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("sesh.db").display());
            let db = Database::connect(&url, TokenCipher::new(&SecretKey::generate()))
                .await
                .unwrap();
            let settings = crate::Settings::for_tests(url, dir.path().join("data"));
            let (runtime, shutdown) = (tokio::runtime::Handle::current(), CancellationToken::new());
            let core = Core {
                positions: PositionWriter::spawn(db.clone(), &runtime, shutdown.clone()),
                accounts: Accounts::new(db.clone(), runtime.clone()),
                db,
                spotify,
                tracks: TrackCache::default(),
                top_tracks: OneAtATime::default(),
                budget: RequestBudget::new(20, 40),
                limits: Arc::new(Limits::new(&settings)),
                config: HubConfig {
                    max_capacity: 50,
                    roster_limit: 200,
                    queue_window: 100,
                    ws_queue: 256,
                    displays_per_session: 500,
                    ws_ping_interval: Duration::from_secs(15),
                    ws_client_timeout: Duration::from_secs(45),
                    poll_mode: crate::settings::PollMode::Predictive,
                    poll_watch_interval: Duration::from_secs(5),
                    poll_grid: Duration::from_millis(20),
                    poll_interval: Duration::from_secs(1),
                    poll_paused_interval: Duration::from_secs(5),
                    playback_resync: Duration::from_secs(15),
                    hub_idle_timeout: Duration::from_secs(300),
                    session_idle_timeout: Duration::from_secs(1800),
                    session_end_warning: Duration::from_secs(120),
                    host_timeout: Duration::from_secs(600),
                    listen_check_interval: Duration::from_secs(30),
                    listen_verify_delay: Duration::from_secs(4),
                    login_idle_timeout: Duration::from_secs(3600),
                    max_live_sessions_per_user: 3,
                    spotify_seats: 0,
                    admins: Vec::new(),
                },
                public_url: "http://127.0.0.1:9".parse().unwrap(),
                runtime,
                shutdown,
                demo: false,
            };
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            Self {
                core,
                emulator,
                http,
                _dir: dir,
            }
        }

        /// Logs `user` in through the emulator's `/authorize` and stores their tokens.
        async fn login(&self, user: &str) -> UserId {
            let request = self.core.spotify.authorize_url();
            let mut url = request.url.clone();
            url.query_pairs_mut().append_pair("user", user);
            let answer = self.http.get(url).send().await.unwrap();
            let location: Url = answer.headers()["location"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let code = location
                .query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
                .unwrap();
            let tokens = self
                .core
                .spotify
                .exchange_code(&code, &request.pkce_verifier)
                .await
                .unwrap();
            let id = UserId::new(user);
            self.core
                .accounts
                .logged_in(&id, user, tokens, 0)
                .await
                .unwrap()
                .unwrap();
            id
        }

        async fn control(&self, method: reqwest::Method, path: &str) -> Value {
            let url = format!("{}{path}", self.emulator.base_url());
            let answer = self
                .http
                .request(method, url)
                .json(&serde_json::json!({}))
                .send();
            answer.await.unwrap().json().await.unwrap_or(Value::Null)
        }

        /// `GET /v1/tracks/{id}` requests the emulator has seen.
        async fn track_calls(&self) -> usize {
            let log = self
                .control(reqwest::Method::GET, "/_emulator/requests?requests=false")
                .await;
            log["by_endpoint"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["path"].as_str().unwrap().starts_with("/v1/tracks/"))
                .map(|e| e["count"].as_u64().unwrap() as usize)
                .sum()
        }
    }

    #[tokio::test]
    async fn a_track_is_asked_of_spotify_only_when_nobody_holds_it() {
        let fixture = Fixture::new().await;
        let alice = fixture.login("alice").await;
        let profile = fixture
            .control(reqwest::Method::GET, "/_emulator/users/alice")
            .await;
        let uri = profile["top_tracks"]["short_term"][0].as_str().unwrap();
        let id = TrackId::new(uri.strip_prefix("spotify:track:").unwrap());

        let track = resolve_track(&fixture.core, &alice, &id).await.unwrap();
        assert_eq!(track.id, id);
        assert_eq!(track.uri.as_str(), uri);
        assert!(!track.name.is_empty() && !track.artists.is_empty());
        assert_eq!(fixture.track_calls().await, 1);

        // Held (as a queue entry or a search answer would hold it): no call, the same copy.
        for _ in 0..30 {
            let again = resolve_track(&fixture.core, &alice, &id).await.unwrap();
            assert!(Arc::ptr_eq(&again, &track));
        }
        assert_eq!(fixture.track_calls().await, 1, "nor any limit spent");
        // Nobody holds it any more: Spotify is asked again.
        drop(track);
        resolve_track(&fixture.core, &alice, &id).await.unwrap();
        assert_eq!(fixture.track_calls().await, 2);
    }

    #[tokio::test]
    async fn unknown_tracks_revoked_logins_and_the_spotify_rate_are_told_apart() {
        let fixture = Fixture::new().await;
        let alice = fixture.login("alice").await;
        let unknown = TrackId::new("0000000000000000000000");
        let error = resolve_track(&fixture.core, &alice, &unknown)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ResolveError::NotFound(id) if *id == unknown),
            "{error:?}"
        );

        // Each call to Spotify counts against SESH_SPOTIFY_USER_RATE (bursts of 10).
        let mut limited = None;
        for _ in 0..20 {
            if let Err(ResolveError::Limited(e)) =
                resolve_track(&fixture.core, &alice, &unknown).await
            {
                limited = Some(e);
                break;
            }
        }
        assert!(limited.is_some_and(|e| e.retry_after > Duration::ZERO));

        let bob = fixture.login("bob").await;
        fixture
            .control(reqwest::Method::POST, "/_emulator/users/bob/revoke")
            .await;
        let error = resolve_track(&fixture.core, &bob, &unknown)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                ResolveError::Call(CallError::Spotify(SpotifyError::ReauthRequired))
            ),
            "{error:?}"
        );
    }
}

//! `GET /api/sessions/{id}/search` end to end against the emulator, through real logins: what
//! reaches Spotify, the cache a session's members share, the per-member limit, and who is
//! refused.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::common::{Browser, TestApp, spawn_app, spawn_app_with};

/// `host` creates a session and every guest joins it by its invite; the session id.
async fn session_with(host: &Browser, guests: &[&Browser]) -> String {
    let (status, created) = host.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let code = created["invite_code"].as_str().unwrap();
    for guest in guests {
        let (status, joined) = guest.post(&format!("/api/join/{code}"), None).await;
        assert_eq!(status, StatusCode::OK, "{joined}");
    }
    created["id"].as_str().unwrap().to_owned()
}

/// `q`, form-encoded.
fn encoded(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

/// `browser` searches session `id` for `q` (and any extra query string).
async fn search(browser: &Browser, id: &str, q: &str, extra: &str) -> (StatusCode, Value) {
    browser
        .get(&format!(
            "/api/sessions/{id}/search?q={}{extra}",
            encoded(q)
        ))
        .await
}

/// The `GET /v1/search` requests the emulator received since its log was cleared.
async fn spotify_searches(app: &TestApp) -> Vec<Value> {
    let log = app
        .emulator_get("/_emulator/requests?method=GET&path=/v1/search")
        .await;
    log["requests"].as_array().unwrap().clone()
}

/// The ids of a search answer's tracks.
fn ids(answer: &Value) -> Vec<String> {
    answer["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_answers_tracks_in_the_documented_shape_and_asks_spotify_for_ten_at_most() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let id = session_with(&alice, &[&bob]).await;
    app.emulator_clear_requests().await;

    // A word that most of the catalogue matches, and a caller asking for more than Spotify gives.
    let (status, answer) = search(&bob, &id, "E", "&limit=25").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer.as_object().unwrap().len(), 1, "{answer}");
    let tracks = answer["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 10, "the most Spotify gives");
    for track in tracks {
        let keys: Vec<&str> = track
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "album",
                "artists",
                "duration_ms",
                "id",
                "image_url",
                "name",
                "uri"
            ],
            "{track}"
        );
        let track_id = track["id"].as_str().unwrap();
        assert!(
            track_id.len() == 22 && track_id.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{track_id}"
        );
        assert_eq!(track["uri"], format!("spotify:track:{track_id}"));
        assert!(track["duration_ms"].as_u64().unwrap() > 0);
        assert!(
            track["image_url"]
                .as_str()
                .unwrap()
                .starts_with(&app.emulator_url)
        );
        let artists: Vec<&str> = track["artists"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(!artists.is_empty());
        let text = format!(
            "{} {} {}",
            track["name"].as_str().unwrap(),
            artists.join(" "),
            track["album"].as_str().unwrap()
        );
        assert!(text.to_lowercase().contains('e'), "{text}");
    }

    let asked = spotify_searches(&app).await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    let sent: Vec<(String, String)> =
        url::form_urlencoded::parse(asked[0]["query"].as_str().unwrap().as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        sent.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(param("limit"), Some("10"), "{sent:?}");
    assert_eq!(param("type"), Some("track"));
    assert_eq!(param("market"), Some("from_token"));
    assert_eq!(param("q"), Some("e"), "the normalized words");
    assert_eq!(
        asked[0]["user_id"], "bob",
        "with the searching member's own login"
    );

    // A smaller limit is the start of the same answer, from the cache.
    let (status, three) = search(&alice, &id, "e", "&limit=3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&three), ids(&answer)[..3]);
    assert_eq!(spotify_searches(&app).await.len(), 1);

    // The name of one of alice's own tracks finds it.
    let (_, snapshot) = alice.get(&format!("/api/sessions/{id}")).await;
    let mine = &snapshot["your_tracks"][0];
    let (status, found) = search(&alice, &id, mine["name"].as_str().unwrap(), "").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert!(
        ids(&found)
            .iter()
            .any(|t| t == mine["id"].as_str().unwrap()),
        "{found}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_members_searching_the_same_words_cost_one_spotify_call() {
    let app = spawn_app().await;
    let mut members = Vec::new();
    for user in ["alice", "bob", "carol", "erin", "frank"] {
        members.push(app.login(user).await);
    }
    let guests: Vec<&Browser> = members[1..].iter().collect();
    let id = session_with(&members[0], &guests).await;
    app.emulator_clear_requests().await;
    // Spotify takes a second, so all five searches are waiting on it at once.
    app.emulator_post(
        "/_emulator/faults",
        json!({"method": "GET", "path": "/v1/search", "delay_ms": 1000, "count": 1}),
    )
    .await;

    let spellings = [
        "Dancing the",
        "dancing   THE",
        " DANCING the ",
        "Dancing\u{a0}the",
        "dAnCiNg tHe",
    ];
    let answers = join_all(
        members
            .iter()
            .zip(spellings)
            .map(|(member, q)| search(member, &id, q, "")),
    )
    .await;
    let first = &answers[0].1;
    assert!(!ids(first).is_empty(), "{first}");
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::OK, "{answer}");
        assert_eq!(answer, first, "everyone gets the same answer");
    }
    assert_eq!(
        spotify_searches(&app).await.len(),
        1,
        "one call for five members"
    );

    // Within the ten minutes, asking again is free as well…
    for member in &members[..2] {
        let (status, again) = search(member, &id, "dancing the", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&again, first);
    }
    assert_eq!(spotify_searches(&app).await.len(), 1);
    // …and other words are another search.
    let (status, _) = search(&members[3], &id, "dancing in the", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spotify_searches(&app).await.len(), 2);

    // The answers belong to the session: another session asks Spotify itself.
    let grace = app.login("grace").await;
    let other = session_with(&grace, &[]).await;
    let (status, theirs) = search(&grace, &other, "Dancing The", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&theirs), ids(first));
    let asked = spotify_searches(&app).await;
    assert_eq!(asked.len(), 3);
    assert_eq!(asked[2]["user_id"], "grace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_whose_login_was_revoked_does_not_fail_the_others_waiting_with_them() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let carol = app.login("carol").await;
    let id = session_with(&alice, &[&bob, &carol]).await;
    // Bob revoked Sesh in his Spotify account; Sesh does not know yet.
    app.emulator_post("/_emulator/users/bob/revoke", json!({}))
        .await;
    app.emulator_clear_requests().await;
    app.emulator_post(
        "/_emulator/faults",
        json!({"method": "GET", "path": "/v1/search", "delay_ms": 1500, "count": 1}),
    )
    .await;

    // Bob's search reaches Spotify first; alice and carol ask the same while it is out.
    let bob_search = search(&bob, &id, "velvet", "");
    let others = async {
        // Let bob's call be the one in flight (the fault holds it for 1.5 s).
        tokio::time::sleep(Duration::from_millis(300)).await;
        tokio::join!(
            search(&alice, &id, "Velvet", ""),
            search(&carol, &id, "VELVET", "")
        )
    };
    let ((bob_status, bob_answer), ((alice_status, alice_answer), (carol_status, carol_answer))) =
        tokio::join!(bob_search, others);
    assert_eq!(bob_status, StatusCode::UNAUTHORIZED, "{bob_answer}");
    assert_eq!(bob_answer["error"]["code"], "reauth_required");
    assert_eq!(alice_status, StatusCode::OK, "{alice_answer}");
    assert_eq!(carol_status, StatusCode::OK, "{carol_answer}");
    assert_eq!(alice_answer, carol_answer);
    let asked = spotify_searches(&app).await;
    let by: Vec<&str> = asked
        .iter()
        .map(|r| r["user_id"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        asked.len(),
        2,
        "bob's failed call, then one for both others: {by:?}"
    );
    assert_eq!(asked[0]["status"], 401);
    assert_eq!(asked[1]["status"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_21st_search_in_a_minute_is_refused_with_retry_after() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let id = session_with(&alice, &[&bob]).await;
    app.emulator_clear_requests().await;

    // Answers from the cache count too: the limit is on what the member types.
    for n in 0..20 {
        let (status, answer) = search(&alice, &id, "echo", "").await;
        assert_eq!(status, StatusCode::OK, "search {n}: {answer}");
    }
    assert_eq!(spotify_searches(&app).await.len(), 1);
    let refused = alice
        .http
        .get(format!("{}/api/sessions/{id}/search?q=echo", alice.address))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=3).contains(&wait),
        "one search comes back every 3 s: {wait}"
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(body["error"]["retry_after_s"], wait);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("search")
    );
    // Per member: bob still searches.
    assert_eq!(search(&bob, &id, "echo", "").await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_limit_is_a_setting() {
    let app = spawn_app_with(|settings| settings.searches_per_minute = 2).await;
    let alice = app.login("alice").await;
    let id = session_with(&alice, &[]).await;
    for q in ["one", "two"] {
        assert_eq!(search(&alice, &id, q, "").await.0, StatusCode::OK);
    }
    let (status, body) = search(&alice, &id, "three", "").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");

    let app = spawn_app_with(|settings| settings.searches_per_minute = 0).await;
    let alice = app.login("alice").await;
    let id = session_with(&alice, &[]).await;
    for n in 0..30 {
        assert_eq!(
            search(&alice, &id, "echo", "").await.0,
            StatusCode::OK,
            "{n}: 0 is off"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_and_bad_queries_are_refused_before_spotify_is_asked() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let carol = app.login("carol").await;
    let id = session_with(&alice, &[&bob]).await;
    app.emulator_clear_requests().await;

    let (status, body) = search(&carol, &id, "echo", "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "not_a_member");
    let anonymous = Browser::new(&app, "nobody");
    let (status, body) = search(&anonymous, &id, "echo", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
    for unknown in ["00000000-0000-4000-8000-000000000000", "not-a-session"] {
        let (status, body) = search(&alice, unknown, "echo", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["error"]["code"], "session_not_found");
    }

    let too_long = "x".repeat(101);
    for query in [
        String::new(),
        "q=".to_owned(),
        "q=%20%20%09".to_owned(),
        format!("q={too_long}"),
        format!("q={}", encoded(&format!("  {too_long}  "))),
        "q=abba%0Agold".to_owned(),
        "q=a%07b".to_owned(),
        "q=echo&limit=0".to_owned(),
        "q=echo&limit=ten".to_owned(),
        "q=echo&offset=10".to_owned(),
    ] {
        let (status, body) = bob.get(&format!("/api/sessions/{id}/search?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "?{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_query", "?{query}");
        assert!(body["error"]["message"].is_string());
    }
    assert!(
        spotify_searches(&app).await.is_empty(),
        "nothing refused reached Spotify"
    );

    // A hundred characters, after trimming, is still a search.
    let hundred = "x".repeat(100);
    let (status, body) = search(&bob, &id, &format!(" {hundred} "), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(spotify_searches(&app).await.len(), 1);

    // A kicked member is no longer a member.
    assert_eq!(
        alice
            .post(&format!("/api/sessions/{id}/kick/bob"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = search(&bob, &id, "echo", "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

//! Sesh behind a real Nginx, configured from the shipped `nginx/` templates.
//!
//! Each test renders `nginx/sesh-http.conf.template` + `nginx/sesh-proxy.inc.template` with
//! `envsubst` (as a self-hoster does) onto free loopback ports, starts Nginx as its own
//! process with its own prefix and temp paths, and talks to Sesh only through it. The TLS test
//! renders `nginx/sesh.conf.template` instead, with a throw-away self-signed certificate.
//!
//! Needs `nginx`, `envsubst` and `openssl` (Debian: `nginx`, `gettext-base`, `openssl`);
//! `scripts/install-deps` installs them and `scripts/test` runs it first. Without them these
//! tests fail with a message saying so — they never skip themselves.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use reqwest::StatusCode;
use serde_json::json;
use sesh_gateway::settings::HumanDuration;
use tempfile::TempDir;

use crate::common::{self, Browser, Closed, TestApp, playback_track, spawn_app_public};

/// The Nginx binary: `$SESH_NGINX_BIN`, else Debian's.
pub(crate) fn nginx_bin() -> PathBuf {
    let bin = std::env::var_os("SESH_NGINX_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"));
    assert!(
        bin.exists(),
        "nginx not found at {} — run `bash scripts/install-deps` (scripts/test does)",
        bin.display()
    );
    bin
}

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Renders a template with `envsubst`, substituting only the listed variables (as the
/// deploy guide says) so Nginx's own `$variables` survive.
pub(crate) fn render(template: &Path, vars: &[(&str, String)]) -> String {
    let list = vars
        .iter()
        .map(|(name, _)| format!("${{{name}}}"))
        .collect::<Vec<_>>()
        .join(" ");
    let output = Command::new("envsubst")
        .arg(list)
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(std::fs::File::open(template).expect("template"))
        .output()
        .expect("envsubst runs (Debian package gettext-base)");
    assert!(output.status.success(), "envsubst failed");
    let text = String::from_utf8(output.stdout).expect("utf-8");
    assert!(
        !text.contains("${"),
        "unrendered placeholder in {template:?}"
    );
    text
}

/// A running Nginx in front of Sesh, from the shipped templates.
struct Nginx {
    process: NginxProcess,
    port: u16,
    /// Whether `port` speaks TLS (the `sesh.conf.template` setup).
    tls: bool,
}

impl Nginx {
    /// Starts Nginx on a free port in front of `upstream`, with the WebSocket idle timeout
    /// `ws_read_timeout` (an Nginx time, e.g. `2s`).
    fn start(port: u16, upstream: &str, ws_read_timeout: &str) -> Self {
        let prefix = tempfile::tempdir().expect("prefix");
        let vars = vec![
            ("SESH_UPSTREAM", upstream.to_owned()),
            ("NGINX_LISTEN", format!("127.0.0.1:{port}")),
            ("SERVER_NAME", "127.0.0.1".to_owned()),
            ("NGINX_INCLUDE_DIR", prefix.path().display().to_string()),
            ("NGINX_WS_READ_TIMEOUT", ws_read_timeout.to_owned()),
        ];
        Self::launch(prefix, "sesh-http.conf.template", &vars, port, false)
    }

    /// Starts Nginx from the TLS template (`sesh.conf.template`, what production uses): TLS on
    /// `tls_port`, redirects on `http_port`, a self-signed certificate for 127.0.0.1. That
    /// template listens on all addresses (`listen PORT` and `listen [::]:PORT`), as deployed.
    fn start_tls(tls_port: u16, http_port: u16, upstream: &str) -> Self {
        let prefix = tempfile::tempdir().expect("prefix");
        let dir = prefix.path();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let openssl = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl runs (Debian package openssl)");
        assert!(
            openssl.status.success(),
            "openssl could not make a certificate: {}",
            String::from_utf8_lossy(&openssl.stderr)
        );
        let vars = vec![
            ("SESH_UPSTREAM", upstream.to_owned()),
            ("NGINX_LISTEN", http_port.to_string()),
            ("NGINX_TLS_LISTEN", tls_port.to_string()),
            ("SERVER_NAME", "127.0.0.1".to_owned()),
            ("TLS_CERTIFICATE", cert.display().to_string()),
            ("TLS_CERTIFICATE_KEY", key.display().to_string()),
            ("NGINX_INCLUDE_DIR", dir.display().to_string()),
            ("NGINX_WS_READ_TIMEOUT", "75s".to_owned()),
        ];
        Self::launch(prefix, "sesh.conf.template", &vars, tls_port, true)
    }

    /// Renders `conf_template` and the proxy include into `prefix` and runs Nginx there.
    fn launch(
        prefix: TempDir,
        conf_template: &str,
        vars: &[(&str, String)],
        port: u16,
        tls: bool,
    ) -> Self {
        let dir = prefix.path();
        let nginx = repo_root().join("nginx");
        std::fs::write(
            dir.join("sesh-proxy.inc"),
            render(&nginx.join("sesh-proxy.inc.template"), vars),
        )
        .expect("write inc");
        let mut conf = render(&nginx.join(conf_template), vars);
        if std::net::TcpListener::bind("[::1]:0").is_err() {
            // A machine without IPv6 cannot bind the template's `[::]` listeners; the IPv4
            // ones are the same server.
            conf = conf
                .lines()
                .filter(|line| !line.trim_start().starts_with("listen [::]"))
                .collect::<Vec<_>>()
                .join("\n");
        }
        std::fs::write(dir.join("sesh.conf"), conf).expect("write conf");
        let process = NginxProcess::start(prefix, "", "sesh.conf");
        Self { process, port, tls }
    }

    fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// A client without cookies or redirects that accepts the test's self-signed certificate.
    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(true)
            .timeout(common::WAIT)
            .build()
            .expect("client")
    }

    /// Waits until Nginx answers and proxies to a live Sesh.
    async fn wait_ready(&self) {
        let client = self.client();
        let deadline = tokio::time::Instant::now() + common::WAIT;
        loop {
            if let Ok(response) = client.get(format!("{}/healthz", self.url())).send().await
                && response.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "nginx did not proxy /healthz in time; error log:\n{}",
                self.error_log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn error_log(&self) -> String {
        self.process.error_log()
    }
}

/// An Nginx master process with everything under its own prefix (a temporary directory),
/// nothing from /etc or /var; stopped on drop.
pub(crate) struct NginxProcess {
    child: Child,
    conf: PathBuf,
    pub(crate) prefix: TempDir,
}

impl NginxProcess {
    /// Writes the main `nginx.conf` into `prefix` — `main` at its top level, `http_include`
    /// (a file in `prefix`, already written) inside its `http` block — checks it with
    /// `nginx -t` and starts Nginx.
    pub(crate) fn start(prefix: TempDir, main: &str, http_include: &str) -> Self {
        let bin = nginx_bin();
        let dir = prefix.path();
        for sub in ["logs", "temp"] {
            std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
        }
        let temp = dir.join("temp");
        let main = format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/logs/error.log info;\n{user}{main}\
             events {{ worker_connections 1024; }}\n\
             http {{\n  log_format upstreams '$msec \"$request\" $status $upstream_addr $upstream_status';\n\
               access_log {d}/logs/access.log upstreams;\n\
               client_body_temp_path {t}/body;\n  proxy_temp_path {t}/proxy;\n\
               fastcgi_temp_path {t}/fastcgi;\n  uwsgi_temp_path {t}/uwsgi;\n\
               scgi_temp_path {t}/scgi;\n  include {d}/{http_include};\n}}\n",
            d = dir.display(),
            t = temp.display(),
            // As root, Nginx would switch its workers to `nobody`, who cannot write our
            // prefix; name the current user explicitly instead (ignored when not root).
            user = if is_root() { "user root;\n" } else { "" },
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, main).expect("write nginx.conf");
        check_conf(&bin, dir, &conf);
        let child = Command::new(&bin)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts");
        Self {
            child,
            conf,
            prefix,
        }
    }

    /// Checks the files in the prefix as they are now and has the running Nginx load them
    /// (`nginx -s reload`: new workers with the new config, the old ones finish their
    /// connections). Returns once the signal is sent, not once the new workers serve.
    pub(crate) fn reload(&self) {
        let bin = nginx_bin();
        let dir = self.prefix.path();
        check_conf(&bin, dir, &self.conf);
        let reload = Command::new(&bin)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&self.conf)
            .args(["-s", "reload"])
            .output()
            .expect("nginx -s reload runs");
        assert!(
            reload.status.success(),
            "nginx -s reload failed: {}",
            String::from_utf8_lossy(&reload.stderr)
        );
    }

    /// The master's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn error_log(&self) -> String {
        std::fs::read_to_string(self.prefix.path().join("logs/error.log")).unwrap_or_default()
    }

    /// The access log: each request with the instances tried and their statuses.
    pub(crate) fn access_log(&self) -> String {
        std::fs::read_to_string(self.prefix.path().join("logs/access.log")).unwrap_or_default()
    }
}

fn check_conf(bin: &Path, dir: &Path, conf: &Path) {
    let check = Command::new(bin)
        .args(["-t", "-q", "-p"])
        .arg(dir)
        .arg("-c")
        .arg(conf)
        .output()
        .expect("nginx -t runs");
    assert!(
        check.status.success(),
        "nginx -t rejected the rendered config: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

impl Drop for NginxProcess {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the master then stops its workers. A killed master leaves
        // them running, orphaned and still listening, after the test.
        crate::common::process::stop_server(&mut self.child, "-TERM");
    }
}

fn is_root() -> bool {
    // SAFETY-free check: the effective uid from /proc, without libc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// Sesh on its own port, published through Nginx on another; everything the tests do goes
/// through Nginx (`app.address` is Nginx's URL).
async fn sesh_behind_nginx(ws_read_timeout: &str, ping: Duration) -> (TestApp, Nginx) {
    sesh_behind_nginx_with(ws_read_timeout, |settings| {
        settings.ws_ping_interval = HumanDuration(ping);
    })
    .await
}

/// [`sesh_behind_nginx`] with other settings; Nginx (127.0.0.1) is the one trusted proxy, as
/// the deploy guide says.
async fn sesh_behind_nginx_with(
    ws_read_timeout: &str,
    adjust: impl FnOnce(&mut sesh_gateway::Settings),
) -> (TestApp, Nginx) {
    let public_port = free_port();
    let app = spawn_app_public(public_port, |settings| {
        settings.trusted_proxies = vec![[127, 0, 0, 1].into()];
        adjust(settings);
    })
    .await;
    let nginx = Nginx::start(
        public_port,
        &format!("127.0.0.1:{}", app.port),
        ws_read_timeout,
    );
    nginx.wait_ready().await;
    assert_eq!(app.address, nginx.url());
    (app, nginx)
}

#[tokio::test]
async fn session_scenario_through_nginx() {
    let (app, nginx) = sesh_behind_nginx("75s", Duration::from_secs(15)).await;

    // Login: the redirect dance goes through Nginx (redirect URI = public URL).
    let host = Browser::login(&app, "alice").await;
    let guest = Browser::login(&app, "bob").await;

    let (status, session) = host.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let id = session["id"].as_str().expect("id").to_owned();
    let join_url = session["join_url"].as_str().expect("join_url");
    assert!(
        join_url.starts_with(&nginx.url()),
        "join_url built from the public URL: {join_url}"
    );
    let code = join_url.rsplit('/').next().expect("code");
    let (status, joined) = guest.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(status, StatusCode::OK, "{joined}");

    // WebSockets through the proxy: the upgrade must get through.
    let mut host_ws = host.ws(&id).await;
    let mut guest_ws = guest.ws(&id).await;
    for ws in [&mut host_ws, &mut guest_ws] {
        let welcome = ws.next_of_type("welcome").await;
        assert_eq!(
            welcome["session"]["members"].as_array().map(Vec::len),
            Some(2)
        );
    }

    let device = host.device_id().await;
    host_ws
        .send(json!({"type": "start", "device_id": device}))
        .await;
    let mut first_tracks = Vec::new();
    for ws in [&mut host_ws, &mut guest_ws] {
        ws.next_of_type("session_started").await;
        let playback = ws
            .next_matching(|f| f["type"] == "playback" && f["track"]["id"].is_string())
            .await;
        first_tracks.push(playback_track(&playback));
    }
    assert_eq!(first_tracks[0], first_tracks[1]);

    // A skip in the host's Spotify app reaches both members through Nginx.
    app.emulator_post("/_emulator/users/alice/player", json!({"action": "next"}))
        .await;
    for ws in [&mut host_ws, &mut guest_ws] {
        let changed = ws
            .next_matching(|f| {
                f["type"] == "playback"
                    && playback_track(f).is_some()
                    && playback_track(f) != first_tracks[0]
            })
            .await;
        assert!(changed["track"]["name"].is_string());
    }

    // The login dance and the API really went through Nginx (WebSocket lines are only
    // logged when the socket closes).
    let access_log =
        std::fs::read_to_string(nginx.process.prefix.path().join("logs/access.log")).expect("log");
    assert!(access_log.contains("GET /auth/callback?"), "{access_log}");
    assert!(access_log.contains("POST /api/sessions "), "{access_log}");
}

/// A WebSocket with no traffic from either side is kept open past Nginx's read timeout by
/// Sesh's pings — and, as a control, is cut by Nginx when pings are rarer than the timeout.
/// (Timeouts shortened: Nginx 2 s instead of the default 60 s.)
#[tokio::test]
async fn idle_socket_survives_nginx_read_timeout_thanks_to_pings() {
    let (app, _nginx) = sesh_behind_nginx("2s", Duration::from_millis(500)).await;
    let host = Browser::login(&app, "alice").await;
    let (status, session) = host.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = session["id"].as_str().expect("id").to_owned();
    let mut ws = host.ws(&id).await;
    ws.next_of_type("welcome").await;

    // Idle for twice Nginx's timeout: only pings may arrive, and the socket stays open.
    assert_idle_for(&mut ws, Duration::from_secs(4))
        .await
        .expect("socket kept open");
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.next_of_type("pong").await["type"], "pong");
}

#[tokio::test]
async fn without_pings_nginx_closes_an_idle_socket() {
    let (app, _nginx) = sesh_behind_nginx("2s", Duration::from_secs(30)).await;
    let host = Browser::login(&app, "alice").await;
    let (_, session) = host.post("/api/sessions", None).await;
    let id = session["id"].as_str().expect("id").to_owned();
    let mut ws = host.ws(&id).await;
    ws.next_of_type("welcome").await;
    let closed = assert_idle_for(&mut ws, Duration::from_secs(6)).await;
    assert!(closed.is_err(), "Nginx should have cut the idle socket");
}

/// Reads the socket for `period` without sending anything; `Err` if it closed meanwhile.
async fn assert_idle_for(ws: &mut common::Ws, period: Duration) -> Result<(), Closed> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + period;
    loop {
        match tokio::time::timeout_at(deadline, ws.stream.next()).await {
            Err(_) => return Ok(()),
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Err(frame.map_or(Closed::Eof, |f| Closed::Code(u16::from(f.code))));
            }
            // Presence or status frames may arrive; nothing the client sends keeps it busy.
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_)) | None) => return Err(Closed::Eof),
        }
    }
}

/// A client that sends its own `X-Forwarded-For` through Nginx is still counted by its real
/// address: Nginx replaces the header with the peer's address instead of appending to it, so
/// sesh (trusting only Nginx) never sees the forged entry. Here the client is on loopback like
/// Nginx, as a client behind Docker's userland proxy shares the proxy's trusted range: with an
/// appended header, each forged address would get a fresh invite budget.
#[tokio::test]
async fn a_forged_forwarded_for_through_nginx_is_not_a_new_client() {
    let (app, nginx) = sesh_behind_nginx_with("75s", |settings| {
        settings.invite_rate_per_min = 3;
    })
    .await;
    let client = nginx.client();
    let wrong = "AAAAAAAAAAAAAAAAAAAAAA";
    let forged = [None, Some("203.0.113.1"), Some("203.0.113.2, 198.51.100.9")];
    for header in forged {
        let mut request = client
            .get(format!("{}/api/invites/{wrong}", app.address))
            .header("X-Requested-With", "sesh");
        if let Some(header) = header {
            request = request.header("X-Forwarded-For", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{header:?}");
    }
    // The fourth request, under yet another forged address, is the same client's fourth.
    let response = client
        .get(format!("{}/api/invites/{wrong}", app.address))
        .header("X-Requested-With", "sesh")
        .header("X-Forwarded-For", "203.0.113.3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["code"], "rate_limited",
        "sesh's limit, not Nginx's"
    );
}

/// Nginx's own coarse limit on `/auth/`: a burst of logins from one address beyond it gets
/// Nginx's 429 page, and other routes stay open. Sesh's own per-client limits may answer
/// first (a JSON 429); those requests still passed Nginx and count towards its burst.
#[tokio::test]
async fn a_login_burst_beyond_the_nginx_limit_gets_429_from_nginx() {
    let (app, nginx) = sesh_behind_nginx("75s", Duration::from_secs(15)).await;
    let client = nginx.client();
    let mut passed = 0;
    let refused = loop {
        let response = client
            .get(format!("{}/auth/login?next=/", app.address))
            .send()
            .await
            .unwrap();
        let from_nginx = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html"));
        if response.status() == StatusCode::TOO_MANY_REQUESTS && from_nginx {
            break response;
        }
        assert!(
            matches!(
                response.status(),
                StatusCode::FOUND | StatusCode::TOO_MANY_REQUESTS
            ),
            "{}",
            response.status()
        );
        passed += 1;
        assert!(
            passed < 400,
            "no 429 from Nginx after {passed} logins in a burst"
        );
    };
    // burst=100 at 5 r/s: the first 101 pass, plus whatever refilled meanwhile.
    assert!(passed >= 100, "Nginx refused after only {passed} logins");
    let body = refused.text().await.unwrap();
    assert!(body.contains("nginx"), "Nginx's own 429 page: {body}");
    let health = client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

/// With the TLS template, browsers get exactly one `Strict-Transport-Security`: sesh's (its
/// public URL is https). Nginx used to add a second one with another max-age.
#[tokio::test]
async fn over_tls_hsts_is_sent_exactly_once() {
    let (tls_port, http_port) = (free_port(), free_port());
    let public_url = format!("https://127.0.0.1:{tls_port}");
    let app = spawn_app_public(tls_port, |settings| {
        settings.public_url = Some(public_url.parse().unwrap());
        settings.trusted_proxies = vec![[127, 0, 0, 1].into()];
    })
    .await;
    let nginx = Nginx::start_tls(tls_port, http_port, &format!("127.0.0.1:{}", app.port));
    nginx.wait_ready().await;
    let response = nginx
        .client()
        .get(format!("{public_url}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let hsts = response
        .headers()
        .get_all("strict-transport-security")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(hsts, ["max-age=31536000"]);
}

/// A display's event stream through Nginx (docs/displays.md): unbuffered, so a track change
/// reaches it within a second of the members' sockets through the same Nginx; and a quiet
/// stream stays open past Nginx's read timeout thanks to sesh's keep-alive comments (sent every
/// ping interval; both shortened here: Nginx 2 s, pings 500 ms).
#[tokio::test]
async fn a_display_stream_through_nginx_is_live_and_outlives_the_read_timeout() {
    let (app, _nginx) = sesh_behind_nginx("2s", Duration::from_millis(500)).await;
    let host = Browser::login(&app, "alice").await;
    let guest = Browser::login(&app, "bob").await;
    let (status, session) = host.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = session["id"].as_str().expect("id").to_owned();
    let code = session["invite_code"].as_str().expect("code").to_owned();
    let (status, _) = guest.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, display) = host
        .post(&format!("/api/sessions/{id}/displays"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{display}");
    let url = display["events_url"].as_str().expect("events_url");
    assert!(url.starts_with(&app.address), "through Nginx: {url}");
    let mut tv = common::sse::open(&common::sse::client(), url, None)
        .await
        .expect("the stream opens through Nginx");
    assert_eq!(tv.headers["content-type"], "text/event-stream");
    assert!(
        tv.headers
            .get("content-encoding")
            .is_none_or(|e| e == "identity"),
        "not compressed"
    );
    let snapshot = tv.next().await.expect("snapshot");
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(snapshot.data["session"]["state"], "lobby");

    // A lobby is quiet: for twice Nginx's read timeout only comments arrive, and it stays open.
    let quiet_until = std::time::Instant::now() + Duration::from_secs(4);
    while std::time::Instant::now() < quiet_until {
        match tv.next_within(Duration::from_millis(300)).await {
            Err(()) => {}
            Ok(Some(event)) => panic!("a quiet lobby sent {event:?}"),
            Ok(None) => panic!("Nginx cut a quiet stream"),
        }
    }
    assert!(tv.comments >= 4, "keep-alives: {}", tv.comments);

    let mut sockets = vec![host.ws(&id).await, guest.ws(&id).await];
    for ws in &mut sockets {
        ws.next_of_type("welcome").await;
    }
    let (status, started) = host.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let first = started["queue"][0]["track"]["name"]
        .as_str()
        .expect("first")
        .to_owned();
    let second = started["queue"][1]["track"]["name"]
        .as_str()
        .expect("second")
        .to_owned();
    loop {
        if tv.next_named("playback").await.data["title"] == first.as_str() {
            break;
        }
    }
    // The host skips in their own Spotify app: when do members and the display see it?
    app.emulator_post("/_emulator/users/alice/player", json!({"action": "next"}))
        .await;
    let [host_ws, guest_ws] = &mut sockets[..] else {
        unreachable!()
    };
    let (at_host, at_guest, at_display) = tokio::join!(
        sees_playback(host_ws, &second),
        sees_playback(guest_ws, &second),
        async {
            loop {
                if tv.next_named("playback").await.data["title"] == second.as_str() {
                    return std::time::Instant::now();
                }
            }
        }
    );
    let last_member = at_host.max(at_guest);
    let gap = at_display
        .saturating_duration_since(last_member)
        .max(last_member.saturating_duration_since(at_display));
    assert!(
        gap < Duration::from_secs(1),
        "the display saw the change {gap:?} apart from the members"
    );
}

/// When `ws` receives the `playback` of the track named `name`.
async fn sees_playback(ws: &mut common::Ws, name: &str) -> std::time::Instant {
    ws.next_matching(|f| f["type"] == "playback" && f["track"]["name"] == name)
        .await;
    std::time::Instant::now()
}

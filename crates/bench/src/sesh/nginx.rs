//! A real Nginx in front of several `sesh` instances, configured from the shipped cluster
//! templates (`nginx/sesh-cluster.conf.template`, `nginx/sesh-proxy.inc.template`,
//! `nginx/sesh-cluster-main.conf.template`, built into the benchmark) rendered with `envsubst`
//! as docs/cluster.md renders them, and run unprivileged-style: its own prefix in a temporary
//! directory, nothing from /etc or /var. Stopped (SIGTERM: its workers stop with it) and its
//! directory deleted when dropped, or when the benchmark dies (see [`super::watch`]).
//!
//! One change to what the templates say: the per-client-address limits of `sesh-proxy.inc`
//! (`limit_req`, `limit_conn`) are left out, as the benchmark lifts Sesh's own per-address
//! limits — every simulated member comes from 127.0.0.1, which those limits take for one
//! client (5 logins a second would take ten minutes for 3,000 members).

use super::watch::Watched;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

const CLUSTER_CONF: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../nginx/sesh-cluster.conf.template"
));
const PROXY_INC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../nginx/sesh-proxy.inc.template"
));
const CLUSTER_MAIN: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../nginx/sesh-cluster-main.conf.template"
));

/// Open files an Nginx worker may hold: the benchmark's own limit (a process may hold
/// 20,000 here).
const WORKER_FILES: usize = 20_000;

/// A running Nginx.
pub struct Nginx {
    server: Watched,
    port: u16,
    prefix: tempfile::TempDir,
}

/// The Nginx binary: `SESH_NGINX_BIN`, else Debian's.
fn nginx_bin() -> anyhow::Result<PathBuf> {
    let bin = std::env::var_os("SESH_NGINX_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"));
    if !bin.exists() {
        bail!(
            "nginx not found at {} (bash scripts/install-deps installs it, or set SESH_NGINX_BIN)",
            bin.display()
        );
    }
    Ok(bin)
}

/// `template` rendered by `envsubst`, given only `vars` (so Nginx's own `$variables` stay).
async fn render(template: &str, vars: &[(&str, String)]) -> anyhow::Result<String> {
    let list: Vec<String> = vars
        .iter()
        .map(|(name, _)| format!("${{{name}}}"))
        .collect();
    let mut child = Command::new("envsubst")
        .arg(list.join(" "))
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("running envsubst (Debian package gettext-base)")?;
    let mut stdin = child.stdin.take().context("envsubst's stdin")?;
    stdin.write_all(template.as_bytes()).await?;
    drop(stdin);
    let out = child.wait_with_output().await?;
    if !out.status.success() {
        bail!("envsubst failed");
    }
    let text = String::from_utf8(out.stdout)?;
    if text.contains("${") {
        bail!("a placeholder was left unrendered");
    }
    Ok(text)
}

/// `inc` without its per-client-address limits (see the module's documentation), and how
/// many lines went.
fn without_address_limits(inc: &str) -> (String, usize) {
    let mut dropped = 0;
    let kept: Vec<&str> = inc
        .lines()
        .filter(|line| {
            let directive = line.trim_start();
            let limit = directive.starts_with("limit_req ") || directive.starts_with("limit_conn ");
            dropped += usize::from(limit);
            !limit
        })
        .collect();
    (kept.join("\n") + "\n", dropped)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Uid:"))?.to_owned();
            line.split_whitespace().nth(2).map(|uid| uid == "0")
        })
        .unwrap_or(false)
}

async fn check(bin: &Path, prefix: &Path, conf: &Path) -> anyhow::Result<()> {
    let out = Command::new(bin)
        .args(["-t", "-q", "-p"])
        .arg(prefix)
        .arg("-c")
        .arg(conf)
        .output()
        .await
        .context("running nginx -t")?;
    if !out.status.success() {
        bail!(
            "nginx -t rejected the rendered configuration: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl Nginx {
    /// Starts Nginx on `127.0.0.1:port` in front of `upstreams` (each `127.0.0.1:PORT`, the
    /// text the instances' `SESH_NODE_ID` and `SESH_CLUSTER_NODES` use), sized for
    /// `sockets` WebSockets, and waits until it proxies `/healthz`.
    pub async fn start(port: u16, upstreams: &[String], sockets: usize) -> anyhow::Result<Nginx> {
        let bin = nginx_bin()?;
        let prefix = tempfile::Builder::new()
            .prefix("sesh-bench-nginx-")
            .tempdir()?;
        let dir = prefix.path();
        for sub in ["logs", "temp"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let servers: Vec<String> = upstreams
            .iter()
            .map(|addr| format!("server {addr} max_fails=2 fail_timeout=10s;"))
            .collect();
        let vars = vec![
            ("SESH_UPSTREAMS", servers.join("\n    ")),
            ("NGINX_LISTEN", format!("127.0.0.1:{port}")),
            ("SERVER_NAME", "127.0.0.1".to_owned()),
            ("NGINX_INCLUDE_DIR", dir.display().to_string()),
            ("NGINX_WS_READ_TIMEOUT", "75s".to_owned()),
        ];
        let (inc, dropped) = without_address_limits(&render(PROXY_INC, &vars).await?);
        if dropped == 0 {
            tracing::warn!(
                "sesh-proxy.inc has no limit_req/limit_conn line any more: check the benchmark's \
                 reading of it"
            );
        }
        std::fs::write(dir.join("sesh-proxy.inc"), inc)?;
        std::fs::write(
            dir.join("sesh-cluster.conf"),
            render(CLUSTER_CONF, &vars).await?,
        )?;
        std::fs::write(
            dir.join("sesh-cluster-main.conf"),
            render(
                CLUSTER_MAIN,
                &[("NGINX_WORKER_SHUTDOWN_TIMEOUT", "30s".to_owned())],
            )
            .await?,
        )?;
        // Each WebSocket holds two connections (client and instance), and one worker may get
        // all of them.
        let connections = (2 * sockets + 1024).min(WORKER_FILES - 100);
        if 2 * sockets + 1024 > connections {
            tracing::warn!(
                sockets,
                connections,
                "more WebSockets than one Nginx worker can hold"
            );
        }
        let conf = dir.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "daemon off;\nmaster_process on;\nworker_processes auto;\n\
                 worker_rlimit_nofile {files};\npid {d}/nginx.pid;\n\
                 error_log {d}/logs/error.log warn;\n{user}include {d}/sesh-cluster-main.conf;\n\
                 events {{ worker_connections {connections}; }}\n\
                 http {{\n  log_format sesh '$request_method $uri $status $upstream_addr';\n\
                   access_log {d}/logs/access.log sesh;\n\
                   client_body_temp_path {t}/body;\n  proxy_temp_path {t}/proxy;\n\
                   fastcgi_temp_path {t}/fastcgi;\n  uwsgi_temp_path {t}/uwsgi;\n\
                   scgi_temp_path {t}/scgi;\n  include {d}/sesh-cluster.conf;\n}}\n",
                files = WORKER_FILES,
                d = dir.display(),
                t = dir.join("temp").display(),
                // As root, Nginx would run its workers as `nobody`, who cannot write the prefix.
                user = if is_root() { "user root;\n" } else { "" },
            ),
        )?;
        check(&bin, dir, &conf).await?;
        let mut server = std::process::Command::new(&bin);
        server.arg("-p").arg(dir).arg("-c").arg(&conf);
        let server = Watched::spawn(dir, "TERM", &server)?;
        let mut nginx = Nginx {
            server,
            port,
            prefix,
        };
        nginx.wait_ready().await?;
        Ok(nginx)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let health = format!("{}/healthz", self.url());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if matches!(http.get(&health).send().await, Ok(r) if r.status().is_success()) {
                return Ok(());
            }
            if let Some(status) = self.server.exited() {
                bail!(
                    "nginx exited during start-up: {status}\n{}",
                    self.error_log()
                );
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "nginx did not proxy /healthz within 30 s\n{}",
                    self.error_log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://127.0.0.1:PORT`: the cluster's public URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The master's process id (the workers are its children).
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// Nginx's error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.prefix.path().join("logs/error.log")).unwrap_or_default()
    }

    /// The access log so far: `METHOD URI STATUS UPSTREAM` per request.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.prefix.path().join("logs/access.log")).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_limits_go_and_their_zones_stay() {
        let (inc, dropped) = without_address_limits(PROXY_INC);
        assert!(
            dropped >= 3,
            "the template limits logins, joins and displays"
        );
        assert!(!inc.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("limit_req ") || l.starts_with("limit_conn ")
        }));
        assert!(inc.contains("limit_req_status 429;"));
        assert!(inc.contains("location /ws/"));
    }
}

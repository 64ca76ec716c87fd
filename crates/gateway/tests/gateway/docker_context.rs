//! What `docker build` may send as build context, judged from the repository's
//! `.dockerignore`: everything the build needs goes in, local secrets and state never do
//! (`deploy/Dockerfile` copies the whole context into a build layer). And what the compose
//! files promise that no Docker engine is needed to check: the secret files they name stay out
//! of the build, the instances trust exactly Nginx's fixed address, and the cluster's three
//! copies of the ring (`x-cluster-nodes`, Nginx's server lines, the `SESH_NODE_ID`s) agree.
//!
//! The patterns are evaluated as Docker does: relative to the root, `*` and `?` within one
//! path segment, `**` across any number of segments, a pattern matching a parent directory
//! matches everything below it, `!` re-includes, and the last matching pattern wins.

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `.dockerignore` patterns: (negated, segments).
fn patterns() -> Vec<(bool, Vec<String>)> {
    let path = repo_root().join(".dockerignore");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the build would take everything)", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (negated, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let segments = pattern
                .trim_matches('/')
                .split('/')
                .map(str::to_owned)
                .collect();
            (negated, segments)
        })
        .collect()
}

/// One segment against a glob segment (`*`, `?`, literals).
fn segment_matches(glob: &[u8], name: &[u8]) -> bool {
    match (glob.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            segment_matches(&glob[1..], name)
                || (!name.is_empty() && segment_matches(glob, &name[1..]))
        }
        (Some(b'?'), Some(_)) => segment_matches(&glob[1..], &name[1..]),
        (Some(g), Some(n)) if g == n => segment_matches(&glob[1..], &name[1..]),
        _ => false,
    }
}

/// A whole path (as segments) against a pattern (as segments, `**` spanning any number).
fn path_matches(pattern: &[String], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(glob), _) if glob == "**" => {
            path_matches(&pattern[1..], path)
                || (!path.is_empty() && path_matches(pattern, &path[1..]))
        }
        (Some(glob), Some(name)) => {
            segment_matches(glob.as_bytes(), name.as_bytes())
                && path_matches(&pattern[1..], &path[1..])
        }
        _ => false,
    }
}

/// Whether `path` (relative, `/`-separated) is left out of the build context.
fn excluded(patterns: &[(bool, Vec<String>)], path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    let mut excluded = false;
    for (negated, pattern) in patterns {
        // The path itself or any directory above it.
        if (1..=segments.len()).any(|n| path_matches(pattern, &segments[..n])) {
            excluded = !negated;
        }
    }
    excluded
}

/// Every file below `dir` (relative to the repository root).
fn files_below(dir: &str) -> Vec<String> {
    let root = repo_root();
    let mut out = Vec::new();
    let mut stack = vec![root.join(dir)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(&root).unwrap();
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out
}

#[test]
fn the_build_context_has_the_sources_and_no_secrets_or_local_state() {
    let patterns = patterns();
    let mut needed: Vec<String> = [
        "Cargo.toml",
        "Cargo.lock",
        "crates/gateway/Cargo.toml",
        "crates/gateway/src/main.rs",
        "crates/session/src/lib.rs",
        "crates/spotify/src/lib.rs",
        "crates/spotify-emulator/src/lib.rs",
        "crates/bench/Cargo.toml",
        "vendor/actix-http/Cargo.toml",
        "vendor/actix-http/src/lib.rs",
    ]
    .map(str::to_owned)
    .to_vec();
    // Embedded into the binary at compile time.
    needed.extend(files_below("web"));
    needed.extend(files_below("migrations"));
    for path in &needed {
        assert!(!excluded(&patterns, path), "the build needs {path}");
    }

    for path in [
        ".env",
        ".env.local",
        "prod.env",
        "deploy/.env",
        "deploy/secrets/secret_key",
        "deploy/secrets/spotify_client_secret",
        "deploy/secrets/sesh_pgpass",
        "deploy/secrets/postgres_password",
        "sesh.db",
        "sesh.db-wal",
        "sesh.db-shm",
        "data/secret.key",
        "data/spotify-emulator.json",
        "crates/gateway/sesh.db",
        "crates/gateway/data/secret.key",
        "crates/gateway/.env",
        "target/release/sesh",
        "crates/gateway/target/debug/sesh",
        ".git/config",
        "vendor/actix-http/.git/config",
        "node_modules/x/index.js",
        "e2e/node_modules/x/index.js",
        "test-artifacts/report.html",
    ] {
        assert!(excluded(&patterns, path), "{path} must not reach the build");
    }
}

#[test]
fn the_pattern_rules_are_dockers() {
    let p = |lines: &[&str]| {
        lines
            .iter()
            .map(|l| {
                let (negated, pattern) = match l.strip_prefix('!') {
                    Some(rest) => (true, rest),
                    None => (false, *l),
                };
                (negated, pattern.split('/').map(str::to_owned).collect())
            })
            .collect::<Vec<_>>()
    };
    assert!(excluded(&p(&["*"]), "a/b/c"), "a parent's match counts");
    assert!(!excluded(&p(&["*", "!a"]), "a/b/c"), "the last match wins");
    assert!(excluded(&p(&["*", "!a", "**/c"]), "a/b/c"));
    assert!(excluded(&p(&["**/*.db"]), "x.db"), "** spans zero segments");
    assert!(!excluded(&p(&["*.db"]), "a/x.db"), "* stays in one segment");
    assert!(excluded(&p(&["a?c"]), "abc"));
}

/// A compose file of `deploy/`, as text.
fn compose_file(name: &str) -> String {
    let path = repo_root().join("deploy").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The values of every `key: value` line, also as a list item (`- key: value`), in order;
/// comments skipped, quotes dropped. The compose files write one setting per line, which is
/// all these checks need of YAML.
fn values_of(text: &str, key: &str) -> Vec<String> {
    let prefix = format!("{key}:");
    text.lines()
        .map(str::trim)
        .map(|line| line.strip_prefix("- ").unwrap_or(line))
        .filter_map(|line| line.strip_prefix(&prefix))
        .map(|value| value.trim().trim_matches('"').to_owned())
        .collect()
}

/// The lines of the block that starts at the line `header` (exactly, indentation included)
/// and runs while lines are indented deeper or blank.
fn block<'t>(text: &'t str, header: &str) -> Vec<&'t str> {
    let depth = header.len() - header.trim_start().len();
    let mut lines = text.lines().skip_while(|line| *line != header);
    assert!(lines.next().is_some(), "no line {header:?}");
    lines
        .take_while(|line| line.trim().is_empty() || line.len() - line.trim_start().len() > depth)
        .collect()
}

/// An IPv4 address as a number.
fn ipv4(text: &str) -> u32 {
    u32::from(
        text.parse::<std::net::Ipv4Addr>()
            .unwrap_or_else(|e| panic!("{text:?}: {e}")),
    )
}

/// Whether `address` is in the IPv4 range `cidr` (`a.b.c.d/n`).
fn in_range(address: &str, cidr: &str) -> bool {
    let (network, bits) = cidr.split_once('/').expect("a CIDR range");
    let bits: u32 = bits.parse().expect("prefix length");
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    ipv4(address) & mask == ipv4(network) & mask
}

#[test]
fn every_secret_file_of_the_compose_files_stays_out_of_the_build() {
    let patterns = patterns();
    for name in ["docker-compose.yml", "docker-compose.cluster.yml"] {
        let files = values_of(&compose_file(name), "file");
        assert!(!files.is_empty(), "{name} names no secret files");
        for file in files {
            let path = format!("deploy/{}", file.trim_start_matches("./"));
            assert!(
                excluded(&patterns, &path),
                "{name}: the secret {path} would reach the build"
            );
        }
    }
}

#[test]
fn the_instances_trust_exactly_nginxs_fixed_address() {
    for name in ["docker-compose.yml", "docker-compose.cluster.yml"] {
        let text = compose_file(name);
        let nginx = values_of(&block(&text, "  nginx:").join("\n"), "ipv4_address");
        assert_eq!(nginx.len(), 1, "{name}: nginx has one fixed address");
        let trusted = values_of(&text, "SESH_TRUSTED_PROXIES");
        assert!(!trusted.is_empty(), "{name}: SESH_TRUSTED_PROXIES is set");
        for value in trusted {
            assert_eq!(
                value, nginx[0],
                "{name}: trust Nginx's address, nothing else"
            );
        }
        let subnets = values_of(&text, "subnet");
        assert!(
            subnets.iter().any(|subnet| in_range(&nginx[0], subnet)),
            "{name}: Nginx's address {} is outside the network's subnet",
            nginx[0]
        );
    }
}

#[test]
fn the_cluster_compose_file_nginx_and_every_instance_name_one_ring() {
    use sesh_gateway::cluster::ring::ClusterRing;

    let text = compose_file("docker-compose.cluster.yml");
    // x-cluster-nodes: the folded lines, which every instance gets as SESH_CLUSTER_NODES.
    let header = text
        .lines()
        .find(|line| line.starts_with("x-cluster-nodes: &cluster-nodes"))
        .expect("x-cluster-nodes anchor");
    let compose_ring: Vec<String> = block(&text, header)
        .iter()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect();
    assert!(
        values_of(&text, "SESH_CLUSTER_NODES")
            .iter()
            .all(|value| value == "*cluster-nodes"),
        "every instance's SESH_CLUSTER_NODES is the x-cluster-nodes anchor"
    );
    // Nginx's server lines, included into the upstream block.
    let upstreams_path = repo_root().join("deploy/nginx-cluster/upstreams/sesh-upstreams.conf");
    let upstreams = std::fs::read_to_string(&upstreams_path).expect("sesh-upstreams.conf");
    let nginx_ring: Vec<String> = upstreams
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        compose_ring, nginx_ring,
        "x-cluster-nodes and sesh-upstreams.conf must list the same server lines, in order"
    );
    assert!(
        values_of(&text, "SESH_UPSTREAMS")
            .iter()
            .any(|value| value == "include /etc/nginx/sesh-upstreams/sesh-upstreams.conf;"),
        "Nginx's upstream block includes sesh-upstreams.conf"
    );
    // As sesh reads it: the folded text, one line.
    let ring: ClusterRing = compose_ring
        .join(" ")
        .parse()
        .expect("sesh parses the ring");
    let addresses: Vec<&str> = ring.nodes().iter().map(|node| node.address()).collect();
    assert_eq!(addresses.len(), 3, "three instances");

    // Each instance: its SESH_NODE_ID is its own address in the ring, on its fixed address.
    let node_ids = values_of(&text, "SESH_NODE_ID");
    assert_eq!(
        node_ids, addresses,
        "one SESH_NODE_ID per ring entry, in order"
    );
    let listen = values_of(&text, "SESH_LISTEN");
    let fixed = values_of(&text, "ipv4_address");
    let subnet = values_of(&text, "subnet");
    let dynamic = values_of(&text, "ip_range");
    for (i, id) in node_ids.iter().enumerate() {
        let service = format!("  sesh-{}:", i + 1);
        let own = values_of(&block(&text, &service).join("\n"), "SESH_NODE_ID");
        assert_eq!(own, [id.as_str()], "{service} names itself");
        let (host, port) = id.rsplit_once(':').expect("host:port");
        let address = values_of(&block(&text, &service).join("\n"), "ipv4_address");
        assert_eq!(
            address,
            [host],
            "{service}'s fixed address is its ring address"
        );
        assert_eq!(
            fixed.iter().filter(|a| *a == host).count(),
            1,
            "{host} used once"
        );
        assert!(in_range(host, &subnet[0]), "{host} in {}", subnet[0]);
        assert!(
            !in_range(host, &dynamic[0]),
            "{host} inside ip_range {}: Docker could hand it to another container",
            dynamic[0]
        );
        assert!(
            listen.iter().all(|l| l.ends_with(&format!(":{port}"))),
            "SESH_LISTEN's port is the ring's {port}"
        );
    }

    // Secrets only as files; no password in the database URL.
    for key in [
        "SESH_SECRET_KEY",
        "SPOTIFY_CLIENT_SECRET",
        "PGPASSWORD",
        "POSTGRES_PASSWORD",
    ] {
        assert!(values_of(&text, key).is_empty(), "{key} as a variable");
    }
    let url = values_of(&text, "SESH_DATABASE_URL");
    assert_eq!(
        url,
        ["postgres://sesh@postgres:5432/sesh"],
        "no password in the URL"
    );
    assert_eq!(values_of(&text, "PGPASSFILE"), ["/run/secrets/sesh_pgpass"]);

    // Everything Nginx mounts from the repository exists, the three cluster templates too.
    let mounts = block(&text, "  nginx:")
        .into_iter()
        .filter_map(|line| line.trim().strip_prefix("- "))
        .filter(|mount| mount.starts_with('.'))
        .map(|mount| mount.split(':').next().unwrap_or_default().to_owned())
        .collect::<Vec<_>>();
    for template in [
        "../nginx/sesh-cluster.conf.template",
        "../nginx/sesh-proxy.inc.template",
        "../nginx/sesh-cluster-main.conf.template",
    ] {
        assert!(
            mounts.iter().any(|m| m == template),
            "nginx mounts {template}"
        );
    }
    for mount in mounts {
        let path = repo_root().join("deploy").join(&mount);
        assert!(path.exists(), "nginx mounts {mount}, which does not exist");
    }
}

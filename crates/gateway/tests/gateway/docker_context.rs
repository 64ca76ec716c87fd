//! What `docker build` may send as build context, judged from the repository's
//! `.dockerignore`: everything the build needs goes in, local secrets and state never do
//! (`deploy/Dockerfile` copies the whole context into a build layer).
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

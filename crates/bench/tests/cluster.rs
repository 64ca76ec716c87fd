//! End to end: `--members-cluster 2` runs a tiny `members` scenario on the real binaries — one
//! `sesh` on SQLite, one on a throwaway PostgreSQL, and two on one PostgreSQL behind a real
//! Nginx rendered from the shipped cluster templates — and reports each node beside the single
//! nodes. Needs `nginx`, `envsubst` and PostgreSQL's server programs (`scripts/install-deps`),
//! like the gateway's own tests through Nginx and on PostgreSQL.

mod common;

use common::cell;
use serde_json::Value;
use std::process::Command;

#[test]
fn a_small_members_run_on_two_nodes_reports_each_beside_the_single_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_sesh-bench"))
        .args(["--quick", "--members", "--servers", "sesh"])
        .args(["--members-cluster", "2", "--members-n", "40"])
        .args(["--window-s", "2", "--change-period-s", "1"])
        // A short lease: the cluster settles for one lease TTL before the members come.
        .args(["--sesh-env", "SESH_LEASE_TTL=3s"])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "sesh-bench failed:\n{stderr}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("members on 2 nodes behind Nginx"),
        "no cluster table on stdout:\n{text}"
    );

    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["failures"], serde_json::json!([]));
    let table = &report["tables"][0];
    assert_eq!(
        table["columns"],
        serde_json::json!([
            "SQLite, 1 node",
            "PostgreSQL, 1 node",
            "node 1",
            "node 2",
            "2 nodes, together"
        ])
    );
    for column in ["SQLite, 1 node", "PostgreSQL, 1 node", "2 nodes, together"] {
        assert_eq!(
            cell(table, "member WebSockets held", column),
            Some(40.0),
            "{column}"
        );
        assert_eq!(
            cell(table, "sessions it runs", column),
            Some(4.0),
            "{column}"
        );
        let frames = cell(table, "fan-out per burst: frames out", column).unwrap();
        assert_eq!(
            frames, 40.0,
            "{column}: every member gets each burst's frame"
        );
    }
    let held: f64 = ["node 1", "node 2"]
        .iter()
        .map(|n| cell(table, "member WebSockets held", n).unwrap())
        .sum();
    assert_eq!(held, 40.0, "the nodes hold every member between them");
    let together = "2 nodes, together";
    assert_eq!(
        cell(table, "sessions whose requests Nginx sent", together),
        Some(0.0)
    );
    assert_eq!(
        cell(table, "… from the members' connecting", together),
        Some(0.0)
    );
    assert_eq!(
        cell(table, "sockets the server closed", together),
        Some(0.0)
    );
    assert_eq!(
        cell(table, "sockets that failed to open", together),
        Some(0.0)
    );
    let rss = cell(table, "RSS with the members connected", together).unwrap();
    assert!(rss > 10.0 && rss < 2048.0, "two nodes' RSS {rss} MB");
    assert!(cell(table, "Nginx sockets held", together).unwrap() >= 40.0);
}

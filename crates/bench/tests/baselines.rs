//! End to end: the real `sesh-bench` binary runs small scenarios against both baseline
//! servers (separate processes, real sockets, real client processes) and reports figures.

mod common;

use common::cell as value;
use serde_json::Value;
use std::process::Command;

#[test]
fn small_members_and_join_storm_against_both_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_sesh-bench"))
        .args([
            "--quick",
            "--members",
            "--join-storm",
            "--servers",
            "actix,tungstenite",
        ])
        .args([
            "--members-n",
            "60",
            "--window-s",
            "2",
            "--change-period-s",
            "1",
        ])
        .args(["--join-rate", "50", "--join-secs", "1"])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "sesh-bench failed:\n{stderr}");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("| members"), "no table on stdout:\n{table}");

    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["failures"], serde_json::json!([]));
    for server in ["actix-ws", "tungstenite"] {
        let p99 = value(
            &report,
            "burst (6 sessions at once) detect→recv p99",
            server,
        )
        .unwrap();
        assert!(p99 > 0.0 && p99 < 1000.0, "{server} burst p99 {p99}");
        assert_eq!(
            value(&report, "missed deliveries", server),
            Some(0.0),
            "{server}"
        );
        let memory = value(&report, "idle memory per member", server).unwrap();
        // RSS deltas over 60 sockets are noisy; only check the figure is sane.
        assert!(
            memory.is_finite() && memory.abs() < 1024.0,
            "{server} {memory} KB per member"
        );
        assert_eq!(
            value(&report, "failed joins", server),
            Some(0.0),
            "{server}"
        );
        let join_p99 = value(&report, "join→welcome p99", server).unwrap();
        assert!(join_p99 > 0.0, "{server} join p99 {join_p99}");
    }
    let details = &report["details"]["members/actix-ws"];
    assert_eq!(details["opened"], 60);
    assert_eq!(details["failed"], 0);
}

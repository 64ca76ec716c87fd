//! End to end: the real `sesh-bench` binary runs a tiny `displays` scenario against the real
//! `sesh` and emulator binaries (brought up to date by `sesh-bench` itself under cargo), with
//! members on WebSockets and displays on Server-Sent Events, and reports both sides.

mod common;

use serde_json::Value;
use std::process::Command;

/// A figure of the `sesh` column.
fn value(report: &Value, metric_prefix: &str) -> Option<f64> {
    common::cell(report, metric_prefix, "sesh")
}

#[test]
fn a_small_displays_run_reports_members_and_displays_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_sesh-bench"))
        .args(["--quick", "--displays", "--servers", "sesh"])
        .args(["--displays-members-n", "12", "--displays-n", "30"])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "sesh-bench failed:\n{stderr}");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("| displays"), "no table on stdout:\n{table}");

    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["failures"], serde_json::json!([]));
    let details = &report["details"]["displays/sesh"];
    assert_eq!(details["members"]["opened"], 12);
    assert_eq!(details["displays"]["opened"], 30);
    // 30 streams from one address: past the default per-address cap (20), so the bench
    // must have raised it.
    assert_eq!(details["displays"]["failed"], 0);
    for side in ["members' WebSockets", "displays' SSE"] {
        let p99 = value(&report, &format!("detect→recv p99, {side}")).unwrap();
        assert!(
            (0.0..5_000.0).contains(&p99),
            "{side}: detect→recv p99 {p99}"
        );
        let e2e = value(&report, &format!("track change→recv p99, {side}")).unwrap();
        assert!(e2e > 0.0 && e2e < 30_000.0, "{side}: change→recv p99 {e2e}");
    }
    assert_eq!(value(&report, "missed deliveries, members"), Some(0.0));
    assert_eq!(value(&report, "missed deliveries, displays"), Some(0.0));
    // RSS deltas over a few dozen connections are noisy; only check the figures are sane.
    for metric in [
        "server RSS growth per WebSocket member",
        "server RSS growth per display",
    ] {
        let kb = value(&report, metric).unwrap();
        assert!(kb.is_finite() && kb.abs() < 4096.0, "{metric}: {kb} KB");
    }
}

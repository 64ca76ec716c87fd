//! Turns finished operations into latencies, misses and frame sizes, and their JSON.

use super::model::{Op, OpKind};
use crate::stats::Summary;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// What one server did at one queue length.
#[derive(Default)]
pub(super) struct Phase {
    pub(super) members: usize,
    pub(super) queue_len: usize,
    pub(super) ops: usize,
    pub(super) http_ops: usize,
    pub(super) refused: usize,
    pub(super) refusals: Vec<String>,
    /// Answer (HTTP), send (WebSocket) or trigger answer (baseline) → receipt, ms.
    pub(super) answer_ms: Vec<f64>,
    /// Request sent → receipt, ms.
    pub(super) request_ms: Vec<f64>,
    pub(super) http_answer_ms: Vec<f64>,
    pub(super) ws_send_ms: Vec<f64>,
    /// Per operation: answer → the last member's receipt, ms.
    pub(super) last_ms: Vec<f64>,
    /// HTTP request → answer, ms.
    pub(super) http_ms: Vec<f64>,
    pub(super) missed: usize,
    pub(super) unmatched: usize,
    pub(super) votes_mismatch: usize,
    /// Bytes of the frames received, by frame type.
    pub(super) sizes: BTreeMap<&'static str, Vec<u32>>,
    /// Every byte members received during the operations, per member and operation.
    pub(super) bytes_per_member_op: Option<f64>,
    /// `queue` (window) and `error` frames received during the operations.
    pub(super) window_frames: u64,
    pub(super) error_frames: u64,
    pub(super) rate: f64,
    pub(super) cpu_pct: Option<f64>,
}

impl Phase {
    pub(super) fn answer(&self) -> Option<Summary> {
        Summary::of(&mut self.answer_ms.clone())
    }

    pub(super) fn mean_size(&self, kind: &str) -> Option<f64> {
        let sizes = self.sizes.get(kind)?;
        (!sizes.is_empty())
            .then(|| sizes.iter().map(|&b| f64::from(b)).sum::<f64>() / sizes.len() as f64)
    }

    /// Folds the finished operations into latencies and sizes.
    pub(super) fn account(&mut self, ops: &[Op], members: usize, elapsed: Duration) {
        self.members = members;
        self.ops = ops.len();
        self.rate = ops.len() as f64 / elapsed.as_secs_f64().max(1e-3);
        for op in ops {
            if op.refused {
                self.refused += 1;
                continue;
            }
            if op.http {
                self.http_ops += 1;
                if let (Some(s), Some(a)) = (op.start_us, op.answer_us) {
                    self.http_ms.push((a - s) as f64 / 1000.0);
                }
            }
            self.missed += members.saturating_sub(op.receipts.len());
            let from = op.answer_us.or(op.start_us);
            let kind = match op.kind {
                OpKind::Vote => "entry_votes",
                OpKind::Add => "entry_added",
                OpKind::Remove => "entry_removed",
                OpKind::Broadcast => "playback",
            };
            if !op.bytes.is_empty() {
                self.sizes.entry(kind).or_default().extend(&op.bytes);
            }
            let mut last: Option<f64> = None;
            for &recv in &op.receipts {
                if let Some(from) = from {
                    let ms = (recv - from) as f64 / 1000.0;
                    self.answer_ms.push(ms);
                    if op.http {
                        self.http_answer_ms.push(ms);
                    } else {
                        self.ws_send_ms.push(ms);
                    }
                    last = Some(last.map_or(ms, |l: f64| l.max(ms)));
                }
                if let Some(start) = op.start_us {
                    self.request_ms.push((recv - start) as f64 / 1000.0);
                }
            }
            if let Some(last) = last
                && op.receipts.len() >= members
            {
                self.last_ms.push(last);
            }
        }
    }

    pub(super) fn json(&self) -> Value {
        let s =
            |v: &Vec<f64>| serde_json::to_value(Summary::of(&mut v.clone())).unwrap_or(Value::Null);
        let sizes: BTreeMap<&str, Value> = self
            .sizes
            .iter()
            .map(|(k, v)| {
                let max = v.iter().max().copied();
                (
                    *k,
                    json!({ "n": v.len(), "mean": self.mean_size(k), "max": max }),
                )
            })
            .collect();
        json!({
            "members": self.members,
            "queue_len": self.queue_len,
            "ops": self.ops,
            "http_ops": self.http_ops,
            "rate_per_s": self.rate,
            "refused": self.refused,
            "refusals": self.refusals,
            "answer_to_recv_ms": s(&self.answer_ms),
            "request_to_recv_ms": s(&self.request_ms),
            "http_answer_to_recv_ms": s(&self.http_answer_ms),
            "ws_send_to_recv_ms": s(&self.ws_send_ms),
            "answer_to_last_member_ms": s(&self.last_ms),
            "http_request_ms": s(&self.http_ms),
            "missed": self.missed,
            "unmatched": self.unmatched,
            "votes_mismatch": self.votes_mismatch,
            "frame_bytes": sizes,
            "bytes_per_member_op": self.bytes_per_member_op,
            "window_frames": self.window_frames,
            "error_frames": self.error_frames,
            "cpu_pct": self.cpu_pct,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::queue::model::Key;
    use tokio::time::Instant;

    fn op(http: bool, start_us: i64, answer_us: Option<i64>, receipts: Vec<i64>) -> Op {
        Op {
            kind: OpKind::Vote,
            http,
            key: Key::Votes(1),
            member: 0,
            track: None,
            start_us: Some(start_us),
            answer_us,
            entry: None,
            expect_votes: Some(1),
            bytes: vec![50; receipts.len()],
            receipts,
            refused: false,
            issued: Instant::now(),
            open: false,
        }
    }

    #[test]
    fn times_http_ops_from_the_answer_and_socket_ops_from_the_send() {
        let ops = vec![
            op(true, 1_000, Some(3_000), vec![4_000, 5_000]),
            op(false, 10_000, None, vec![12_000]),
        ];
        let mut phase = Phase::default();
        phase.account(&ops, 2, Duration::from_secs(1));
        assert_eq!(phase.http_answer_ms, vec![1.0, 2.0]);
        assert_eq!(phase.ws_send_ms, vec![2.0]);
        assert_eq!(phase.request_ms, vec![3.0, 4.0, 2.0]);
        // The socket op reached one member of two: one miss, no "last member" sample.
        assert_eq!((phase.missed, phase.last_ms.clone()), (1, vec![2.0]));
        assert_eq!(phase.mean_size("entry_votes"), Some(50.0));
    }
}

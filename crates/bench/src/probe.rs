//! What a measurement reads at each of its moments: the memory and CPU of every server
//! process ([`procstat`](crate::procstat): one process, or each node of a cluster), each
//! node's own counters when it serves them ([`Counters`]), a cluster's other processes
//! (Nginx, PostgreSQL, each with its children), and the emulator's count of player polls.

use crate::procstat::{self, Snapshot};
use crate::sesh::metrics::Counters;
use crate::sesh::{SeshApi, SeshTarget};

/// Which processes a figure is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sel {
    /// Every node, added up (the one server when there is one).
    All,
    /// Node `i` alone.
    Node(usize),
}

/// One server process to read.
#[derive(Debug, Clone)]
pub struct ProbeNode {
    /// Its process id, when known.
    pub pid: Option<u32>,
    /// Its `GET /metrics`, when it serves one.
    pub metrics_url: Option<String>,
}

/// The processes of one server under test.
#[derive(Clone)]
pub struct Probe {
    nodes: Vec<ProbeNode>,
    /// Other processes by name (`nginx`, `postgres`), read with their children.
    aux: Vec<(String, u32)>,
    /// The emulator, for its count of `GET /v1/me/player`.
    emulator: Option<SeshApi>,
    http: reqwest::Client,
}

/// Everything read at one moment.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    /// Per node: memory and CPU.
    pub nodes: Vec<Option<Snapshot>>,
    /// Per node: its counters.
    pub counters: Vec<Option<Counters>>,
    /// Per other process (by name): memory and CPU with its children, and its sockets
    /// (children's included).
    pub aux: Vec<(String, Option<Snapshot>, Option<usize>)>,
    /// The emulator's `GET /v1/me/player` total.
    pub emulator_polls: Option<u64>,
}

impl Probe {
    /// One process (a baseline, or a Sesh reached by URL), no counters.
    pub fn single(pid: Option<u32>) -> Probe {
        Probe {
            nodes: vec![ProbeNode {
                pid,
                metrics_url: None,
            }],
            aux: Vec::new(),
            emulator: None,
            http: reqwest::Client::new(),
        }
    }

    /// Every process of `sesh`, its nodes' counters and its emulator.
    pub fn of_sesh(sesh: &SeshTarget) -> Probe {
        Probe {
            nodes: sesh
                .nodes
                .iter()
                .map(|n| ProbeNode {
                    pid: n.pid,
                    metrics_url: n.metrics_url.clone(),
                })
                .collect(),
            aux: sesh.aux.clone(),
            emulator: Some(sesh.api.clone()),
            http: reqwest::Client::new(),
        }
    }

    /// Reads everything now (a node or process that does not answer reads as `None`).
    pub async fn read(&self) -> Reading {
        let nodes = self
            .nodes
            .iter()
            .map(|n| n.pid.and_then(|pid| Snapshot::take(pid).ok()))
            .collect();
        let mut counters = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            counters.push(match &node.metrics_url {
                Some(url) => Counters::scrape(&self.http, url).await.ok(),
                None => None,
            });
        }
        let aux = self
            .aux
            .iter()
            .map(|(name, pid)| {
                let sockets = std::iter::once(*pid)
                    .chain(procstat::children(*pid))
                    .map(|p| procstat::sockets(p).ok())
                    .sum::<Option<usize>>();
                (name.clone(), Snapshot::take_tree(*pid).ok(), sockets)
            })
            .collect();
        let emulator_polls = match &self.emulator {
            Some(api) => api.emulator_player_poll_total().await.ok(),
            None => None,
        };
        Reading {
            nodes,
            counters,
            aux,
            emulator_polls,
        }
    }
}

fn pick<T: Copy>(items: &[Option<T>], sel: Sel, add: impl Fn(T, T) -> T) -> Option<T> {
    match sel {
        Sel::Node(i) => items.get(i).copied().flatten(),
        Sel::All => {
            let mut all = items.iter().copied();
            let first = all.next()??;
            all.try_fold(first, |acc, x| Some(add(acc, x?)))
        }
    }
}

impl Reading {
    /// Resident memory (bytes) of `sel`; `None` unless every process in it was read.
    pub fn rss(&self, sel: Sel) -> Option<u64> {
        let rss: Vec<Option<u64>> = self.nodes.iter().map(|s| s.map(|s| s.rss)).collect();
        pick(&rss, sel, |a, b| a + b)
    }

    /// CPU seconds used so far by `sel`.
    pub fn cpu(&self, sel: Sel) -> Option<f64> {
        let cpu: Vec<Option<f64>> = self.nodes.iter().map(|s| s.map(|s| s.cpu_s)).collect();
        pick(&cpu, sel, |a, b| a + b)
    }

    /// One of `sel`'s counters (`f` picks it), added up over its nodes.
    pub fn counter(&self, sel: Sel, f: impl Fn(&Counters) -> f64) -> Option<f64> {
        let values: Vec<Option<f64>> = self.counters.iter().map(|c| c.as_ref().map(&f)).collect();
        pick(&values, sel, |a, b| a + b)
    }

    /// The other process `name` (with its children): memory and CPU.
    pub fn aux(&self, name: &str) -> Option<Snapshot> {
        self.aux.iter().find(|(n, _, _)| n == name)?.1
    }

    /// The sockets the other process `name` holds (with its children).
    pub fn aux_sockets(&self, name: &str) -> Option<usize> {
        self.aux.iter().find(|(n, _, _)| n == name)?.2
    }
}

/// Two readings around a stretch of time, with what the clients received in it.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// At its start.
    pub start: Reading,
    /// At its end.
    pub end: Reading,
    /// Its length, seconds.
    pub secs: f64,
    /// Frames the clients received in it.
    pub frames: u64,
    /// Sockets the clients still held open at its end.
    pub open: u64,
}

impl Window {
    /// CPU seconds `sel` used in it.
    pub fn cpu(&self, sel: Sel) -> Option<f64> {
        Some(self.end.cpu(sel)? - self.start.cpu(sel)?)
    }

    /// How much one of `sel`'s counters grew in it.
    pub fn counter(&self, sel: Sel, f: impl Fn(&Counters) -> f64 + Copy) -> Option<f64> {
        Some(self.end.counter(sel, f)? - self.start.counter(sel, f)?)
    }

    /// CPU seconds the other process `name` (with its children) used in it.
    pub fn aux_cpu(&self, name: &str) -> Option<f64> {
        Some(self.end.aux(name)?.cpu_s - self.start.aux(name)?.cpu_s)
    }

    /// The emulator's player polls in it.
    pub fn emulator_polls(&self) -> Option<u64> {
        Some(
            self.end
                .emulator_polls?
                .saturating_sub(self.start.emulator_polls?),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(rss: u64, cpu_s: f64) -> Option<Snapshot> {
        Some(Snapshot { rss, cpu_s })
    }

    #[test]
    fn all_adds_the_nodes_up_and_needs_every_one() {
        let reading = Reading {
            nodes: vec![snap(10, 1.0), snap(20, 2.5)],
            counters: vec![
                Some(Counters {
                    frames: 5.0,
                    ..Counters::default()
                }),
                None,
            ],
            ..Reading::default()
        };
        assert_eq!(reading.rss(Sel::All), Some(30));
        assert_eq!(reading.rss(Sel::Node(1)), Some(20));
        assert_eq!(reading.cpu(Sel::All), Some(3.5));
        assert_eq!(reading.counter(Sel::Node(0), |c| c.frames), Some(5.0));
        assert_eq!(reading.counter(Sel::All, |c| c.frames), None);
        assert_eq!(reading.rss(Sel::Node(2)), None);
    }
}

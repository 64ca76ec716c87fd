//! The ring Nginx's `hash $sesh_key consistent` builds, so sesh can tell which instance Nginx
//! sends a session to, and where Nginx sends it while that instance is down.
//!
//! How Nginx builds it (`ngx_http_upstream_hash_module.c`, `init_chash`): each `server` line
//! adds `160 × weight` points. The points of one server are a chain of CRC-32s over its
//! address *as written in the line*, split at the last `:` followed only by digits:
//! `crc32(HOST "\0" PORT PREV)`, PREV being the previous point's hash as 4 little-endian bytes
//! (zero for the first point). The points are sorted and equal hashes kept once. A request
//! whose key hashes to `crc32(key)` goes to the first point at or after that hash, wrapping
//! to the first point; if that point's server is down, failed (`max_fails` within
//! `fail_timeout`) or already tried for this request, to the next point, and so on.
//! [`ClusterRing::candidates`] walks the ring the same way.
//!
//! Why the points are not `pingora_ketama::Continuum`'s: pingora-ketama builds the same ring,
//! but from a `SocketAddr`, hashing `ip "\0" port`. That is Nginx's text only for an IPv4
//! literal with a port. A host name (`sesh-1:8080`, what Compose uses), an IPv6 literal (Nginx
//! hashes `[::1]` with its brackets) or an address without a port (Nginx hashes an empty port,
//! not `80`) would land elsewhere. So the ring hashes the text; the tests check it against
//! pingora-ketama where the two must agree and against answers recorded from a real Nginx.

use std::{fmt, str::FromStr};

use sesh_session::SessionId;

/// Points per unit of weight, as in Nginx (and memcached's ketama before it).
const POINTS_PER_WEIGHT: u32 = 160;

/// The largest weight a node may have: far above any sensible ratio between instances, and
/// small enough that the ring stays a few megabytes at most.
pub const MAX_WEIGHT: u32 = 1000;

/// One instance, named exactly as in its `server` line of Nginx's upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    address: String,
    weight: u32,
}

impl ClusterNode {
    /// A node with its address as Nginx's `server` line spells it (`10.0.0.11:8080`,
    /// `sesh-2:8080`, `[fd00::2]:8080`) and the line's `weight` (1 when the line has none).
    pub fn new(address: impl Into<String>, weight: u32) -> Result<Self, RingError> {
        let address = address.into();
        if address.is_empty() || address.contains(char::is_whitespace) {
            return Err(RingError::Address(address));
        }
        if !(1..=MAX_WEIGHT).contains(&weight) {
            return Err(RingError::Weight {
                node: address,
                value: weight.to_string(),
            });
        }
        Ok(Self { address, weight })
    }

    /// The address as written in the `server` line: what Nginx hashes, and what a node
    /// compares with its own `SESH_CLUSTER_NODES` entry.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The `weight=` of the server line: the node holds `160 × weight` points of the ring.
    pub fn weight(&self) -> u32 {
        self.weight
    }
}

impl fmt::Display for ClusterNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

/// Why a node list is not a ring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    #[error("the cluster has no nodes: list each instance as host:port, as Nginx's upstream does")]
    Empty,
    #[error("{0:?} is not a node address (host:port, without spaces)")]
    Address(String),
    #[error("node {0} is listed twice")]
    Duplicate(String),
    #[error("node {node}: weight must be a whole number from 1 to {MAX_WEIGHT}, not {value:?}")]
    Weight { node: String, value: String },
    #[error(
        "node {node}: {parameter:?} is not understood here (weight=, max_fails=, fail_timeout= \
         and max_conns= are; backup does not work with Nginx's hash)"
    )]
    Parameter { node: String, parameter: String },
}

/// A point on the ring: a hash and the node (index into `nodes`) it belongs to.
#[derive(Debug, Clone, Copy)]
struct Point {
    hash: u32,
    node: usize,
}

/// The nodes of the cluster on Nginx's consistent-hash ring.
#[derive(Debug, Clone)]
pub struct ClusterRing {
    nodes: Vec<ClusterNode>,
    /// Sorted by hash, each hash once.
    points: Vec<Point>,
}

impl ClusterRing {
    pub fn new(nodes: Vec<ClusterNode>) -> Result<Self, RingError> {
        if nodes.is_empty() {
            return Err(RingError::Empty);
        }
        for (i, node) in nodes.iter().enumerate() {
            if nodes[..i].iter().any(|n| n.address == node.address) {
                return Err(RingError::Duplicate(node.address.clone()));
            }
        }
        let total: usize = nodes
            .iter()
            .map(|n| (n.weight * POINTS_PER_WEIGHT) as usize)
            .sum();
        let mut points = Vec::with_capacity(total);
        for (index, node) in nodes.iter().enumerate() {
            let (host, port) = split_host_port(&node.address);
            let mut base = crc32fast::Hasher::new();
            base.update(host.as_bytes());
            base.update(b"\0");
            base.update(port.as_bytes());
            let mut previous = 0_u32;
            for _ in 0..node.weight * POINTS_PER_WEIGHT {
                let mut hasher = base.clone();
                hasher.update(&previous.to_le_bytes());
                previous = hasher.finalize();
                points.push(Point {
                    hash: previous,
                    node: index,
                });
            }
        }
        // A stable sort keeps the earlier server line's point when two hashes are equal, as
        // glibc's qsort (a merge sort) does for Nginx; other C libraries may keep either. With
        // 32-bit hashes that is about one ring in 40,000 for three nodes, and one point's arc.
        points.sort_by_key(|p| p.hash);
        points.dedup_by_key(|p| p.hash);
        Ok(Self { nodes, points })
    }

    /// The nodes in the order they were listed.
    pub fn nodes(&self) -> &[ClusterNode] {
        &self.nodes
    }

    /// The node Nginx sends `session`'s requests to while every node is up.
    pub fn preferred(&self, session: &SessionId) -> &ClusterNode {
        let first = self.start(&session_key(session));
        &self.nodes[self.points[first].node]
    }

    /// The first node for `session` that `is_live` accepts: where Nginx sends it while the
    /// others before it are down. `None` when no node is live.
    pub fn preferred_live(
        &self,
        session: &SessionId,
        mut is_live: impl FnMut(&ClusterNode) -> bool,
    ) -> Option<&ClusterNode> {
        self.candidates(session).find(|node| is_live(node))
    }

    /// Every node once, in the order Nginx tries them for `session`: the preferred one, then
    /// the owner of each next point on the ring that is not a node already named.
    pub fn candidates(&self, session: &SessionId) -> Candidates<'_> {
        self.candidates_for_key(&session_key(session))
    }

    /// [`Self::candidates`] for any Nginx hash key (the value of `$sesh_key`).
    pub fn candidates_for_key(&self, key: &str) -> Candidates<'_> {
        Candidates {
            ring: self,
            next: self.start(key),
            steps_left: self.points.len(),
            named: vec![false; self.nodes.len()],
        }
    }

    /// The index of the first point at or after the key's hash, wrapping around.
    fn start(&self, key: &str) -> usize {
        let hash = crc32fast::hash(key.as_bytes());
        let at = self.points.partition_point(|p| p.hash < hash);
        if at == self.points.len() { 0 } else { at }
    }
}

/// The key Nginx's `map` takes from the path for a session: its id as sesh writes it in URLs
/// (hyphenated, lower case).
pub fn session_key(session: &SessionId) -> String {
    session.to_string()
}

/// Nginx's split of a `server` address into host and port: at the last `:` followed only by
/// digits; `unix:` sockets and addresses without such a colon have an empty port.
fn split_host_port(address: &str) -> (&str, &str) {
    if let Some(prefix) = address.get(..5)
        && prefix.eq_ignore_ascii_case("unix:")
    {
        return (&address[5..], "");
    }
    match address.rfind(|c: char| !c.is_ascii_digit()) {
        Some(at) if address.as_bytes()[at] == b':' => (&address[..at], &address[at + 1..]),
        _ => (address, ""),
    }
}

/// See [`ClusterRing::candidates`].
#[derive(Debug)]
pub struct Candidates<'a> {
    ring: &'a ClusterRing,
    next: usize,
    /// Nginx gives up after walking once around the ring; so does this.
    steps_left: usize,
    named: Vec<bool>,
}

impl<'a> Iterator for Candidates<'a> {
    type Item = &'a ClusterNode;

    fn next(&mut self) -> Option<Self::Item> {
        while self.steps_left > 0 {
            self.steps_left -= 1;
            let node = self.ring.points[self.next].node;
            self.next = (self.next + 1) % self.ring.points.len();
            if !self.named[node] {
                self.named[node] = true;
                return Some(&self.ring.nodes[node]);
            }
        }
        None
    }
}

/// `SESH_CLUSTER_NODES`: the instances as Nginx's upstream lists them, separated by commas,
/// semicolons or line breaks. Each is an address with optional Nginx parameters, and may start
/// with `server`, so the text of `SESH_UPSTREAMS` can be used as it is:
/// `sesh-1:8080, sesh-2:8080 weight=2` or
/// `server sesh-1:8080 max_fails=3 fail_timeout=10s; server sesh-2:8080;`.
/// Only `weight` changes the ring; the failure parameters are Nginx's business and ignored.
impl FromStr for ClusterRing {
    type Err = RingError;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let mut nodes = Vec::new();
        for entry in list.split([',', ';', '\n']) {
            let mut words = entry.split_whitespace().peekable();
            words.next_if_eq(&"server");
            let Some(address) = words.next() else {
                continue;
            };
            let mut weight = 1;
            for parameter in words {
                if let Some(value) = parameter.strip_prefix("weight=") {
                    weight = value.parse().map_err(|_| RingError::Weight {
                        node: address.to_owned(),
                        value: value.to_owned(),
                    })?;
                } else if !["max_fails=", "fail_timeout=", "max_conns="]
                    .iter()
                    .any(|known| parameter.starts_with(known))
                {
                    return Err(RingError::Parameter {
                        node: address.to_owned(),
                        parameter: parameter.to_owned(),
                    });
                }
            }
            nodes.push(ClusterNode::new(address, weight)?);
        }
        Self::new(nodes)
    }
}

#[cfg(test)]
mod tests;

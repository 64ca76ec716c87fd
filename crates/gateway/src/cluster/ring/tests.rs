use std::net::SocketAddr;

use proptest::prelude::*;

use super::*;

fn ring(list: &str) -> ClusterRing {
    list.parse().expect("ring")
}

fn id(text: &str) -> SessionId {
    text.parse().expect("session id")
}

fn ids(count: usize) -> Vec<SessionId> {
    (0..count).map(|_| SessionId::new_v4()).collect()
}

/// Answers of a real Nginx (1.22.1, `hash $arg_k consistent`) for this upstream, whose host
/// names all resolve to 127.0.0.1: host names, an IPv6 literal and a weight, the cases where
/// pingora-ketama's `SocketAddr` hashing would not match.
#[test]
fn matches_answers_recorded_from_nginx() {
    let ring = ring("localhost:17771, vm:17772, [::1]:17773, 127.0.0.1:17774 weight=2");
    let recorded = [
        ("0b6f2b5e-6c1f-4d0e-9a43-2f7c1e0d9b11", "127.0.0.1:17774"),
        ("7d3c9a52-1e84-4b7f-8c2d-5a6e9f0b3c47", "127.0.0.1:17774"),
        ("c1e5f7a9-3b2d-4e6f-8a0c-9d1b3f5e7a2c", "[::1]:17773"),
        ("4a8e2c6f-0d9b-4f1e-a3c5-7b9d1f3e5a8c", "localhost:17771"),
        ("e9f1a3c5-7b2d-4e8f-b0a6-2c4e6f8a0b1d", "127.0.0.1:17774"),
        ("2f4a6c8e-0b1d-4f3e-95a7-c9e1b3d5f7a9", "127.0.0.1:17774"),
        ("9b1d3f5e-7a9c-4b2e-8d0f-1a3c5e7f9b2d", "[::1]:17773"),
        ("5c7e9a1b-3d5f-4e7a-b9c1-d3f5a7b9c1e3", "vm:17772"),
        ("d8f0a2c4-6e8b-4a0d-92e4-f6a8c0e2b4d6", "localhost:17771"),
        ("3e5a7c9b-1d3f-45a7-89bd-f1a3c5e7b9d1", "[::1]:17773"),
        ("a6c8e0f2-4b6d-48fa-a2c4-e6f8b0d2a4c6", "127.0.0.1:17774"),
        ("17b9d1f3-5a7c-4e9b-b1d3-f5a7c9e1b3d5", "localhost:17771"),
    ];
    for (session, node) in recorded {
        assert_eq!(ring.preferred(&id(session)).address(), node, "{session}");
    }
}

/// Answers of a real Nginx published with pingora-ketama (its `matches_nginx_sample` test).
#[test]
fn matches_pingora_ketamas_nginx_sample() {
    let ring = ring("127.0.0.1:7777, 127.0.0.1:7778");
    for (key, node) in [
        ("/some/path", "127.0.0.1:7778"),
        ("/some/longer/path", "127.0.0.1:7777"),
        ("/sad/zaidoon", "127.0.0.1:7778"),
        ("/g", "127.0.0.1:7777"),
    ] {
        let first = ring.candidates_for_key(key).next().expect("a node");
        assert_eq!(first.address(), node, "{key}");
    }
}

#[test]
fn splits_addresses_as_nginx_does() {
    assert_eq!(split_host_port("10.0.0.1:8080"), ("10.0.0.1", "8080"));
    assert_eq!(split_host_port("sesh-1:8080"), ("sesh-1", "8080"));
    assert_eq!(split_host_port("[::1]:8080"), ("[::1]", "8080"));
    assert_eq!(split_host_port("sesh-1"), ("sesh-1", ""));
    assert_eq!(split_host_port("sesh-1:"), ("sesh-1", ""));
    assert_eq!(split_host_port("8080"), ("8080", ""));
    assert_eq!(split_host_port("[::1]"), ("[::1]", ""));
    assert_eq!(
        split_host_port("unix:/run/sesh.sock"),
        ("/run/sesh.sock", "")
    );
    assert_eq!(split_host_port("UNIX:/run/1:2"), ("/run/1:2", ""));
}

#[test]
fn parses_node_lists_and_upstream_lines() {
    let plain = ring("sesh-1:8080, sesh-2:8080 weight=2,sesh-3:8080");
    let lines = ring(
        "server sesh-1:8080 max_fails=3 fail_timeout=10s;\n\
         server sesh-2:8080 weight=2 max_conns=100;\n    server sesh-3:8080;\n",
    );
    for ring in [&plain, &lines] {
        let nodes: Vec<_> = ring
            .nodes()
            .iter()
            .map(|n| (n.address(), n.weight()))
            .collect();
        assert_eq!(
            nodes,
            [("sesh-1:8080", 1), ("sesh-2:8080", 2), ("sesh-3:8080", 1)]
        );
    }
    let session = SessionId::new_v4();
    assert_eq!(plain.preferred(&session), lines.preferred(&session));
}

#[test]
fn refuses_lists_nginx_would_not_route_like_this() {
    let error = |list: &str| list.parse::<ClusterRing>().expect_err(list);
    assert_eq!(error(""), RingError::Empty);
    assert_eq!(error(" ,; \n"), RingError::Empty);
    assert_eq!(error("a:1, a:1"), RingError::Duplicate("a:1".into()));
    assert!(matches!(error("a:1 weight=0"), RingError::Weight { .. }));
    assert!(matches!(error("a:1 weight=two"), RingError::Weight { .. }));
    assert!(matches!(error("a:1 weight=1001"), RingError::Weight { .. }));
    assert!(matches!(error("a:1 backup"), RingError::Parameter { .. }));
    assert!(matches!(error("server"), RingError::Empty));
}

/// Adding a fourth node to three moves about a quarter of the sessions, all to the new node.
#[test]
fn a_fourth_node_takes_about_a_quarter() {
    let three = ring("10.0.0.11:8080, 10.0.0.12:8080, 10.0.0.13:8080");
    let four = ring("10.0.0.11:8080, 10.0.0.12:8080, 10.0.0.13:8080, 10.0.0.14:8080");
    let sessions = ids(4000);
    let moved: Vec<_> = sessions
        .iter()
        .filter(|s| three.preferred(s) != four.preferred(s))
        .collect();
    for session in &moved {
        assert_eq!(four.preferred(session).address(), "10.0.0.14:8080");
    }
    let share = moved.len() as f64 / sessions.len() as f64;
    assert!((0.15..=0.35).contains(&share), "{share} of sessions moved");
}

/// Every node gets a share of the sessions near its weight's share.
#[test]
fn shares_follow_weights() {
    let ring = ring("sesh-1:8080, sesh-2:8080 weight=2, sesh-3:8080");
    let sessions = ids(8000);
    for (node, expected) in [
        ("sesh-1:8080", 0.25),
        ("sesh-2:8080", 0.5),
        ("sesh-3:8080", 0.25),
    ] {
        let share = sessions
            .iter()
            .filter(|s| ring.preferred(s).address() == node)
            .count() as f64
            / sessions.len() as f64;
        assert!((share - expected).abs() < 0.1, "{node}: {share}");
    }
}

#[test]
fn a_ring_of_one_always_answers_that_node() {
    let ring = ring("sesh-1:8080");
    for session in ids(50) {
        assert_eq!(ring.preferred(&session).address(), "sesh-1:8080");
        assert_eq!(ring.candidates(&session).count(), 1);
        assert!(ring.preferred_live(&session, |_| false).is_none());
    }
}

fn ipv4_nodes() -> impl Strategy<Value = Vec<(SocketAddr, u32)>> {
    proptest::collection::btree_map(any::<([u8; 4], u16)>(), 1_u32..=3, 1..6).prop_map(|nodes| {
        nodes
            .into_iter()
            .map(|((ip, port), weight)| (SocketAddr::from((ip, port)), weight))
            .collect()
    })
}

fn node_names(count: usize) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::btree_set("[a-z][a-z0-9-]{0,10}:[0-9]{2,5}", count)
        .prop_map(|names| names.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// For IPv4 literals with ports pingora-ketama hashes the same text as Nginx: the rings
    /// must agree on the first node and on the order of the fallbacks.
    #[test]
    fn agrees_with_pingora_ketama_on_ipv4_literals(
        nodes in ipv4_nodes(),
        keys in proptest::collection::vec("[0-9a-f/-]{0,40}", 20),
    ) {
        let ours = ClusterRing::new(
            nodes.iter().map(|(addr, w)| ClusterNode::new(addr.to_string(), *w).unwrap()).collect(),
        ).unwrap();
        let buckets: Vec<_> = nodes.iter().map(|(a, w)| pingora_ketama::Bucket::new(*a, *w)).collect();
        let theirs = pingora_ketama::Continuum::new(&buckets);
        let points = nodes.iter().map(|(_, w)| *w as usize * 160).sum();
        for key in &keys {
            let mut expected: Vec<String> = Vec::new();
            for addr in theirs.node_iter(key.as_bytes()).take(points) {
                let addr = addr.to_string();
                if !expected.contains(&addr) {
                    expected.push(addr);
                }
            }
            let got: Vec<String> =
                ours.candidates_for_key(key).map(|n| n.address().to_owned()).collect();
            prop_assert_eq!(got, expected, "key {:?}", key);
        }
    }

    /// Answers depend on the nodes, not on their order or on when the ring was built.
    #[test]
    fn answers_are_stable(mut names in node_names(4), seed in any::<u128>()) {
        let first = ClusterRing::new(names.iter().map(|n| ClusterNode::new(n.clone(), 1).unwrap()).collect()).unwrap();
        names.reverse();
        let again = ClusterRing::new(names.iter().map(|n| ClusterNode::new(n.clone(), 1).unwrap()).collect()).unwrap();
        let session = SessionId::from_uuid(uuid::Uuid::from_u128(seed));
        prop_assert_eq!(first.preferred(&session), again.preferred(&session));
        prop_assert_eq!(first.preferred(&session), first.preferred(&session));
        prop_assert_eq!(first.candidates(&session).count(), 4);
    }

    /// A new node only takes sessions; the others keep theirs.
    #[test]
    fn adding_a_node_moves_sessions_only_to_it(names in node_names(4), seeds in proptest::collection::vec(any::<u128>(), 50)) {
        let nodes: Vec<_> = names.iter().map(|n| ClusterNode::new(n.clone(), 1).unwrap()).collect();
        let before = ClusterRing::new(nodes[..3].to_vec()).unwrap();
        let after = ClusterRing::new(nodes.clone()).unwrap();
        for seed in seeds {
            let session = SessionId::from_uuid(uuid::Uuid::from_u128(seed));
            let now = after.preferred(&session);
            prop_assert!(now == before.preferred(&session) || now == &nodes[3]);
        }
    }

    /// Removing a node moves only its sessions, each to where Nginx sends it while that node
    /// is down: the next live candidate of the full ring.
    #[test]
    fn removing_a_node_moves_only_its_sessions(names in node_names(4), gone in 0_usize..4, seeds in proptest::collection::vec(any::<u128>(), 50)) {
        let nodes: Vec<_> = names.iter().map(|n| ClusterNode::new(n.clone(), 1).unwrap()).collect();
        let full = ClusterRing::new(nodes.clone()).unwrap();
        let mut rest = nodes.clone();
        let removed = rest.remove(gone);
        let smaller = ClusterRing::new(rest).unwrap();
        for seed in seeds {
            let session = SessionId::from_uuid(uuid::Uuid::from_u128(seed));
            let was = full.preferred(&session);
            let now = smaller.preferred(&session);
            if was != &removed {
                prop_assert_eq!(now, was);
            }
            prop_assert_eq!(Some(now), full.preferred_live(&session, |n| n != &removed));
        }
    }
}

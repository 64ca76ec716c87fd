//! The emulator's users: eight named ones with fixed devices and rankings, plus
//! `gen-<n>` users created on demand for load tests. Each has a live player.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, TrackIdx};
use crate::ids::{base62_id, device_id};
use crate::player::Player;

/// How many tracks each user's top-tracks ranking holds (one full page at `limit=50`).
pub(crate) const TOP_TRACKS: usize = 50;

/// Spotify's `time_range` for top items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeRange {
    Short,
    Medium,
    Long,
}

impl TimeRange {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "short_term" => Some(Self::Short),
            "medium_term" => Some(Self::Medium),
            "long_term" => Some(Self::Long),
            _ => None,
        }
    }

    fn slot(self) -> usize {
        match self {
            Self::Short => 0,
            Self::Medium => 1,
            Self::Long => 2,
        }
    }
}

/// A Spotify Connect device of a user. Serialized as is into the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Device {
    pub id: String,
    pub name: String,
    /// Spotify's device `type`: `Computer`, `Smartphone`, `Speaker`, `TV`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub volume_percent: u8,
    pub supports_volume: bool,
    /// No Web API command is accepted by a restricted device.
    pub is_restricted: bool,
}

impl Device {
    fn new(owner: &str, name: &str, kind: &str, is_restricted: bool) -> Self {
        let supports_volume = kind != "Smartphone";
        Self {
            id: device_id(&format!("{owner}/{name}")),
            name: name.to_owned(),
            kind: kind.to_owned(),
            volume_percent: if supports_volume { 65 } else { 100 },
            supports_volume,
            is_restricted,
        }
    }
}

/// Who a user is; fixed for the emulator's lifetime.
#[derive(Debug)]
pub(crate) struct Profile {
    pub id: String,
    pub display_name: String,
    pub premium: bool,
    /// Spotify's pseudonymous `account_id`.
    pub account_id: String,
}

/// What changes about a user: their devices and their player.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub devices: Vec<Device>,
    pub player: Player,
}

impl Live {
    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.id == id)
    }

    /// Whether this is still the state the user was created with (nothing played, the
    /// initial devices untouched), so the state file can leave the user out.
    pub fn is_pristine(&self, user_id: &str) -> bool {
        self.player.is_idle()
            && initial_devices(user_id).is_some_and(|initial| initial == self.devices)
    }
}

/// One user: profile, rankings per time range, live state behind its own lock so users
/// never contend with each other.
#[derive(Debug)]
pub(crate) struct User {
    pub profile: Profile,
    top: [Vec<TrackIdx>; 3],
    pub live: Mutex<Live>,
}

impl User {
    /// The user's top tracks for `range`, best first.
    pub fn top_tracks(&self, range: TimeRange) -> &[TrackIdx] {
        &self.top[range.slot()]
    }
}

/// `(id, display name, premium, devices as (name, type, restricted))`.
type NamedUser = (
    &'static str,
    &'static str,
    bool,
    &'static [(&'static str, &'static str, bool)],
);

/// The named users. Tests and docs rely on these ids, flags and devices.
const NAMED_USERS: &[NamedUser] = &[
    (
        "alice",
        "Alice Andersson",
        true,
        &[
            ("Alice's MacBook", "Computer", false),
            ("Alice's iPhone", "Smartphone", false),
        ],
    ),
    (
        "bob",
        "Bob Brennan",
        true,
        &[
            ("Bob's Pixel", "Smartphone", false),
            ("Living Room Speaker", "Speaker", false),
            ("Living Room TV", "TV", true),
        ],
    ),
    (
        "carol",
        "Carol Chen",
        true,
        &[("Carol's Laptop", "Computer", false)],
    ),
    (
        "dave",
        "Dave Dubois",
        false,
        &[
            ("Dave's Phone", "Smartphone", false),
            ("Dave's Desktop", "Computer", false),
        ],
    ),
    (
        "erin",
        "Erin Eriksson",
        true,
        &[
            ("Erin's iPad", "Tablet", false),
            ("Kitchen Speaker", "Speaker", false),
            ("Web Player (Firefox)", "Computer", false),
        ],
    ),
    (
        "frank",
        "Frank Fischer",
        true,
        &[("Frank's Phone", "Smartphone", false)],
    ),
    (
        "grace",
        "Grace Garcia",
        true,
        &[
            ("Grace's Laptop", "Computer", false),
            ("Grace's Phone", "Smartphone", false),
        ],
    ),
    (
        "heidi",
        "Heidi Hansen",
        false,
        &[("Heidi's Phone", "Smartphone", false)],
    ),
];

/// Tracks in several named users' top five, so merged queues overlap.
const HITS: [TrackIdx; 8] = [7, 31, 58, 96, 133, 171, 214, 262];

/// All users, named and generated.
#[derive(Debug)]
pub(crate) struct Users {
    catalog: Arc<Catalog>,
    map: RwLock<HashMap<String, Arc<User>>>,
}

impl Users {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        let mut map = HashMap::new();
        for (k, &(id, name, premium, devices)) in NAMED_USERS.iter().enumerate() {
            let devices = named_devices(id, devices);
            let top5 = named_top_five(k);
            let user = build_user(
                &catalog,
                id,
                name.to_owned(),
                premium,
                devices,
                &top5,
                k as u64,
            );
            map.insert(id.to_owned(), Arc::new(user));
        }
        Self {
            catalog,
            map: RwLock::new(map),
        }
    }

    /// The user `id`; a well-formed `gen-<n>` id creates that user on first use.
    pub fn get(&self, id: &str) -> Option<Arc<User>> {
        if let Some(user) = self.map.read().get(id) {
            return Some(Arc::clone(user));
        }
        let n: u64 = id.strip_prefix("gen-")?.parse().ok()?;
        if id != format!("gen-{n}") {
            // One spelling per user: `gen-007` would otherwise alias `gen-7`.
            return None;
        }
        let mut map = self.map.write();
        let user = map.entry(id.to_owned()).or_insert_with(|| {
            let devices = generated_devices(id, n);
            let mut order: Vec<TrackIdx> = (0..self.catalog.tracks.len()).collect();
            order.shuffle(&mut StdRng::seed_from_u64(n.wrapping_mul(0x9e37_79b9)));
            order.truncate(5);
            Arc::new(build_user(
                &self.catalog,
                id,
                format!("Listener {n}"),
                true,
                devices,
                &order,
                1_000 + n,
            ))
        });
        Some(Arc::clone(user))
    }

    /// Every user that exists so far: the named ones and the generated ones used already.
    pub fn all(&self) -> Vec<Arc<User>> {
        self.map.read().values().map(Arc::clone).collect()
    }

    /// The named users, in their fixed order.
    pub fn named(&self) -> Vec<Arc<User>> {
        NAMED_USERS
            .iter()
            .filter_map(|&(id, ..)| self.get(id))
            .collect()
    }
}

/// The devices user `id` starts with; `None` for an id that names no user.
fn initial_devices(id: &str) -> Option<Vec<Device>> {
    if let Some(&(_, _, _, devices)) = NAMED_USERS.iter().find(|u| u.0 == id) {
        return Some(named_devices(id, devices));
    }
    let n: u64 = id.strip_prefix("gen-")?.parse().ok()?;
    Some(generated_devices(id, n))
}

fn named_devices(id: &str, devices: &[(&str, &str, bool)]) -> Vec<Device> {
    devices
        .iter()
        .map(|&(dev, kind, restricted)| Device::new(id, dev, kind, restricted))
        .collect()
}

/// A `gen-<n>` user's devices: a laptop and, for even `n`, a phone.
fn generated_devices(id: &str, n: u64) -> Vec<Device> {
    if n.is_multiple_of(2) {
        vec![
            Device::new(id, "Phone", "Smartphone", false),
            Device::new(id, "Laptop", "Computer", false),
        ]
    } else {
        vec![Device::new(id, "Laptop", "Computer", false)]
    }
}

/// Named user `k`'s top five: three tracks of their own around two shared hits, so each
/// pair of neighbours (alice/bob, bob/carol, …) has one track in common.
fn named_top_five(k: usize) -> Vec<TrackIdx> {
    let own = 300 + (k * 7) % 60;
    vec![
        own,
        HITS[k % HITS.len()],
        own + 1,
        HITS[(k + 1) % HITS.len()],
        own + 2,
    ]
    .into_iter()
    .map(|t| if t >= 360 { t - 60 } else { t })
    .collect()
}

fn build_user(
    catalog: &Catalog,
    id: &str,
    display_name: String,
    premium: bool,
    devices: Vec<Device>,
    top5: &[TrackIdx],
    seed: u64,
) -> User {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x70_70_70);
    let mut rest: Vec<TrackIdx> = (0..catalog.tracks.len())
        .filter(|t| !top5.contains(t))
        .collect();
    rest.shuffle(&mut rng);
    rest.truncate(TOP_TRACKS.saturating_sub(top5.len()));
    let medium: Vec<TrackIdx> = top5.iter().copied().chain(rest.iter().copied()).collect();
    // Other time ranges rank the same tracks differently, as real listening drifts.
    let mut short = medium.clone();
    short[..top5.len().min(TOP_TRACKS)].rotate_left(1);
    short[top5.len()..].shuffle(&mut rng);
    let mut long = medium.clone();
    long[top5.len()..].reverse();
    if long.len() > 3 {
        long.swap(0, 2);
    }
    User {
        profile: Profile {
            id: id.to_owned(),
            display_name,
            premium,
            account_id: base62_id(&format!("account:{id}"))[..10].to_owned(),
        },
        top: [short, medium, long],
        live: Mutex::new(Live {
            devices,
            player: Player::default(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn named_users_have_distinct_overlapping_rankings() {
        let users = Users::new(Arc::new(Catalog::generate()));
        let named = users.named();
        assert_eq!(named.len(), 8);
        let tops: Vec<HashSet<TrackIdx>> = named
            .iter()
            .map(|u| {
                u.top_tracks(TimeRange::Medium)[..5]
                    .iter()
                    .copied()
                    .collect()
            })
            .collect();
        for (i, top) in tops.iter().enumerate() {
            assert_eq!(top.len(), 5);
            let next = &tops[(i + 1) % tops.len()];
            assert_ne!(top, next);
            assert!(
                !top.is_disjoint(next),
                "user {i} shares nothing with the next"
            );
        }
        for user in &named {
            assert_eq!(user.top_tracks(TimeRange::Short).len(), TOP_TRACKS);
            assert!(user.live.lock().devices.iter().any(|d| !d.is_restricted));
        }
        let restricted: usize = named
            .iter()
            .map(|u| {
                u.live
                    .lock()
                    .devices
                    .iter()
                    .filter(|d| d.is_restricted)
                    .count()
            })
            .sum();
        assert_eq!(restricted, 1);
    }

    #[test]
    fn generated_users_are_deterministic() {
        let catalog = Arc::new(Catalog::generate());
        let a = Users::new(Arc::clone(&catalog));
        let b = Users::new(catalog);
        let (x, y) = (a.get("gen-42").unwrap(), b.get("gen-42").unwrap());
        assert_eq!(
            x.top_tracks(TimeRange::Medium),
            y.top_tracks(TimeRange::Medium)
        );
        assert_eq!(x.live.lock().devices, y.live.lock().devices);
        assert!(a.get("gen-042").is_none());
        assert!(a.get("gen-").is_none());
        assert!(a.get("mallory").is_none());
    }
}

//! Running several sesh instances behind one Nginx on one PostgreSQL database (issue 22;
//! `docs/cluster.md`). Who runs a session is a lease in the database (`db/owners.rs`); here:
//!
//! - [`ring`]: the consistent-hash ring Nginx's `hash $sesh_key consistent` builds from the
//!   `upstream` block of `nginx/sesh-cluster.conf.template`, answering "which instance does
//!   session X prefer, and which next if that one is down";
//! - [`bus`]: hints between the instances over `LISTEN/NOTIFY` (sockets to close, Spotify's
//!   429s).

pub mod bus;
pub mod ring;

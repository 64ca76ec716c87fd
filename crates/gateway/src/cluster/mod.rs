//! Running several sesh instances behind one Nginx (issue 22): which instance a session
//! belongs to. Only the routing part exists so far; `docs/cluster.md` says what is left.
//!
//! - [`ring`]: the consistent-hash ring Nginx's `hash $sesh_key consistent` builds from the
//!   `upstream` block of `nginx/sesh-cluster.conf.template`, answering "which instance does
//!   session X prefer, and which next if that one is down".

pub mod ring;

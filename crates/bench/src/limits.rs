//! Raises the open-files limit: every WebSocket is a file descriptor, and the benchmark
//! holds up to 10,000 of them per process.

/// Raises `RLIMIT_NOFILE`'s soft limit to the hard limit and returns the limit in force.
pub fn raise_open_files() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(err) => {
            tracing::warn!(%err, "could not raise the open-files limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .map(|(soft, _)| soft)
                .unwrap_or(1024)
        }
    }
}

//! Server memory and CPU readings from `/proc`, taken from outside the server process so
//! the measurement costs the server nothing.

use std::io;

/// Linux reports `utime`/`stime` in `/proc/<pid>/stat` in USER_HZ ticks, which the kernel
/// ABI fixes at 100 on every mainstream architecture (it is not the kernel's `HZ`).
const USER_HZ: f64 = 100.0;

/// Resident set size of `pid` in bytes (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss(&status).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS line"))
}

/// CPU seconds (user + system) used so far by every thread of `pid`, including threads
/// that have already exited.
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat)
        .map(|ticks| ticks as f64 / USER_HZ)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed stat line"))
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may contain spaces and parentheses; fields after the
    // last ')' are unambiguous. utime and stime are fields 14 and 15 of the line.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Both readings at one instant, for before/after deltas.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    /// Resident memory in bytes.
    pub rss: u64,
    /// CPU seconds used so far.
    pub cpu_s: f64,
}

impl Snapshot {
    /// Reads both figures for `pid`.
    pub fn take(pid: u32) -> io::Result<Snapshot> {
        Ok(Snapshot {
            rss: rss_bytes(pid)?,
            cpu_s: cpu_seconds(pid)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_rss_in_kib() {
        let status = "Name:\tsesh\nVmPeak:\t  9000 kB\nVmRSS:\t   1234 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn parses_cpu_ticks_after_a_tricky_command_name() {
        let stat = "42 (we (ird) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 3 0 5 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(287));
    }

    #[test]
    fn reads_our_own_process() {
        let pid = std::process::id();
        let snap = Snapshot::take(pid).unwrap();
        assert!(snap.rss > 0);
        assert!(snap.cpu_s >= 0.0);
    }
}

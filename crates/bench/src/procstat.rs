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

/// The processes whose parent is `pid` (an Nginx master's workers, PostgreSQL's backends),
/// from every `/proc/<n>/stat`.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| parse_ppid(&stat))
                == Some(pid)
        })
        .collect()
}

/// Sockets among the open files of `pid` (`/proc/<pid>/fd` entries that link to `socket:[…]`).
pub fn sockets(pid: u32) -> io::Result<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        // A file closed between the listing and the read is not counted.
        if let Ok(target) = std::fs::read_link(entry?.path())
            && target.to_string_lossy().starts_with("socket:")
        {
            count += 1;
        }
    }
    Ok(count)
}

fn parse_ppid(stat: &str) -> Option<u32> {
    // Field 4, the second after the command name's closing parenthesis (field 3 is the state).
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
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

    /// Both readings summed over `pid` and its children alive now (a master and its workers).
    /// Pages the processes share are counted in each one's RSS.
    pub fn take_tree(pid: u32) -> io::Result<Snapshot> {
        let mut total = Snapshot::take(pid)?;
        for child in children(pid) {
            // A child that exited meanwhile is left out.
            if let Ok(snap) = Snapshot::take(child) {
                total.rss += snap.rss;
                total.cpu_s += snap.cpu_s;
            }
        }
        Ok(total)
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
    fn parses_the_parent_after_a_tricky_command_name() {
        let stat = "42 (we (ird) name) S 17 42 42 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 3 0 5";
        assert_eq!(parse_ppid(stat), Some(17));
    }

    #[test]
    fn finds_a_child_and_counts_sockets() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let found = children(std::process::id()).contains(&child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(found, "the sleep child is among our children");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let with = sockets(std::process::id()).unwrap();
        drop(listener);
        assert!(with >= 1);
    }

    #[test]
    fn reads_our_own_process() {
        let pid = std::process::id();
        let snap = Snapshot::take(pid).unwrap();
        assert!(snap.rss > 0);
        assert!(snap.cpu_s >= 0.0);
    }
}

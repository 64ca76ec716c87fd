//! A server the benchmark starts (PostgreSQL, Nginx) that must not outlive it, nor leave its
//! directory behind, however the benchmark ends: an error, a panic, Ctrl-C or `kill -9`.
//!
//! The server runs under a small shell whose stdin is a pipe from this process (the
//! lifeline). When the pipe closes — on drop, or because this process is gone — the shell
//! sends the server its stop signal, waits for it, deletes the directory and exits. The shell
//! has its own process group, so a Ctrl-C at the terminal reaches the benchmark and not the
//! shell, which then cleans up after it.

use anyhow::Context;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// `sh -c WATCH sh DIR SIGNAL SERVER-COMMAND…`: prints the server's pid, runs it until the
/// lifeline (stdin) reaches end of file, then stops it with SIGNAL; once the server is gone,
/// for whatever reason, deletes DIR and exits with the server's status. A background job's
/// stdin is `/dev/null`, hence the lifeline's copy on fd 3.
const WATCH: &str = r#"
dir=$1; sig=$2; shift 2
exec 3<&0 </dev/null
"$@" 3<&- >/dev/null &
server=$!
echo "$server"
{ read -r _ <&3; kill "-$sig" "$server"; } &
watcher=$!
exec 3<&-
wait "$server"
status=$?
kill "$watcher" 2>/dev/null
rm -rf "$dir"
exit "$status"
"#;

/// How long a stopped server may take before its watcher is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running server and its watcher; stopped (and its directory deleted) on drop.
pub struct Watched {
    shell: Child,
    lifeline: Option<ChildStdin>,
    pid: u32,
}

impl Watched {
    /// Runs `server` under a watcher that stops it with `signal` (`QUIT`, `TERM`) and then
    /// deletes `dir`. The server's stdout is discarded; its stderr is ours.
    pub fn spawn(dir: &Path, signal: &str, server: &Command) -> anyhow::Result<Watched> {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(WATCH)
            .arg("sh")
            .arg(dir)
            .arg(signal)
            .arg(server.get_program())
            .args(server.get_args())
            .envs(
                server
                    .get_envs()
                    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(cwd) = server.get_current_dir() {
            shell.current_dir(cwd);
        }
        std::os::unix::process::CommandExt::process_group(&mut shell, 0);
        let mut shell = shell.spawn().context("starting sh")?;
        let lifeline = shell.stdin.take();
        let stdout = shell.stdout.take().context("the watcher's stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let pid = line
            .trim()
            .parse()
            .with_context(|| format!("the watcher printed {line:?}, not a process id"))?;
        Ok(Watched {
            shell,
            lifeline,
            pid,
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The server's exit status, once it has exited (the watcher exits with it).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.shell.try_wait().ok().flatten()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        drop(self.lifeline.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while matches!(self.shell.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if matches!(self.shell.try_wait(), Ok(None)) {
            tracing::warn!(pid = self.pid, "a server did not stop in time; killing it");
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
            let _ = self.shell.kill();
        }
        let _ = self.shell.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_it_stops_the_server_and_deletes_its_directory() {
        let dir = tempfile::tempdir().unwrap().keep();
        std::fs::write(dir.join("file"), "x").unwrap();
        let mut sleep = Command::new("sleep");
        sleep.arg("60");
        let mut watched = Watched::spawn(&dir, "TERM", &sleep).unwrap();
        let pid = watched.pid();
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        assert!(watched.exited().is_none());
        drop(watched);
        assert!(!dir.exists(), "the directory is deleted");
        // The server is gone (or a zombie of nobody's, reaped by init).
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            state.is_empty() || state.contains(") Z"),
            "server still runs: {state}"
        );
    }
}

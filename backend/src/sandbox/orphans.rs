//! Sandboxes whose console is gone. A console killed with SIGKILL cannot stop its sandbox: the
//! server keeps running (adopted by init) and its files stay. Each sandbox directory names its
//! owner (process id and start time, so a recycled id is not mistaken for it); every new sandbox
//! first stops the servers and removes the directories of owners that no longer run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Prefix of every sandbox directory in the temporary directory.
pub const DIR_PREFIX: &str = "lifeguard-sandbox-";
/// The file in a sandbox directory that names its owner.
const OWNER_FILE: &str = "owner";
/// How long an orphaned server gets for a fast shutdown before it is killed.
const GRACE: Duration = Duration::from_secs(10);

/// A process as `/proc` tells it apart from a later one with the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pid: u32,
    /// Clock ticks since boot at which the process started (`/proc/<pid>/stat`, field 22).
    started: u64,
}

impl Owner {
    /// This process.
    #[must_use]
    pub fn current() -> Option<Self> {
        let pid = std::process::id();
        Some(Self {
            pid,
            started: start_time(pid)?,
        })
    }

    /// Writes the owner into sandbox directory `dir`.
    pub fn write_to(self, dir: &Path) -> std::io::Result<()> {
        std::fs::write(
            dir.join(OWNER_FILE),
            format!("{} {}\n", self.pid, self.started),
        )
    }

    fn read_from(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(OWNER_FILE)).ok()?;
        let mut fields = text.split_whitespace();
        Some(Self {
            pid: fields.next()?.parse().ok()?,
            started: fields.next()?.parse().ok()?,
        })
    }

    fn is_running(self) -> bool {
        start_time(self.pid) == Some(self.started)
    }
}

/// A sandbox left behind, and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaped {
    pub dir: PathBuf,
    pub owner_pid: u32,
    /// The postmaster that was stopped, when one still ran.
    pub server_pid: Option<u32>,
}

/// Stops the server and removes the directory of every sandbox in `parent` whose owner is gone.
/// Sandboxes of running consoles, and directories without a readable owner, are left alone.
pub fn reap(parent: &Path) -> Vec<Reaped> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut reaped = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let dir = entry.path();
        let is_sandbox = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(DIR_PREFIX));
        if !is_sandbox || !dir.is_dir() {
            continue;
        }
        let Some(owner) = Owner::read_from(&dir) else {
            continue;
        };
        if owner.is_running() {
            continue;
        }
        let server_pid = stop_server(&dir.join("data"));
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {
                tracing::warn!(
                    dir = %dir.display(),
                    owner_pid = owner.pid,
                    server_pid,
                    "removed the sandbox of a lifeguard process that is gone (stopped its server)"
                );
                reaped.push(Reaped {
                    dir,
                    owner_pid: owner.pid,
                    server_pid,
                });
            }
            Err(error) => {
                tracing::warn!(%error, dir = %dir.display(), "removing an orphaned sandbox");
            }
        }
    }
    reaped
}

/// Stops the postmaster of `data_dir` (fast shutdown, then SIGKILL); its process id when one ran.
fn stop_server(data_dir: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()?;
    // Only the server of this data directory: the id may since belong to another process.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let needle = data_dir.as_os_str().as_encoded_bytes();
    if !cmdline.windows(needle.len()).any(|w| w == needle) {
        return None;
    }
    let target = Pid::from_raw(i32::try_from(pid).ok()?);
    let _gone = kill(target, Signal::SIGINT);
    let deadline = Instant::now() + GRACE;
    while is_alive(pid) {
        if Instant::now() >= deadline {
            let _gone = kill(target, Signal::SIGKILL);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(pid)
}

/// Whether `pid` runs and is not a zombie waiting for a parent that is not ours.
fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after_name = stat.rsplit_once(')')?.1;
            after_name
                .split_whitespace()
                .next()
                .map(|state| state != "Z")
        })
        .unwrap_or(false)
}

/// When process `pid` started, in clock ticks since boot; `None` when it does not exist.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name (field 2) may hold spaces and parentheses: count fields after its last `)`.
    let after_name = stat.rsplit_once(')')?.1;
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_its_own_running_owner() {
        let me = Owner::current().unwrap();
        assert!(me.is_running());
        let later = Owner {
            started: me.started + 1,
            ..me
        };
        assert!(!later.is_running(), "a recycled id is not the owner");
    }

    #[test]
    fn a_directory_whose_owner_is_gone_is_removed_and_others_stay() {
        let parent = tempfile::tempdir().unwrap();
        let gone = parent.path().join(format!("{DIR_PREFIX}gone"));
        let alive = parent.path().join(format!("{DIR_PREFIX}alive"));
        let unowned = parent.path().join(format!("{DIR_PREFIX}unowned"));
        for dir in [&gone, &alive, &unowned] {
            std::fs::create_dir(dir).unwrap();
        }
        let me = Owner::current().unwrap();
        me.write_to(&alive).unwrap();
        Owner {
            started: me.started + 1,
            ..me
        }
        .write_to(&gone)
        .unwrap();
        let reaped = reap(parent.path());
        assert_eq!(reaped.len(), 1, "{reaped:?}");
        assert_eq!(reaped[0].dir, gone);
        assert_eq!(reaped[0].server_pid, None);
        assert!(!gone.exists());
        assert!(alive.exists() && unowned.exists());
    }
}

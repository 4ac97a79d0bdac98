//! Finding the PostgreSQL server binaries (`initdb`, `postgres`) on this machine.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable that names the directory holding `initdb` and `postgres`.
pub const PG_BIN_ENV: &str = "LIFEGUARD_PG_BIN";

/// A directory known to hold both `initdb` and `postgres`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerBinaries {
    dir: PathBuf,
}

impl ServerBinaries {
    /// The `initdb` executable.
    #[must_use]
    pub fn initdb(&self) -> PathBuf {
        self.dir.join("initdb")
    }

    /// The `postgres` server executable.
    #[must_use]
    pub fn postgres(&self) -> PathBuf {
        self.dir.join("postgres")
    }

    /// The `pgbench` executable, shipped beside the server by Debian's package.
    #[must_use]
    pub fn pgbench(&self) -> PathBuf {
        self.dir.join("pgbench")
    }

    /// The directory itself.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Accepts `dir` when it holds both server executables.
    #[must_use]
    pub fn at(dir: impl Into<PathBuf>) -> Option<Self> {
        let dir = dir.into();
        (dir.join("initdb").is_file() && dir.join("postgres").is_file()).then_some(Self { dir })
    }

    /// An explicit directory (configuration, else `$LIFEGUARD_PG_BIN`) is the only place looked at,
    /// so a wrong setting is reported rather than silently bypassed. Without one: `pg_config
    /// --bindir`, then the newest `/usr/lib/postgresql/*/bin`. The error lists every place looked at.
    pub fn discover(explicit: Option<&Path>) -> Result<Self, Vec<String>> {
        let explicit = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(PG_BIN_ENV).map(PathBuf::from));
        let candidates: Vec<PathBuf> = match explicit {
            Some(dir) => vec![dir],
            None => pg_config_bindir()
                .into_iter()
                .chain(debian_bindirs())
                .collect(),
        };
        let mut looked = Vec::new();
        for dir in candidates {
            if let Some(found) = Self::at(&dir) {
                return Ok(found);
            }
            looked.push(dir.display().to_string());
        }
        if looked.is_empty() {
            looked.push("nowhere: no pg_config and no /usr/lib/postgresql".into());
        }
        Err(looked)
    }
}

/// What `pg_config --bindir` says, when `pg_config` exists and answers.
fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config").arg("--bindir").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = String::from_utf8(output.stdout).ok()?;
    let dir = dir.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// Debian's `/usr/lib/postgresql/<major>/bin`, newest major version first.
fn debian_bindirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_the_server_is_not_accepted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("initdb"), "").unwrap();
        assert_eq!(ServerBinaries::at(dir.path()), None);
        std::fs::write(dir.path().join("postgres"), "").unwrap();
        assert!(ServerBinaries::at(dir.path()).is_some());
    }

    #[test]
    fn an_explicit_directory_is_the_only_place_looked_at() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("initdb"), "").unwrap();
        std::fs::write(dir.path().join("postgres"), "").unwrap();
        assert_eq!(
            ServerBinaries::discover(Some(dir.path())).unwrap().dir(),
            dir.path()
        );
        let empty = tempfile::tempdir().unwrap();
        let looked = ServerBinaries::discover(Some(empty.path())).unwrap_err();
        assert_eq!(looked, vec![empty.path().display().to_string()]);
    }
}

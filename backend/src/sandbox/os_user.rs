//! The unprivileged OS account the sandbox server runs as when lifeguard itself runs as root.
//!
//! PostgreSQL refuses to start as root. Debian's package creates a `postgres` account; where it is
//! missing, a dedicated system account `lifeguard-pg` is created once with `useradd`.

use std::process::Command;

use nix::unistd::{Gid, Uid, User};

/// The dedicated account created when no `postgres` account exists.
const DEDICATED_ACCOUNT: &str = "lifeguard-pg";

/// An OS account the server processes are started as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerAccount {
    pub uid: Uid,
    pub gid: Gid,
}

/// `None` when lifeguard does not run as root (the server then runs as the current user);
/// otherwise the `postgres` account, or a dedicated one created on first use.
pub fn server_account() -> Result<Option<ServerAccount>, String> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    for name in ["postgres", DEDICATED_ACCOUNT] {
        if let Some(user) = lookup(name)? {
            return Ok(Some(user));
        }
    }
    let output = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
        ])
        .arg(DEDICATED_ACCOUNT)
        .output()
        .map_err(|e| format!("running useradd to create the `{DEDICATED_ACCOUNT}` account: {e}"))?;
    // A concurrent sandbox may have created it first; the lookup below settles it either way.
    if let Some(user) = lookup(DEDICATED_ACCOUNT)? {
        return Ok(Some(user));
    }
    Err(format!(
        "PostgreSQL cannot run as root and no `postgres` account exists; creating `{DEDICATED_ACCOUNT}` \
         failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

fn lookup(name: &str) -> Result<Option<ServerAccount>, String> {
    User::from_name(name)
        .map(|user| {
            user.map(|u| ServerAccount {
                uid: u.uid,
                gid: u.gid,
            })
        })
        .map_err(|e| format!("looking up the `{name}` account: {e}"))
}

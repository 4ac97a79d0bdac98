//! What a run can be made of: the built-in suites and pool profiles, plus those the operator's
//! configuration adds (a configured one replaces a built-in of the same name).

use lifeguard_shared::invalid::Invalid;
use lifeguard_shared::pool::PoolProfile;
use lifeguard_shared::suite::Suite;

use crate::config::Config;

/// The suites and profiles known to this console.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub suites: Vec<Suite>,
    pub profiles: Vec<PoolProfile>,
}

fn merged<T: Clone>(built_in: Vec<T>, configured: &[T], name: impl Fn(&T) -> &str) -> Vec<T> {
    let mut all: Vec<T> = built_in
        .into_iter()
        .filter(|b| !configured.iter().any(|c| name(c) == name(b)))
        .collect();
    all.extend(configured.iter().cloned());
    all
}

impl Catalog {
    #[must_use]
    pub fn from_config(config: &Config) -> Self {
        Self {
            suites: merged(Suite::built_in(), &config.suites, |s| &s.name),
            profiles: merged(PoolProfile::built_in(), &config.profiles, |p| &p.name),
        }
    }

    /// The suite named `name`; the error lists the known ones.
    pub fn suite(&self, name: &str) -> Result<Suite, Invalid> {
        self.suites
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .ok_or_else(|| unknown("suite", name, self.suites.iter().map(|s| s.name.as_str())))
    }

    /// The profile named `name`; the error lists the known ones.
    pub fn profile(&self, name: &str) -> Result<PoolProfile, Invalid> {
        self.profiles
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .ok_or_else(|| {
                unknown(
                    "profile",
                    name,
                    self.profiles.iter().map(|p| p.name.as_str()),
                )
            })
    }
}

fn unknown<'a>(field: &str, name: &str, known: impl Iterator<Item = &'a str>) -> Invalid {
    Invalid::new(
        field,
        format!(
            "names no known {field}: `{name}` (known: {})",
            known.collect::<Vec<_>>().join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_are_there_and_configured_ones_replace_them_by_name() {
        let mut config = Config::default();
        let mut mine = PoolProfile::built_in()[0].clone();
        mine.primary.pool_size = 3;
        config.profiles.push(mine);
        let catalog = Catalog::from_config(&config);
        assert_eq!(catalog.profiles.len(), 3);
        assert_eq!(catalog.profile("current").unwrap().primary.pool_size, 3);
        assert_eq!(catalog.suite("auth-burst").unwrap().scenarios.len(), 4);
        assert!(catalog.suite("auth-sustained").is_ok());
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let catalog = Catalog::from_config(&Config::default());
        let error = catalog.suite("auth-bust").unwrap_err().to_string();
        assert_eq!(
            error,
            "`suite` names no known suite: `auth-bust` (known: auth-burst, auth-sustained)"
        );
    }
}

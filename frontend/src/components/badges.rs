//! Small labelled badges with stable data attributes for tests: run state, pass/fail, comparison
//! verdict, threshold level.

use leptos::prelude::*;
use lifeguard_shared::compare::Verdict;
use lifeguard_shared::report::{Level, RunState};

/// The wire spelling of a threshold level.
#[must_use]
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Ok => "ok",
        Level::Warning => "warning",
        Level::Critical => "critical",
    }
}

/// `data-state="running"` etc.
#[component]
pub fn StateBadge(state: RunState) -> impl IntoView {
    let name = state.as_str();
    view! { <span class=format!("badge state-{name}") data-state=name>{name}</span> }
}

/// `data-verdict="regressed"` etc.
#[component]
pub fn VerdictBadge(verdict: Verdict) -> impl IntoView {
    let name = verdict.name();
    view! { <span class=format!("badge verdict-{name}") data-verdict=name>{name}</span> }
}

/// `data-level="warning"` etc.
#[component]
pub fn LevelBadge(level: Level) -> impl IntoView {
    let name = level_name(level);
    view! { <span class=format!("badge level-{name}") data-level=name>{name}</span> }
}

/// `data-passed="pass"` or `"fail"`.
#[component]
pub fn PassBadge(passed: bool) -> impl IntoView {
    let name = if passed { "pass" } else { "fail" };
    view! { <span class=format!("badge pass-{name}") data-passed=name>{name}</span> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_wire_spellings() {
        for level in [Level::Ok, Level::Warning, Level::Critical] {
            assert_eq!(
                serde_json::to_value(level).unwrap(),
                serde_json::Value::from(level_name(level))
            );
        }
    }
}

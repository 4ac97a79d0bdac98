//! The alert state machine: one per rule and monitor. A level is entered after `fire_after`
//! consecutive samples at or past it, and left after `resolve_after` consecutive samples below it,
//! so a value hovering at a threshold neither flaps nor floods a channel with notifications.

use lifeguard_shared::monitor::AlertRule;
use lifeguard_shared::report::Level;

/// What a sample changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transition {
    /// From `Ok` to a level.
    Fired { level: Level, value: f64 },
    /// From one alerting level to the other.
    Changed { from: Level, to: Level, value: f64 },
    /// Back to `Ok`.
    Resolved { from: Level, value: f64 },
}

/// Where one rule stands: its level, and the level the latest samples point to with how many in a
/// row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertState {
    level: Level,
    leaning: Level,
    streak: u32,
}

impl AlertState {
    /// A rule at `level` (`Ok` for a new monitor; an open alert's level after a restart).
    #[must_use]
    pub fn at(level: Level) -> Self {
        Self {
            level,
            leaning: level,
            streak: 0,
        }
    }

    #[must_use]
    pub fn level(&self) -> Level {
        self.level
    }

    /// Takes one sample's `value` of `rule`'s metric; `None` (not measured this time) changes
    /// nothing and breaks no streak.
    pub fn observe(
        &mut self,
        rule: &AlertRule,
        value: Option<f64>,
        fire_after: u32,
        resolve_after: u32,
    ) -> Option<Transition> {
        let value = value?;
        let now = rule.level(value);
        if now == self.level {
            self.leaning = now;
            self.streak = 0;
            return None;
        }
        if now == self.leaning {
            self.streak += 1;
        } else {
            self.leaning = now;
            self.streak = 1;
        }
        let needed = if now > self.level {
            fire_after
        } else {
            resolve_after
        };
        if self.streak < needed {
            return None;
        }
        let from = std::mem::replace(&mut self.level, now);
        self.streak = 0;
        Some(match (from, now) {
            (Level::Ok, level) => Transition::Fired { level, value },
            (from, Level::Ok) => Transition::Resolved { from, value },
            (from, to) => Transition::Changed { from, to, value },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeguard_shared::metric::Metric;

    const RULE: AlertRule = AlertRule {
        metric: Metric::ConnectionsUsedPct,
        warning: 80.0,
        critical: 90.0,
    };

    /// Every transition `values` cause, with k = 3 and m = 2.
    fn run(values: &[f64]) -> Vec<(usize, Transition)> {
        let mut state = AlertState::at(Level::Ok);
        values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((i, state.observe(&RULE, Some(*v), 3, 2)?)))
            .collect()
    }

    #[test]
    fn an_alert_fires_after_k_samples_past_its_level_and_resolves_after_m_below() {
        let transitions = run(&[50.0, 85.0, 85.0, 85.0, 85.0, 70.0, 70.0, 70.0]);
        assert_eq!(
            transitions,
            vec![
                (
                    3,
                    Transition::Fired {
                        level: Level::Warning,
                        value: 85.0
                    }
                ),
                (
                    6,
                    Transition::Resolved {
                        from: Level::Warning,
                        value: 70.0
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_value_hovering_at_a_threshold_does_not_flap() {
        let hovering: Vec<f64> = (0..40)
            .map(|i| if i % 2 == 0 { 79.0 } else { 81.0 })
            .collect();
        assert_eq!(run(&hovering), vec![]);
        // Once fired, single dips below do not resolve it either.
        let mut fired = vec![85.0; 3];
        fired.extend(hovering);
        assert_eq!(run(&fired).len(), 1, "{:?}", run(&fired));
    }

    #[test]
    fn critical_escalates_and_steps_back_down_through_warning() {
        let transitions = run(&[95.0, 95.0, 95.0, 85.0, 85.0, 10.0, 10.0]);
        assert_eq!(
            transitions,
            vec![
                (
                    2,
                    Transition::Fired {
                        level: Level::Critical,
                        value: 95.0
                    }
                ),
                (
                    4,
                    Transition::Changed {
                        from: Level::Critical,
                        to: Level::Warning,
                        value: 85.0
                    }
                ),
                (
                    6,
                    Transition::Resolved {
                        from: Level::Warning,
                        value: 10.0
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_restarted_monitor_resumes_an_open_alert_without_firing_it_again() {
        let mut state = AlertState::at(Level::Warning);
        for _ in 0..5 {
            assert_eq!(state.observe(&RULE, Some(85.0), 3, 2), None);
        }
        assert_eq!(state.observe(&RULE, None, 3, 2), None);
        assert_eq!(state.level(), Level::Warning);
    }
}

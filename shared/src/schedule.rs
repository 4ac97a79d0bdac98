//! Scheduled regression runs as `GET /api/schedules` shows them: each configured schedule, when it
//! fires next, and its recent firings with the verdict of their comparison with the baseline.

use serde::{Deserialize, Serialize};

use crate::compare::Verdict;

/// One configured schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleStatus {
    pub name: String,
    /// The cron pattern (5 fields, or 6 with seconds first), in UTC.
    pub cron: String,
    pub target: String,
    pub suite: String,
    pub profile: String,
    /// The baseline each firing's run is compared with, when there is one.
    pub baseline: Option<String>,
    /// When it fires next (unix ms); `null` when the pattern never matches again.
    pub next_fire_at: Option<u64>,
    /// Recent firings, newest first.
    pub firings: Vec<ScheduleFiring>,
}

/// One firing of a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleFiring {
    /// When the schedule was due (unix ms); a catch-up firing carries the latest missed time.
    pub due_at: u64,
    /// When it actually fired (unix ms).
    pub fired_at: u64,
    /// The run it queued; `null` when it could not queue one (see `note`).
    pub run_id: Option<String>,
    /// The run against the schedule's baseline; `null` while the run is queued or running, when
    /// the schedule has no baseline, or when the run ended without a report.
    pub verdict: Option<Verdict>,
    /// Why there is no run or no verdict, or that this was a catch-up firing.
    pub note: Option<String>,
}

impl ScheduleStatus {
    /// The newest firing, if it ever fired.
    #[must_use]
    pub fn last_firing(&self) -> Option<&ScheduleFiring> {
        self.firings.first()
    }
}

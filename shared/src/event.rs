//! A run's live events: what the console streams (Server-Sent Events: the kind as the event name,
//! the payload as JSON data), stores in the run's event log, and what the browser and the command
//! line follow. One type, encoded and decoded here, so a renamed field is a compile error on every
//! side instead of a silent zero on one.

use serde::{Deserialize, Serialize};

use crate::report::{RunState, SecondSample};

/// One event of a run, in the order they come: `state` (queued, running), `phase` each time one
/// begins, `progress` once a second, `verdict` last.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    State(StateChange),
    Phase(PhaseStart),
    Progress(SecondSample),
    Verdict(RunVerdict),
}

/// The run was queued or began running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    pub state: RunState,
}

/// A phase (scenario, recovery, leak check, pre-warming) began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseStart {
    pub name: String,
}

/// How the run ended: the last event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunVerdict {
    pub state: RunState,
    pub passed: bool,
    /// Why it stopped early or could not judge.
    #[serde(default)]
    pub error: Option<String>,
    /// `scenario/criterion` names of what failed.
    #[serde(default)]
    pub failed_criteria: Vec<String>,
}

/// An event whose data does not read as its kind says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable `{kind}` event: {cause}")]
pub struct UnreadableEvent {
    pub kind: String,
    pub cause: String,
}

impl RunEvent {
    /// Every kind, as the event names of the stream.
    pub const KINDS: [&'static str; 4] = ["state", "phase", "progress", "verdict"];

    /// The event's name in the stream and the log.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::State(_) => "state",
            Self::Phase(_) => "phase",
            Self::Progress(_) => "progress",
            Self::Verdict(_) => "verdict",
        }
    }

    /// The event's data, as JSON.
    #[must_use]
    pub fn data(&self) -> String {
        let encoded = match self {
            Self::State(event) => serde_json::to_string(event),
            Self::Phase(event) => serde_json::to_string(event),
            Self::Progress(second) => serde_json::to_string(second),
            Self::Verdict(verdict) => serde_json::to_string(verdict),
        };
        // Plain structs of strings, numbers and booleans always encode.
        encoded.unwrap_or_else(|_| "null".to_owned())
    }

    /// The event named `kind` with JSON `data`; `Ok(None)` for a kind this side does not know (a
    /// newer console may send more).
    pub fn parse(kind: &str, data: &str) -> Result<Option<Self>, UnreadableEvent> {
        let unreadable = |error: serde_json::Error| UnreadableEvent {
            kind: kind.to_owned(),
            cause: error.to_string(),
        };
        Ok(Some(match kind {
            "state" => Self::State(serde_json::from_str(data).map_err(unreadable)?),
            "phase" => Self::Phase(serde_json::from_str(data).map_err(unreadable)?),
            "progress" => Self::Progress(serde_json::from_str(data).map_err(unreadable)?),
            "verdict" => Self::Verdict(serde_json::from_str(data).map_err(unreadable)?),
            _ => return Ok(None),
        }))
    }

    /// Whether this is the last event of its run.
    #[must_use]
    pub fn is_last(&self) -> bool {
        matches!(self, Self::Verdict(_))
    }

    /// Whether an event named `kind` is the last of its run (without reading its data).
    #[must_use]
    pub fn is_last_kind(kind: &str) -> bool {
        kind == "verdict"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_round_trips_through_kind_and_data() {
        let events = [
            RunEvent::State(StateChange {
                state: RunState::Running,
            }),
            RunEvent::Phase(PhaseStart {
                name: "light".into(),
            }),
            RunEvent::Progress(SecondSample {
                t: 3,
                phase: "light".into(),
                requests: 12,
                ..SecondSample::default()
            }),
            RunEvent::Verdict(RunVerdict {
                state: RunState::Failed,
                passed: false,
                error: None,
                failed_criteria: vec!["peak/p95_latency_ms".into()],
            }),
        ];
        for event in events {
            let back = RunEvent::parse(event.kind(), &event.data()).unwrap();
            assert_eq!(back, Some(event));
        }
        assert_eq!(RunEvent::KINDS.len(), 4);
    }

    #[test]
    fn the_wire_format_is_what_followers_have_always_read() {
        let state = RunEvent::State(StateChange {
            state: RunState::Queued,
        });
        assert_eq!(state.data(), r#"{"state":"queued"}"#);
        let phase = RunEvent::Phase(PhaseStart {
            name: "peak".into(),
        });
        assert_eq!(phase.data(), r#"{"name":"peak"}"#);
        let verdict = RunEvent::parse(
            "verdict",
            r#"{"state":"aborted","passed":false,"error":"cancelled by an operator"}"#,
        )
        .unwrap();
        assert!(verdict.as_ref().is_some_and(RunEvent::is_last));
        assert!(RunEvent::is_last_kind(verdict.unwrap().kind()));
        assert!(!RunEvent::is_last_kind("progress"));
    }

    #[test]
    fn a_renamed_field_is_an_error_not_a_zero_and_an_unknown_kind_is_skipped() {
        let error = RunEvent::parse("progress", r#"{"t":1,"phase":"x","reqs":5}"#).unwrap_err();
        assert_eq!(error.kind, "progress");
        assert!(error.cause.contains("missing field"), "{error}");
        assert_eq!(RunEvent::parse("heartbeat", "{}").unwrap(), None);
    }
}

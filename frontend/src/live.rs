//! Following a queued or running run: its Server-Sent Events folded into a [`LiveRun`] (pure,
//! tested natively) and the browser's `EventSource` that delivers them ([`EventStream`]).
//!
//! The API sends the [`RunEvent`]s of `lifeguard_shared::event`: `state`, `phase`, `progress` (one
//! [`SecondSample`] a second) and `verdict` last. `EventSource` reconnects by itself and resumes
//! with `Last-Event-ID`; after the verdict the stream is closed so it does not.

use std::rc::Rc;

use lifeguard_shared::event::{RunEvent, RunVerdict};
use lifeguard_shared::report::{RunState, SecondSample};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::closure::Closure;

/// What the events said so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveRun {
    pub state: Option<RunState>,
    /// The phase (scenario) running now.
    pub phase: Option<String>,
    pub seconds: Vec<SecondSample>,
    pub verdict: Option<RunVerdict>,
}

impl LiveRun {
    /// Folds one event in; an event this page cannot read is an error naming it.
    pub fn apply(&mut self, kind: &str, data: &str) -> Result<(), String> {
        match RunEvent::parse(kind, data).map_err(|e| e.to_string())? {
            Some(RunEvent::State(change)) => self.state = Some(change.state),
            Some(RunEvent::Phase(phase)) => self.phase = Some(phase.name),
            Some(RunEvent::Progress(second)) => {
                self.phase = Some(second.phase.clone());
                self.seconds.push(second);
            }
            Some(RunEvent::Verdict(verdict)) => {
                self.state = Some(verdict.state);
                self.verdict = Some(verdict);
            }
            None => {}
        }
        Ok(())
    }
}

/// One phase's progress so far, from its seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseProgress {
    pub name: String,
    pub seconds: u32,
    pub requests: u64,
    pub errors: u64,
    /// The p95 latency of the phase's last second.
    pub last_p95_ms: f64,
    pub peak_checked_out: u32,
    pub peak_waiters: u32,
}

impl PhaseProgress {
    /// Requests that did not fail, as a share; `None` before the first request.
    #[must_use]
    pub fn success_rate(&self) -> Option<f64> {
        (self.requests > 0)
            .then(|| self.requests.saturating_sub(self.errors) as f64 / self.requests as f64)
    }
}

/// Progress per phase, in the order the phases ran.
#[must_use]
pub fn per_phase(seconds: &[SecondSample]) -> Vec<PhaseProgress> {
    let mut phases: Vec<PhaseProgress> = Vec::new();
    for second in seconds {
        let index = if let Some(index) = phases.iter().position(|p| p.name == second.phase) {
            index
        } else {
            phases.push(PhaseProgress {
                name: second.phase.clone(),
                seconds: 0,
                requests: 0,
                errors: 0,
                last_p95_ms: 0.0,
                peak_checked_out: 0,
                peak_waiters: 0,
            });
            phases.len() - 1
        };
        let phase = &mut phases[index];
        phase.seconds += 1;
        phase.requests += second.requests;
        phase.errors += second.errors;
        phase.last_p95_ms = second.latency_p95_ms;
        phase.peak_checked_out = phase.peak_checked_out.max(second.checked_out);
        phase.peak_waiters = phase.peak_waiters.max(second.waiters);
    }
    phases
}

type Listener = Closure<dyn FnMut(web_sys::MessageEvent)>;
type OnEvent = Rc<dyn Fn(&str, &str)>;

/// An open `EventSource`; closed when dropped.
pub struct EventStream {
    source: web_sys::EventSource,
    _listeners: Vec<Listener>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl EventStream {
    /// Opens `url`; `on_event(kind, data)` gets every event of the `kinds` listened for,
    /// `on_error(closed)` every failure (`closed` when the browser gave up reconnecting).
    pub fn open(
        url: &str,
        kinds: &'static [&'static str],
        on_event: impl Fn(&str, &str) + 'static,
        on_error: impl Fn(bool) + 'static,
    ) -> Result<Self, String> {
        let source = web_sys::EventSource::new(url).map_err(|e| format!("cannot follow: {e:?}"))?;
        let on_event: OnEvent = Rc::new(on_event);
        let mut listeners = Vec::new();
        for &kind in kinds {
            let on_event = Rc::clone(&on_event);
            let listener: Listener = Closure::new(move |event: web_sys::MessageEvent| {
                let data = event.data().as_string().unwrap_or_default();
                on_event(kind, &data);
            });
            source
                .add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref())
                .map_err(|e| format!("cannot listen for `{kind}` events: {e:?}"))?;
            listeners.push(listener);
        }
        let watched = source.clone();
        let on_error: Closure<dyn FnMut(web_sys::Event)> = Closure::new(move |_| {
            on_error(watched.ready_state() == web_sys::EventSource::CLOSED);
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Self {
            source,
            _listeners: listeners,
            _on_error: on_error,
        })
    }
}

impl EventStream {
    /// Stops following; the browser will not reconnect.
    pub fn close(&self) {
        self.source.set_onerror(None);
        self.source.close();
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(t: u32, phase: &str, requests: u64, errors: u64) -> String {
        serde_json::to_string(&SecondSample {
            t,
            phase: phase.into(),
            requests,
            errors,
            latency_p95_ms: f64::from(t),
            checked_out: t,
            ..SecondSample::default()
        })
        .unwrap()
    }

    #[test]
    fn events_build_up_the_run() {
        let mut live = LiveRun::default();
        live.apply("state", r#"{"state":"running"}"#).unwrap();
        live.apply("phase", r#"{"name":"light"}"#).unwrap();
        live.apply("progress", &progress(0, "light", 10, 0))
            .unwrap();
        live.apply("progress", &progress(1, "light", 10, 1))
            .unwrap();
        live.apply("progress", &progress(2, "heavy", 40, 4))
            .unwrap();
        assert_eq!(live.state, Some(RunState::Running));
        assert_eq!(live.phase.as_deref(), Some("heavy"));
        assert_eq!(live.seconds.len(), 3);
        live.apply(
            "verdict",
            r#"{"state":"failed","passed":false,"error":null,"failed_criteria":["heavy/p95_latency_ms"]}"#,
        )
        .unwrap();
        assert_eq!(live.state, Some(RunState::Failed));
        assert_eq!(
            live.verdict.unwrap().failed_criteria,
            ["heavy/p95_latency_ms"]
        );
    }

    #[test]
    fn an_aborted_verdict_needs_no_criteria() {
        let mut live = LiveRun::default();
        live.apply(
            "verdict",
            r#"{"state":"aborted","passed":false,"error":"cancelled by an operator"}"#,
        )
        .unwrap();
        let verdict = live.verdict.unwrap();
        assert_eq!(verdict.state, RunState::Aborted);
        assert_eq!(verdict.error.as_deref(), Some("cancelled by an operator"));
    }

    #[test]
    fn an_unreadable_event_is_named() {
        let error = LiveRun::default().apply("progress", "{").unwrap_err();
        assert!(error.starts_with("unreadable `progress` event"), "{error}");
    }

    #[test]
    fn progress_is_summed_per_phase_in_order() {
        let seconds: Vec<SecondSample> = [
            progress(0, "light", 10, 0),
            progress(1, "light", 10, 1),
            progress(2, "heavy", 40, 4),
        ]
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
        let phases = per_phase(&seconds);
        assert_eq!(phases.len(), 2);
        assert_eq!(phases[0].name, "light");
        assert_eq!(
            (phases[0].seconds, phases[0].requests, phases[0].errors),
            (2, 20, 1)
        );
        assert!((phases[0].success_rate().unwrap() - 0.95).abs() < 1e-9);
        assert_eq!(phases[1].peak_checked_out, 2);
        assert!((phases[1].last_p95_ms - 2.0).abs() < 1e-9);
    }
}

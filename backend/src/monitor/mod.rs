//! Monitors: a target watched between tests — sampled through one read-only connection, judged
//! by alert rules with hysteresis ([`alerts`]), stored small, notified to webhooks.

pub mod alerts;
pub mod sample;

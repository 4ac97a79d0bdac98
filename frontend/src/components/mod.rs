//! Small views with plain props.

pub mod chart;

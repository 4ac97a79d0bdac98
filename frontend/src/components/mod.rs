//! Small views with plain props.

pub mod badges;
pub mod cancel;
pub mod chart;
pub mod share;
pub mod sparkline;
pub mod status;
pub mod table;

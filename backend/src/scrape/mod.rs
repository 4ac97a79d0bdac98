//! A deployed service's connection pool, read from the metrics it already exposes: fetched at an
//! interval, parsed whatever the exposition format ([`series`]), and mapped by a preset or a
//! custom mapping ([`mapping`]) to the gauges a run judges.

pub mod mapping;
pub mod series;

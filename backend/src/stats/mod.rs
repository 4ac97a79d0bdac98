//! Pure statistics: no I/O, no async. Blocks of measurements, the Mann-Whitney test on them, the
//! comparison of two runs built on both, percentile curves and series downsampling for charts.

pub mod blocks;
pub mod compare;
pub mod distribution;
pub mod mann_whitney;
pub mod series;

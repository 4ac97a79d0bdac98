//! Pure statistics: no I/O, no async. Histograms of latencies, blocks of measurements, the
//! Mann-Whitney test on them, the comparison of two runs built on both, change points across runs,
//! percentile curves and series downsampling for charts.

pub mod blocks;
pub mod change_points;
pub mod compare;
pub mod distribution;
pub mod histogram;
pub mod mann_whitney;
pub mod series;

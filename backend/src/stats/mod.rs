//! Pure statistics: no I/O, no async. Blocks of measurements, the Mann-Whitney test on them, and
//! the comparison of two runs built on both.

pub mod blocks;
pub mod compare;
pub mod mann_whitney;

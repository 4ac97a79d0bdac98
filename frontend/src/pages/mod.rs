//! One module per route; each page owns its loading and error states.

pub mod baselines;
pub mod compare;
pub mod home;
pub mod new_run;
pub mod not_found;
pub mod run;
pub mod runs;
pub mod targets;

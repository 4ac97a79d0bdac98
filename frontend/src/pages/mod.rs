//! One module per route; each page owns its loading and error states.

pub mod home;
pub mod not_found;

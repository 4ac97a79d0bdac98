//! One module per route; each page owns its loading and error states.

pub mod baselines;
pub mod compare;
pub mod home;
pub mod new_run;
pub mod not_found;
pub mod run;
pub mod runs;
pub mod targets;

use std::future::Future;
use std::pin::Pin;

use leptos::prelude::LocalResource;

/// A fetcher whose closure and future types are erased.
type Fetcher<T> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = T>>>>;

/// [`LocalResource::new`], with the fetcher and its future boxed: Leptos' resource machinery
/// is then compiled once per value type instead of once per call site, which keeps the wasm
/// smaller. Behaves exactly like `LocalResource::new(fetch)`.
pub fn resource<T, Fut>(fetch: impl Fn() -> Fut + 'static) -> LocalResource<T>
where
    T: 'static,
    Fut: Future<Output = T> + 'static,
{
    erased(Box::new(move || Box::pin(fetch())))
}

fn erased<T: 'static>(fetch: Fetcher<T>) -> LocalResource<T> {
    LocalResource::new(fetch)
}

/// An `<option>` for each deployment phase, spelt as the API spells them.
pub fn phase_options() -> impl leptos::prelude::IntoView {
    use leptos::prelude::*;
    lifeguard_shared::run::DeployPhase::ALL
        .iter()
        .map(|phase| view! { <option value=phase.as_str()>{phase.as_str()}</option> })
        .collect_view()
}

//! One module per route; each page owns its loading and error states.

pub mod baselines;
pub mod compare;
pub mod history;
pub mod home;
pub mod monitors;
pub mod new_run;
pub mod not_found;
pub mod run;
pub mod runs;
pub mod sizing;
pub mod targets;

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;

use leptos::prelude::{Get as _, LocalResource};

/// A resource's value with its type erased: Leptos' resource machinery (about 3 KB of wasm per
/// value type) is compiled once for every page instead of once per type.
type Erased = Rc<dyn Any>;

/// A fetcher whose closure, future and value types are erased.
type Fetcher = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Erased>>>>;

/// A [`LocalResource`] of `T`, fetched by an erased fetcher; reads like one.
pub struct Fetched<T> {
    inner: LocalResource<Erased>,
    value: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Fetched<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fetched")
    }
}

impl<T> Clone for Fetched<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Fetched<T> {}

impl<T: Clone + 'static> Fetched<T> {
    /// The value once fetched, tracked like [`LocalResource::get`] (suspending a `Transition`).
    pub fn get(&self) -> Option<T> {
        self.inner
            .get()
            .and_then(|value| value.downcast_ref::<T>().cloned())
    }

    /// Fetches again.
    pub fn refetch(&self) {
        self.inner.refetch();
    }
}

/// Like `LocalResource::new(fetch)`, with the fetcher, its future and its value boxed.
pub fn resource<T, Fut>(fetch: impl Fn() -> Fut + 'static) -> Fetched<T>
where
    T: 'static,
    Fut: Future<Output = T> + 'static,
{
    Fetched {
        inner: erased(Box::new(move || {
            let value = fetch();
            Box::pin(async move { Rc::new(value.await) as Erased })
        })),
        value: PhantomData,
    }
}

fn erased(fetch: Fetcher) -> LocalResource<Erased> {
    LocalResource::new(fetch)
}

/// An `<option>` for each of `phases`, spelt as the API spells them.
pub fn phase_options(
    phases: &'static [lifeguard_shared::run::DeployPhase],
) -> impl leptos::prelude::IntoView {
    use leptos::prelude::*;
    phases
        .iter()
        .map(|phase| view! { <option value=phase.as_str()>{phase.as_str()}</option> })
        .collect_view()
}

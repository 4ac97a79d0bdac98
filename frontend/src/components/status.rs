//! Loading, failure and not-found states, in plain words.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::ApiFailure;

/// Something is on its way.
#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! {
        <p class="loading" role="status">
            {what}
        </p>
    }
}

/// An API call failed; says why in words a person can act on.
#[expect(
    clippy::needless_pass_by_value,
    reason = "component props are owned; the failure is only read"
)]
#[component]
pub fn Failure(failure: ApiFailure) -> impl IntoView {
    view! {
        <p class="error" role="alert" data-testid="error">
            {failure.to_string()}
        </p>
    }
}

/// The thing a URL names does not exist (`id="not-found"`).
#[component]
pub fn Missing(#[prop(into)] title: String, #[prop(into)] detail: String) -> impl IntoView {
    view! {
        <section class="card error" id="not-found" data-testid="not-found">
            <h2>{title}</h2>
            <p>{detail} " " <A href="/">"Back to the start page"</A></p>
        </section>
    }
}

//! Any URL the console does not know.

use leptos::prelude::*;
use leptos_router::components::A;

/// Says so in plain words and offers the way back.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <section class="card error" data-testid="not-found">
            <h2>"Page not found"</h2>
            <p>"This address is not a lifeguard view. " <A href="/">"Back to the start page"</A></p>
        </section>
    }
}

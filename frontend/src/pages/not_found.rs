//! Any URL the console does not know.

use leptos::prelude::*;

use crate::components::status::Missing;

/// Says so in plain words and offers the way back (`id="not-found"`).
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <Missing title="Page not found" detail="This address is not a lifeguard view." />
    }
}

//! The lifeguard browser console (Leptos, client-side rendered; charts by charming on ECharts).
//!
//! Layout:
//! - [`api`]: the only module that knows URLs; every request is aborted when its view goes away.
//! - [`charts`]: pure functions from API data to chart options, unit-tested natively.
//! - [`components`]: small views taking plain props (the chart wrapper, error and loading states).
//! - [`pages`]: one module per route; pages own their loading.

pub mod api;
pub mod charts;
pub mod components;
pub mod pages;

use leptos::prelude::*;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::path;

/// The whole console: a header and the routed page.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <header class="top">
                <h1><A href="/">"lifeguard"</A></h1>
                <span class="tagline">"Will the pool survive the next burst of logins?"</span>
            </header>
            <main>
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=path!("/") view=pages::home::HomePage />
                </Routes>
            </main>
        </Router>
    }
}

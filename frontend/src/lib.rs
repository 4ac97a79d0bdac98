//! The lifeguard browser console (Leptos, client-side rendered; charts by charming on ECharts).
//!
//! Layout:
//! - [`api`]: the only module that knows URLs; every request is aborted when its view goes away.
//! - [`charts`]: pure functions from API data to chart options, unit-tested natively.
//! - [`format`]: numbers with units, times in the viewer's time zone.
//! - [`live`]: a running run's Server-Sent Events, folded into what the page shows.
//! - [`components`]: small views taking plain props (the chart wrapper, badges, sharing, states).
//! - [`pages`]: one module per route; pages own their loading.
//!
//! Routes: `/`, `/runs`, `/runs/new`, `/runs/{id}`, `/compare/{base}/{head}`,
//! `/compare?baseline=NAME&head=ID`,
//! `/history?target=&environment=&suite=&profile=&metric=&scenario=`, `/baselines`, `/targets`,
//! `/sizings/{id}`.

pub mod api;
pub mod charts;
pub mod components;
pub mod format;
pub mod live;
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
                <h1>
                    <A href="/">"lifeguard"</A>
                </h1>
                <nav aria-label="Views">
                    <A href="/runs" exact=true>"Runs"</A>
                    <A href="/runs/new">"Start a run"</A>
                    <A href="/history">"History"</A>
                    <A href="/baselines">"Baselines"</A>
                    <A href="/targets">"Targets"</A>
                    <A href="/monitors">"Monitors"</A>
                </nav>
                <span class="tagline">"Will the pool survive the next burst of logins?"</span>
            </header>
            <main>
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=path!("/") view=pages::home::HomePage />
                    <Route path=path!("/runs") view=pages::runs::RunsPage />
                    <Route path=path!("/runs/new") view=pages::new_run::NewRunPage />
                    <Route path=path!("/runs/:id") view=pages::run::RunPage />
                    <Route path=path!("/compare") view=pages::compare::ComparePage />
                    <Route path=path!("/compare/:base/:head") view=pages::compare::ComparePage />
                    <Route path=path!("/history") view=pages::history::HistoryPage />
                    <Route path=path!("/baselines") view=pages::baselines::BaselinesPage />
                    <Route path=path!("/targets") view=pages::targets::TargetsPage />
                    <Route path=path!("/monitors") view=pages::monitors::MonitorsPage />
                    <Route path=path!("/monitors/:target") view=pages::monitors::MonitorPage />
                    <Route path=path!("/deployments/:id") view=pages::monitors::DeploymentPage />
                    <Route path=path!("/sizings/new") view=pages::new_run::NewSizingPage />
                    <Route path=path!("/sizings/:id") view=pages::sizing::SizingPage />
                </Routes>
            </main>
        </Router>
    }
}

//! A cancel button for operators, for anything the API stops with `POST /api/{what}/{id}/cancel`
//! (a run, a sizing), with what the answer said beside it.

use leptos::prelude::*;

use crate::api;

/// `label` (e.g. "Cancel run", element id `dom_id`) while `open` holds and the caller is an
/// operator; `done` is said once the API took the request.
#[component]
pub fn CancelButton(
    what: &'static str,
    id: String,
    dom_id: &'static str,
    label: &'static str,
    done: &'static str,
    #[prop(into)] open: Signal<bool>,
) -> impl IntoView {
    let me = crate::pages::resource(api::me);
    let status = RwSignal::new(None::<String>);
    let operator = move || {
        me.get()
            .and_then(Result::ok)
            .is_some_and(|me| me.role == "operator")
    };
    let cancel = move |_| {
        let id = id.clone();
        status.set(Some("Cancelling…".into()));
        leptos::task::spawn_local(async move {
            let answer = match api::cancel(what, &id).await {
                Ok(_) => done.to_owned(),
                Err(failure) => failure.to_string(),
            };
            status.try_set(Some(answer));
        });
    };
    view! {
        <Show when=move || operator() && open.get()>
            <button type="button" id=dom_id class="danger" on:click=cancel.clone()>
                {label}
            </button>
        </Show>
        <span class="hint" role="status">
            {move || status.get()}
        </span>
    }
}

//! Passing a view on: copy its address, make a read-only share link, download exports.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use lifeguard_shared::run::ShareRequest;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::js_sys;

use crate::api;
use crate::format::local_time;

/// Writes `text` to the clipboard; `done(true)` once written, `done(false)` if refused.
fn copy_text(text: &str, done: impl FnOnce(bool) + 'static) {
    let Some(window) = web_sys::window() else {
        done(false);
        return;
    };
    let promise = window.navigator().clipboard().write_text(text);
    // Exactly one of the two callbacks runs; the other is never called (a few bytes, once a click).
    let done = Rc::new(RefCell::new(Some(done)));
    let finish = move |ok: bool| {
        if let Some(done) = done.borrow_mut().take() {
            done(ok);
        }
    };
    let failed = finish.clone();
    let on_ok = Closure::once_into_js(move |_: JsValue| finish(true));
    let on_error = Closure::once_into_js(move |_: JsValue| failed(false));
    let then = js_sys::Reflect::get(&promise, &"then".into())
        .ok()
        .and_then(|then| then.dyn_into::<js_sys::Function>().ok());
    if let Some(then) = then {
        let _chained = then.call2(&promise, &on_ok, &on_error);
    }
}

/// "Copy link": the current address to the clipboard (`id="copy-link"`), without the page's
/// `token`: a token is a credential, and a read-only share link is the way to hand a view on.
#[component]
pub fn CopyLink() -> impl IntoView {
    let status = RwSignal::new(None::<String>);
    let copy = move |_| {
        let href = web_sys::window()
            .and_then(|w| w.location().href().ok())
            .map(|href| api::without_token(&href))
            .unwrap_or_default();
        let shown = href.clone();
        copy_text(&href, move |ok| {
            status.try_set(Some(if ok {
                "Link copied.".to_owned()
            } else {
                format!("The browser refused the clipboard; the address is {shown}")
            }));
        });
    };
    view! {
        <span class="copy-link">
            <button type="button" id="copy-link" on:click=copy>
                "Copy link"
            </button>
            <span class="hint" role="status">
                {move || status.get()}
            </span>
        </span>
    }
}

/// "Share read-only link": asks the API for a signed link to `request`'s run or comparison and
/// shows it (`id="share-link"`, the address in `id="share-url"`).
#[component]
pub fn ShareButton(request: ShareRequest) -> impl IntoView {
    let expires = RwSignal::new(String::from("604800"));
    let result = RwSignal::new(None::<Result<(String, Option<u64>), String>>);
    let busy = RwSignal::new(false);
    let share = move |_| {
        let mut request = request.clone();
        request.expires_in_s = expires.get_untracked().parse().ok();
        busy.set(true);
        leptos::task::spawn_local(async move {
            let answer = api::share(&request)
                .await
                .map(|link| (api::absolute(&link.path), link.expires_at))
                .map_err(|e| e.to_string());
            busy.try_set(false);
            result.try_set(Some(answer));
        });
    };
    view! {
        <span class="share">
            <label for="share-expiry">"Link valid for"</label>
            <select
                id="share-expiry"
                prop:value=move || expires.get()
                on:change=move |ev| expires.set(event_target_value(&ev))
            >
                <option value="3600">"1 hour"</option>
                <option value="86400">"1 day"</option>
                <option value="604800">"7 days"</option>
                <option value="">"ever"</option>
            </select>
            <button type="button" id="share-link" disabled=move || busy.get() on:click=share>
                "Share read-only link"
            </button>
            {move || {
                result
                    .get()
                    .map(|answer| match answer {
                        Ok((url, expires_at)) => {
                            let until = expires_at
                                .map_or_else(
                                    || "never expires".to_owned(),
                                    |at| format!("valid until {}", local_time(at)),
                                );
                            view! {
                                <span class="share-result">
                                    <label for="share-url" class="sr-only">
                                        "Read-only link"
                                    </label>
                                    <input id="share-url" type="text" readonly value=url />
                                    <span class="hint">{until}</span>
                                </span>
                            }
                                .into_any()
                        }
                        Err(message) => {
                            view! {
                                <span class="error" role="alert">
                                    {message}
                                </span>
                            }
                                .into_any()
                        }
                    })
            }}
        </span>
    }
}

/// JSON and CSV downloads of a run (`data-export="json"` / `"csv"`).
#[component]
pub fn ExportLinks(#[prop(into)] run_id: String) -> impl IntoView {
    let (json, csv) = (
        api::export_url(&run_id, "json"),
        api::export_url(&run_id, "csv"),
    );
    view! {
        <span class="exports" data-run-id=run_id>
            "Export: "
            <a href=json download="" data-export="json">
                "JSON"
            </a>
            " · "
            <a href=csv download="" data-export="csv">
                "CSV"
            </a>
        </span>
    }
}

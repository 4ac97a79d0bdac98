//! The one place that touches ECharts: loads it when the first chart mounts, renders a charming
//! [`Chart`] into a div it owns, updates it when the options change, follows the window's size,
//! tells the view what a click hit, saves it as a PNG on request, and disposes the ECharts
//! instance when the view unmounts.

use std::sync::atomic::{AtomicUsize, Ordering};

use charming::{Chart, Echarts};
use leptos::html::Div;
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::js_sys;

#[wasm_bindgen]
extern "C" {
    /// `echarts.init(element)`: charming's renderer finds its element by id, which fails while a
    /// `Transition` holds the view outside the document; this takes the element itself.
    #[wasm_bindgen(js_namespace = echarts, js_name = init)]
    fn init_echarts(element: &web_sys::HtmlElement) -> Echarts;

    /// `echarts.dispose(instance)`: charming 0.6 has no binding for it.
    #[wasm_bindgen(js_namespace = echarts, js_name = dispose)]
    fn dispose_echarts(instance: &Echarts);

    /// An ECharts instance, seen through the one method charming's [`Echarts`] keeps private.
    type EchartsInstance;

    /// `instance.setOption(options)`.
    #[wasm_bindgen(method, js_name = setOption)]
    fn set_option(this: &EchartsInstance, options: &JsValue);

    /// `JSON.parse(text, reviver)`.
    #[wasm_bindgen(catch, js_namespace = JSON, js_name = parse)]
    fn parse_reviving(text: &str, reviver: &js_sys::Function) -> Result<JsValue, JsValue>;
}

/// Turns the strings [`crate::charts::js_function`] marked ([`crate::charts::JS_MARK`], `\u{1}js:`)
/// back into functions.
fn reviver() -> js_sys::Function {
    js_sys::Function::new_with_args(
        "k, v",
        "return typeof v === 'string' && v.startsWith('\\u0001js:') \
         ? new Function('return ' + v.slice(4))() : v;",
    )
}

/// Hands `options` to the ECharts instance. Serialized as JSON text and parsed by the browser:
/// one serde serializer (`serde_json`, already needed for the API) instead of a second one
/// (`serde-wasm-bindgen`, which charming's `WasmRenderer` uses) keeps the wasm smaller.
fn render(instance: &Echarts, options: &Chart) {
    let parsed = serde_json::to_value(options)
        .map(without_overlapping_labels)
        .map(|value| value.to_string())
        .map_err(|e| JsValue::from_str(&e.to_string()))
        .and_then(|json| parse_reviving(&json, &reviver()));
    match parsed {
        Ok(options) => instance
            .unchecked_ref::<EchartsInstance>()
            .set_option(&options),
        Err(error) => leptos::logging::error!("rendering a chart: {error:?}"),
    }
}

/// Every axis hides a label that would run into its neighbour (`axisLabel.hideOverlap`, which
/// charming 0.6 cannot set): a time axis on a phone otherwise writes `17:40:0517:40:10`.
fn without_overlapping_labels(mut options: serde_json::Value) -> serde_json::Value {
    for key in ["xAxis", "yAxis"] {
        let axes = match options.get_mut(key) {
            Some(serde_json::Value::Array(axes)) => axes.iter_mut().collect(),
            Some(axis @ serde_json::Value::Object(_)) => vec![axis],
            _ => Vec::new(),
        };
        for axis in axes {
            if let Some(axis) = axis.as_object_mut() {
                let label = axis
                    .entry("axisLabel")
                    .or_insert_with(|| serde_json::json!({}));
                if let Some(label) = label.as_object_mut() {
                    label
                        .entry("hideOverlap")
                        .or_insert(serde_json::Value::Bool(true));
                }
            }
        }
    }
    options
}

type Instance = StoredValue<Option<Echarts>, LocalStorage>;

/// What a click on a chart hit (ECharts' event parameters a view acts on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clicked {
    /// `series`, `markLine`, `markArea`…
    pub component: String,
    pub series: String,
    /// The index of the clicked item within its series' data or its mark's data.
    pub index: usize,
}

type ClickListener = Closure<dyn Fn(JsValue)>;

/// Calls `on_click` with what each click on `instance` hit; the listener lives as long as the
/// returned closure.
fn listen(instance: &Echarts, on_click: Callback<Clicked>) -> Result<ClickListener, JsValue> {
    let listener: ClickListener = Closure::new(move |params: JsValue| {
        let get = |key: &str| js_sys::Reflect::get(&params, &key.into()).ok();
        let text = |key: &str| get(key).and_then(|v| v.as_string()).unwrap_or_default();
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "an index ECharts gave"
        )]
        let index = get("dataIndex")
            .and_then(|v| v.as_f64())
            .map_or(0, |i| i as usize);
        on_click.run(Clicked {
            component: text("componentType"),
            series: text("seriesName"),
            index,
        });
    });
    // `instance.on('click', listener)` (charming binds `on` for its own renderer only).
    let instance: &JsValue = instance.as_ref();
    let on: js_sys::Function = js_sys::Reflect::get(instance, &"on".into())?.dyn_into()?;
    on.call2(instance, &"click".into(), listener.as_ref())?;
    Ok(listener)
}

/// `index.html`'s `<script id="echarts-file" type="text/plain">` (not `id="echarts"`: ids are also
/// `window` properties, and `window.echarts` must mean the library): Trunk gives it the hashed file's
/// address and integrity hash, and its type keeps the browser from fetching it, so views without
/// charts (the start page) download no chart library.
const PLACEHOLDER_ID: &str = "echarts-file";
/// The script element that loads ECharts, once the first chart asked for it.
const LOADER_ID: &str = "echarts-loader";

/// Whether `window.echarts` exists; when it does not, starts loading it (once per page).
fn echarts_ready() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    if js_sys::Reflect::has(&window, &"echarts".into()).unwrap_or(false) {
        return true;
    }
    if let Some(document) = window.document()
        && document.get_element_by_id(LOADER_ID).is_none()
        && let Err(error) = load_echarts(&document)
    {
        leptos::logging::error!("loading ECharts: {error:?}");
    }
    false
}

/// Starts loading ECharts now: views that chart call this as they open, so the library downloads
/// while their data does rather than after it.
pub fn load_early() {
    let _ready = echarts_ready();
}

/// Appends a script that loads the file the placeholder names, checked against its integrity hash.
fn load_echarts(document: &web_sys::Document) -> Result<(), JsValue> {
    let placeholder = document
        .get_element_by_id(PLACEHOLDER_ID)
        .ok_or_else(|| JsValue::from_str("index.html has no #echarts-file script"))?;
    let script = document.create_element("script")?;
    script.set_id(LOADER_ID);
    for attribute in ["integrity", "src"] {
        if let Some(value) = placeholder.get_attribute(attribute) {
            script.set_attribute(attribute, &value)?;
        }
    }
    let failed = js_sys::Function::new_no_args(
        "console.error('lifeguard: ECharts could not be loaded; charts stay empty')",
    );
    js_sys::Reflect::set(&script, &"onerror".into(), &failed)?;
    document
        .head()
        .ok_or_else(|| JsValue::from_str("no <head>"))?
        .append_child(&script)?;
    Ok(())
}

/// How many animation frames to wait for the chart's element to enter the document.
const MOUNT_FRAMES: u32 = 1200;

/// Creates the ECharts instance once the element is in the document (ECharts measures it) and
/// ECharts has loaded, with the latest options; retries each animation frame until then.
fn mount(
    instance: Instance,
    node: NodeRef<Div>,
    chart: Signal<Chart, LocalStorage>,
    clicks: Clicks,
    frame: u32,
) {
    // The view may be gone by the next frame (a `Transition` swapped it out): stop then.
    let Some(Some(element)) = node.try_get_untracked() else {
        return;
    };
    if !element.is_connected() || !echarts_ready() {
        if frame < MOUNT_FRAMES {
            request_animation_frame(move || mount(instance, node, chart, clicks, frame + 1));
        }
        return;
    }
    instance.try_update_value(|slot| {
        if slot.is_none() {
            // The options may be gone with the view; then there is nothing to show.
            let _shown = chart.try_with_untracked(|options| {
                let created = init_echarts(&element);
                render(&created, options);
                if let Some(on_click) = clicks.on_click {
                    match listen(&created, on_click) {
                        Ok(listener) => clicks.listener.set_value(Some(listener)),
                        Err(error) => leptos::logging::error!("following clicks: {error:?}"),
                    }
                }
                *slot = Some(created);
            });
        }
    });
}

/// Who hears a chart's clicks, and the listener ECharts calls (kept while the chart lives).
#[derive(Clone, Copy)]
struct Clicks {
    on_click: Option<Callback<Clicked>>,
    listener: StoredValue<Option<ClickListener>, LocalStorage>,
}

/// A unique DOM id per chart on the page.
fn next_id() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("chart-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Downloads the chart as `file` (PNG, twice the screen's pixels, white background).
fn save_png(instance: &Echarts, file: &str) -> Result<(), JsValue> {
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"type".into(), &"png".into())?;
    js_sys::Reflect::set(&options, &"pixelRatio".into(), &2.into())?;
    js_sys::Reflect::set(&options, &"backgroundColor".into(), &"#fff".into())?;
    // `instance.getDataURL(options)`: the chart as a `data:` URL (charming has no binding).
    let instance: &JsValue = instance.as_ref();
    let get_data_url: js_sys::Function =
        js_sys::Reflect::get(instance, &"getDataURL".into())?.dyn_into()?;
    let url = get_data_url
        .call1(instance, &options)?
        .as_string()
        .ok_or_else(|| JsValue::from_str("getDataURL gave no URL"))?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let link: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    link.set_href(&url);
    link.set_download(file);
    link.click();
    Ok(())
}

/// An interactive chart. `label` describes it for screen readers; `name` identifies it
/// (`data-chart`, and the PNG's file name); `on_click` hears what a click hit.
#[component]
pub fn EChart(
    #[prop(into)] chart: Signal<Chart, LocalStorage>,
    #[prop(into)] label: String,
    name: &'static str,
    #[prop(optional, into)] on_click: Option<Callback<Clicked>>,
) -> impl IntoView {
    let id = next_id();
    let instance: Instance = StoredValue::new_local(None);
    let clicks = Clicks {
        on_click,
        listener: StoredValue::new_local(None),
    };
    let node = NodeRef::<Div>::new();
    Effect::new(move |_| {
        node.track();
        let updated = chart.with(|options| {
            instance.with_value(|slot| {
                slot.as_ref()
                    .map(|existing| render(existing, options))
                    .is_some()
            })
        });
        if !updated {
            mount(instance, node, chart, clicks, 0);
        }
    });
    let resize = window_event_listener(leptos::ev::resize, move |_| {
        instance.with_value(|slot| {
            if let Some(existing) = slot {
                existing.resize(JsValue::UNDEFINED);
            }
        });
    });
    on_cleanup(move || {
        resize.remove();
        if let Some(Some(existing)) = instance.try_update_value(Option::take) {
            dispose_echarts(&existing);
        }
        // Only once ECharts, which calls it, is gone.
        clicks
            .listener
            .try_update_value(|listener| drop(listener.take()));
    });
    let title = format!("Download “{label}” as a PNG image");
    let png = move |_| {
        instance.with_value(|slot| {
            if let Some(existing) = slot
                && let Err(error) = save_png(existing, &format!("lifeguard-{name}.png"))
            {
                leptos::logging::error!("saving the chart as PNG: {error:?}");
            }
        });
    };
    view! {
        <figure class="chart-box" data-chart=name>
            <div id=id node_ref=node class="chart" role="img" aria-label=label></div>
            <figcaption>
                <button
                    type="button"
                    class="link"
                    data-action="png"
                    title=title
                    on:click=png
                >
                    "PNG"
                </button>
            </figcaption>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_axis_hides_overlapping_labels_unless_told_otherwise() {
        let options = serde_json::json!({
            "xAxis": {"type": "time"},
            "yAxis": [{"axisLabel": {"formatter": "{value} %"}}, {"axisLabel": {"hideOverlap": false}}],
        });
        let done = without_overlapping_labels(options);
        assert_eq!(done["xAxis"]["axisLabel"]["hideOverlap"], true);
        assert_eq!(done["yAxis"][0]["axisLabel"]["hideOverlap"], true);
        assert_eq!(done["yAxis"][0]["axisLabel"]["formatter"], "{value} %");
        assert_eq!(done["yAxis"][1]["axisLabel"]["hideOverlap"], false);
    }
}

//! The one place that touches ECharts: renders a charming [`Chart`] into a div it owns, updates it
//! when the options change, and disposes the ECharts instance when the view unmounts.

use std::sync::atomic::{AtomicUsize, Ordering};

use charming::{Chart, Echarts, WasmRenderer};
use leptos::prelude::*;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
extern "C" {
    /// `echarts.dispose(instance)`: charming 0.6 has no binding for it.
    #[wasm_bindgen(js_namespace = echarts, js_name = dispose)]
    fn dispose_echarts(instance: &Echarts);
}

/// A unique DOM id per chart on the page.
fn next_id() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("chart-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// An interactive chart; `label` describes it for screen readers.
#[component]
pub fn EChart(#[prop(into)] chart: Signal<Chart>, #[prop(into)] label: String) -> impl IntoView {
    let id = next_id();
    let instance: StoredValue<Option<Echarts>, LocalStorage> = StoredValue::new_local(None);
    let dom_id = id.clone();
    // Effects run after the view is in the DOM, which `render` needs.
    Effect::new(move |_| {
        let options = chart.get();
        instance.update_value(|slot| match slot {
            Some(existing) => WasmRenderer::update(existing, &options),
            None => match WasmRenderer::new_opt(None, None).render(&dom_id, &options) {
                Ok(created) => *slot = Some(created),
                Err(error) => leptos::logging::error!("chart {dom_id}: {error}"),
            },
        });
    });
    on_cleanup(move || {
        if let Some(Some(existing)) = instance.try_update_value(Option::take) {
            dispose_echarts(&existing);
        }
    });
    view! { <div id=id class="chart" role="img" aria-label=label></div> }
}

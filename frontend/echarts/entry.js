// The ECharts the console loads as the global `echarts`: only the parts its charts use, instead of
// the full 1 MB build. scripts/setup.sh bundles this with esbuild (versions pinned in
// package.json and package-lock.json) into frontend/vendor/echarts.min.js, an IIFE whose result
// is `var echarts`; index.html loads that before the wasm.
//
// What uses which part (frontend/src/charts/*.rs, frontend/src/components/chart.rs):
// - line (every time chart, percentile curves, sparklines), bar (success rate per scenario),
//   scatter (baseline runs in a history); custom for charts to come;
// - grid with value, category and log axes; title; tooltip (its axis pointer comes with it);
//   legend, plain and scrolling; dataZoom inside and slider; toolbox (the probe's save-as-image);
//   markLine (levels, phase starts), markArea (utilization bands), markPoint; aria; dataset;
// - the canvas renderer: components/chart.rs calls `echarts.init(element)` with no renderer, and
//   the PNG download and the tests read a `canvas`.
// No label layout (no series label uses `labelLayout` or `hideOverlap`) and no universal transition.
//
// The Rust side and the tests call `echarts.init`, `echarts.dispose`, `echarts.getInstanceByDom`,
// and formatters evaluate `echarts.format.encodeHTML`: all from `echarts/core`, re-exported whole.
import { use } from 'echarts/core';
import { BarChart, CustomChart, LineChart, ScatterChart } from 'echarts/charts';
import {
  AriaComponent,
  DatasetComponent,
  DataZoomInsideComponent,
  DataZoomSliderComponent,
  GridComponent,
  LegendPlainComponent,
  LegendScrollComponent,
  MarkAreaComponent,
  MarkLineComponent,
  MarkPointComponent,
  TitleComponent,
  ToolboxComponent,
  TooltipComponent,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

use([
  LineChart,
  BarChart,
  ScatterChart,
  CustomChart,
  GridComponent,
  TitleComponent,
  TooltipComponent,
  LegendPlainComponent,
  LegendScrollComponent,
  DataZoomInsideComponent,
  DataZoomSliderComponent,
  ToolboxComponent,
  MarkLineComponent,
  MarkAreaComponent,
  MarkPointComponent,
  AriaComponent,
  DatasetComponent,
  CanvasRenderer,
]);

export * from 'echarts/core';

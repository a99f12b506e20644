/**
 * The few panel shapes the fleet's dashboards use, on Grafana's foundation SDK builders: every
 * panel and every target reads the `${datasource}` variable, so one JSON model serves any
 * Prometheus data source the Grafana instance names.
 */
import * as bargauge from "@grafana/grafana-foundation-sdk/bargauge";
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as timeseriesPanel from "@grafana/grafana-foundation-sdk/timeseries";

/** The data source every panel and target uses: the dashboard's `datasource` variable. */
export const DATASOURCE: common.DataSourceRef = { type: "prometheus", uid: "${datasource}" };

export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder("datasource").label("Data source").type("prometheus");
}

/** A Prometheus target; `instant` for panels that show one value per series over the time range. */
export function target(expr: string, legend: string, instant = false): prometheus.DataqueryBuilder {
  const t = new prometheus.DataqueryBuilder().datasource(DATASOURCE).expr(expr).legendFormat(legend);
  return instant ? t.instant() : t.range();
}

interface PanelOptions {
  title: string;
  description: string;
  unit: string;
  targets: prometheus.DataqueryBuilder[];
}

/** A panel ready for DashboardBuilder.withPanel (which lays panels out left to right, 12 wide). */
export interface PanelSpec {
  title: string;
  builder: timeseriesPanel.PanelBuilder | stat.PanelBuilder | bargauge.PanelBuilder;
}

const refId = (i: number) => String.fromCharCode(65 + i);
const redAbove = (value: number) =>
  new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps([
    { value: null, color: "green" },
    { value, color: "red" },
  ]);

export function timeseries(
  o: PanelOptions & {
    min?: number;
    max?: number;
    stack?: boolean;
    /** A line at this value, red above it. */
    threshold?: number;
    /** Series whose display name matches this regex are drawn dashed (limits, SLAs). */
    dashed?: string;
  },
): PanelSpec {
  const b = new timeseriesPanel.PanelBuilder()
    .title(o.title)
    .description(o.description)
    .datasource(DATASOURCE)
    .unit(o.unit)
    .span(12)
    .height(8)
    .lineWidth(1)
    .fillOpacity(o.stack ? 30 : 10)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Right),
    )
    .targets(o.targets.map((t, i) => t.refId(refId(i))));
  if (o.min !== undefined) b.min(o.min);
  if (o.max !== undefined) b.max(o.max);
  if (o.stack) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (o.threshold !== undefined) {
    b.thresholds(redAbove(o.threshold)).thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed),
    );
  }
  if (o.dashed) {
    b.overrideByRegexp(o.dashed, [
      { id: "custom.lineStyle", value: { fill: "dash", dash: [10, 10] } },
      { id: "custom.fillOpacity", value: 0 },
    ]);
  }
  return { title: o.title, builder: b };
}

/** One big number per target over the time range. */
export function statPanel(o: PanelOptions): PanelSpec {
  const b = new stat.PanelBuilder()
    .title(o.title)
    .description(o.description)
    .datasource(DATASOURCE)
    .unit(o.unit)
    .span(12)
    .height(8)
    .min(0)
    .max(1)
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .targets(o.targets.map((t, i) => t.refId(refId(i))));
  return { title: o.title, builder: b };
}

/** A horizontal bar per series, its last value (instant targets over the time range). */
export function barGauge(o: PanelOptions): PanelSpec {
  const b = new bargauge.PanelBuilder()
    .title(o.title)
    .description(o.description)
    .datasource(DATASOURCE)
    .unit(o.unit)
    .span(12)
    .height(8)
    .orientation(common.VizOrientation.Horizontal)
    .displayMode(common.BarGaugeDisplayMode.Basic)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .targets(o.targets.map((t, i) => t.refId(refId(i))));
  return { title: o.title, builder: b };
}

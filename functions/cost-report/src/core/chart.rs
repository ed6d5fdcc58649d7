//! The email's chart: the last 30 days, each day a bar stacked by the top groups of those
//! days, drawn by plotters into an RGB buffer and encoded as a PNG. It is attached inline
//! (a `cid:` part), so no client fetches anything; the HTML keeps the daily table for
//! clients that block images.
//!
//! Pure: no I/O, no system fonts (a subset of DejaVu Sans is compiled in).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use jiff::civil::Date;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::figures::CostReport;
use super::settings::GroupBy;

/// The image part's Content-ID, as the HTML refers to it (`cid:…`).
pub const CHART_CONTENT_ID: &str = "cost-chart@cost-report";
pub const CHART_FILE_NAME: &str = "cost-chart.png";
/// Drawn at twice the size the email shows it, so it stays sharp on high-density screens.
pub const CHART_WIDTH: u32 = 1200;
pub const CHART_HEIGHT: u32 = 600;
/// The width the HTML gives it, in CSS pixels.
pub const CHART_DISPLAY_WIDTH: u32 = CHART_WIDTH / 2;
/// Groups drawn in their own colour; the rest are stacked as one "Other".
pub const CHART_GROUPS: usize = 5;

/// Okabe and Ito's palette, which readers with a colour vision deficiency tell apart; grey is "Other".
const PALETTE: [RGBColor; CHART_GROUPS] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
];
const OTHER: RGBColor = RGBColor(160, 160, 160);
const INK: RGBColor = RGBColor(50, 60, 70);
const GRID: RGBColor = RGBColor(228, 231, 235);
const FONT: &str = "chart-sans";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans-chart.ttf");

/// One stacked series: a group (or "Other") and its amount on each day of the chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartSeries {
    pub name: String,
    pub amounts: Vec<Decimal>,
}

/// What the chart shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartData {
    /// The days, oldest first, and whether AWS still estimates each.
    pub days: Vec<(Date, bool)>,
    /// The top groups by their cost over these days, largest first, then "Other" if any.
    pub series: Vec<ChartSeries>,
    pub unit: String,
}

impl ChartData {
    /// The report's last 30 days (fewer at the window's start) by its top groups.
    pub fn of(report: &CostReport) -> Self {
        let chart_days = report.daily_totals().len();
        let days = &report.days[report.days.len() - chart_days..];
        let mut totals: BTreeMap<&String, Decimal> = BTreeMap::new();
        for (_, _, groups) in days {
            for (name, amount) in groups {
                *totals.entry(name).or_default() += *amount;
            }
        }
        let mut ranked: Vec<(&String, Decimal)> = totals.into_iter().filter(|(_, total)| !total.is_zero()).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let named = ranked.len().min(CHART_GROUPS);
        let mut series: Vec<ChartSeries> = ranked[..named]
            .iter()
            .map(|(name, _)| ChartSeries {
                name: GroupBy::for_people(name),
                amounts: days.iter().map(|(_, _, groups)| groups.get(*name).copied().unwrap_or_default()).collect(),
            })
            .collect();
        let rest = &ranked[named..];
        if !rest.is_empty() {
            series.push(ChartSeries {
                name: format!("Other ({} more)", rest.len()),
                amounts: days
                    .iter()
                    .map(|(_, _, groups)| rest.iter().filter_map(|(name, _)| groups.get(*name)).copied().sum())
                    .collect(),
            });
        }
        Self {
            days: days.iter().map(|(date, estimated, _)| (*date, *estimated)).collect(),
            series,
            unit: report.unit.clone(),
        }
    }

    /// The lowest and highest stacked value of any day: credits stack below zero.
    fn range(&self) -> (f64, f64) {
        (0..self.days.len()).fold((0.0, 0.0), |(low, high), day| {
            let (below, above) = self.stacked_extent(day);
            (low.min(below), high.max(above))
        })
    }

    fn stacked_extent(&self, day: usize) -> (f64, f64) {
        self.series.iter().map(|s| to_f64(s.amounts[day])).fold((0.0, 0.0), |(below, above), amount| {
            if amount < 0.0 { (below + amount, above) } else { (below, above + amount) }
        })
    }

    fn color(&self, index: usize) -> RGBColor {
        if index < CHART_GROUPS && !self.series[index].name.starts_with("Other (") { PALETTE[index] } else { OTHER }
    }
}

/// The chart as a PNG, or why it could not be drawn (the email then goes without it).
pub fn render_chart_png(data: &ChartData) -> Result<Vec<u8>, String> {
    if data.days.is_empty() {
        return Err("no day to chart".to_owned());
    }
    static FONT_LOADED: OnceLock<bool> = OnceLock::new();
    if !*FONT_LOADED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()) {
        return Err("the chart's font does not load".to_owned());
    }
    let mut pixels = vec![0u8; (CHART_WIDTH * CHART_HEIGHT * 3) as usize];
    draw(data, &mut pixels).map_err(|err| format!("drawing the chart failed: {err}"))?;
    encode_png(&pixels).map_err(|err| format!("encoding the chart failed: {err}"))
}

fn draw(data: &ChartData, pixels: &mut [u8]) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(pixels, (CHART_WIDTH, CHART_HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let estimated = data.days.iter().any(|(_, estimated)| *estimated);
    let legend_rows = data.series.len().div_ceil(2) as u32 + u32::from(estimated);
    let legend_height = 20 + legend_rows * 36;
    let (plot, legend) = root.split_vertically(CHART_HEIGHT - legend_height);

    let (low, high) = data.range();
    let high = if high <= 0.0 && low >= 0.0 { 1.0 } else { high * 1.08 };
    let low = low * 1.08;
    let days = data.days.len();
    let label = (FONT, 22).into_font().color(&INK);
    let mut chart = ChartBuilder::on(&plot)
        .margin_top(20)
        .margin_right(28)
        .margin_left(12)
        .x_label_area_size(48)
        .y_label_area_size(120)
        .build_cartesian_2d(-0.5f64..(days as f64 - 0.5), low..high)?;
    let unit = data.unit.clone();
    let dates = data.days.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .bold_line_style(GRID)
        .light_line_style(WHITE)
        .axis_style(INK.mix(0.6))
        .y_labels(6)
        .y_label_style(label.clone())
        .y_label_formatter(&|value| axis_money(*value, &unit))
        .x_labels(days.min(10))
        .x_label_style(label.clone())
        .x_label_formatter(&|value| {
            let index = value.round();
            if (value - index).abs() > 0.01 || index < 0.0 {
                return String::new();
            }
            dates.get(index as usize).map(|(date, _)| date.strftime("%b %-d").to_string()).unwrap_or_default()
        })
        .draw()?;

    for day in 0..days {
        let estimated = data.days[day].1;
        let (mut below, mut above) = (0.0, 0.0);
        for (index, series) in data.series.iter().enumerate() {
            let amount = to_f64(series.amounts[day]);
            if amount == 0.0 {
                continue;
            }
            let (from, to) = if amount < 0.0 {
                below += amount;
                (below - amount, below)
            } else {
                above += amount;
                (above - amount, above)
            };
            // Estimated days are lighter: the figures may still change.
            let color = data.color(index).mix(if estimated { 0.5 } else { 1.0 });
            let left = day as f64 - 0.38;
            let right = day as f64 + 0.38;
            chart.draw_series(std::iter::once(Rectangle::new([(left, from), (right, to)], color.filled())))?;
        }
    }

    legend.fill(&WHITE)?;
    let column_width = (CHART_WIDTH as i32 - 140) / 2;
    for (index, series) in data.series.iter().enumerate() {
        let x = 132 + (index as i32 % 2) * column_width;
        let y = 10 + (index as i32 / 2) * 36;
        legend.draw(&Rectangle::new([(x, y + 4), (x + 22, y + 26)], data.color(index).filled()))?;
        legend.draw(&Text::new(shorten(&series.name, 44), (x + 34, y + 3), label.clone()))?;
    }
    if estimated {
        let note = (FONT, 20).into_font().color(&INK.mix(0.7));
        let y = 10 + data.series.len().div_ceil(2) as i32 * 36 + 3;
        legend.draw(&Text::new("Lighter bars: days AWS still estimates", (132, y), note))?;
    }
    root.present()?;
    Ok(())
}

fn encode_png(pixels: &[u8]) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, CHART_WIDTH, CHART_HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(bytes)
}

/// `$1,500`, `$350`, `$0.50`, `$25k`, `$3.4M`: short enough for an axis.
fn axis_money(value: f64, unit: &str) -> String {
    let magnitude = value.abs();
    let sign = if value < 0.0 { "-" } else { "" };
    let number = if magnitude >= 1_000_000.0 {
        format!("{:.1}M", magnitude / 1_000_000.0)
    } else if magnitude >= 10_000.0 {
        format!("{:.0}k", magnitude / 1_000.0)
    } else if magnitude >= 1_000.0 {
        let whole = magnitude.round() as u64;
        format!("{},{:03}", whole / 1_000, whole % 1_000)
    } else if magnitude >= 10.0 || magnitude == 0.0 {
        format!("{magnitude:.0}")
    } else {
        format!("{magnitude:.2}")
    };
    match unit {
        "USD" => format!("{sign}${number}"),
        _ => format!("{sign}{number} {unit}"),
    }
}

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max_chars - 1).collect();
    format!("{kept}…")
}

fn to_f64(amount: Decimal) -> f64 {
    amount.to_f64().unwrap_or(0.0)
}

#[cfg(test)]
mod tests;

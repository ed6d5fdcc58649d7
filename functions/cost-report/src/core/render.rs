//! Every rendering of one computed report: the CSV for finance, the HTML and text
//! email, and the Slack Block Kit message. All from the same `CostReport`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use shared::spreadsheet::neutralize_formula;

use super::chart::{CHART_CONTENT_ID, CHART_DISPLAY_WIDTH, CHART_HEIGHT, CHART_WIDTH, ChartData, render_chart_png};
use super::figures::{CostReport, Forecast, Line};
use super::money::format_percent;
use super::movers::{Baseline, Direction, Mover, Movers};
use super::settings::GroupBy;

pub const CSV_FILE_NAME: &str = "cost-by-service.csv";
/// The movers, beside the CSV and attached with it.
pub const MOVERS_CSV_FILE_NAME: &str = "cost-movers.csv";
/// Movers in the Slack message.
const SLACK_MOVERS: usize = 3;
/// Slack's limits: blocks per message, characters per section text, per header.
pub const MAX_SLACK_BLOCKS: usize = 50;
pub const MAX_SLACK_TEXT: usize = 3000;
const MAX_SLACK_HEADER: usize = 150;
/// Days in the Slack trend line.
const SLACK_TREND_DAYS: usize = 14;

/// One row per day and group over the whole window; a group with no cost on a day is 0.
pub fn render_csv(report: &CostReport) -> Result<Vec<u8>, csv::Error> {
    let keys: BTreeSet<&String> = report.days.iter().flat_map(|(_, _, groups)| groups.keys()).collect();
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let mut header = vec!["date".to_owned()];
    header.extend(report.group_by.columns());
    header.extend(["amount", "unit", "estimated"].map(str::to_owned));
    writer.write_record(&header)?;
    for (date, estimated, groups) in &report.days {
        for key in &keys {
            let amount = groups.get(*key).copied().unwrap_or_default();
            let mut row = vec![date.to_string()];
            row.extend(GroupBy::parts(key).into_iter().map(|part| neutralize_formula(part).into_owned()));
            row.extend([amount.normalize().to_string(), report.unit.clone(), estimated.to_string()]);
            writer.write_record(&row)?;
        }
    }
    writer.into_inner().map_err(|err| csv::Error::from(err.into_error()))
}

/// One row per group that moved, per comparison: the listed movers first, then the rest.
pub fn render_movers_csv(report: &CostReport) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let mut header: Vec<String> =
        ["comparison", "from", "to", "baseline_from", "baseline_to"].map(str::to_owned).to_vec();
    header.extend(report.group_by.columns());
    header.extend(
        ["amount", "baseline_amount", "change", "change_pct", "share_of_movement_pct", "direction", "listed", "unit"]
            .map(str::to_owned),
    );
    writer.write_record(&header)?;
    for movers in &report.movers {
        let listed = movers.top.iter().map(|mover| (true, mover));
        for (is_listed, mover) in listed.chain(movers.rest.iter().map(|mover| (false, mover))) {
            let mut row = vec![
                movers.baseline.as_str().to_owned(),
                movers.now_days.0.to_string(),
                movers.now_days.1.to_string(),
                movers.before_days.0.to_string(),
                movers.before_days.1.to_string(),
            ];
            row.extend(GroupBy::parts(&mover.name).into_iter().map(|part| neutralize_formula(part).into_owned()));
            row.extend([
                mover.now.normalize().to_string(),
                mover.before.normalize().to_string(),
                mover.change().normalize().to_string(),
                mover.change_pct().map(|pct| pct.round_dp(1).normalize().to_string()).unwrap_or_default(),
                mover.share.round_dp(1).normalize().to_string(),
                mover.direction.as_str().to_owned(),
                is_listed.to_string(),
                report.unit.clone(),
            ]);
            writer.write_record(&row)?;
        }
    }
    writer.into_inner().map_err(|err| csv::Error::from(err.into_error()))
}

/// `+$60.00`, `-$4.10`.
fn signed_money(report: &CostReport, amount: Decimal) -> String {
    let text = report.money(amount);
    if amount > Decimal::ZERO { format!("+{text}") } else { text }
}

/// One mover as people read it: `▲ Amazon EC2 +$60.00 (+60.0%), 98% of the movement`.
fn mover_text(report: &CostReport, mover: &Mover) -> String {
    let name = truncate(&GroupBy::for_people(&mover.name), 60);
    let how = match mover.direction {
        Direction::Up | Direction::Down => format_percent(mover.change_pct(), false),
        Direction::New => format!("new, from nothing to {}", report.money(mover.now)),
        Direction::Gone => format!("gone, from {} to nothing", report.money(mover.before)),
    };
    let mark = if mover.change() > Decimal::ZERO { "▲" } else { "▼" };
    format!(
        "{mark} {name} {} ({how}), {}% of the movement",
        signed_money(report, mover.change()),
        mover.share.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    )
}

/// The lines of one comparison: its movers, then the new and vanished spend not among them.
fn movers_lines(report: &CostReport, movers: &Movers, limit: usize) -> Vec<String> {
    if movers.is_flat() {
        return vec!["no group moved by a cent".to_owned()];
    }
    let mut lines: Vec<String> = movers.top.iter().take(limit).map(|mover| mover_text(report, mover)).collect();
    let people = |names: Vec<&str>| names.into_iter().map(GroupBy::for_people).collect::<Vec<_>>().join(", ");
    if !movers.also_new().is_empty() {
        lines.push(format!("also new: {}", people(movers.also_new())));
    }
    if !movers.also_gone().is_empty() {
        lines.push(format!("also gone: {}", people(movers.also_gone())));
    }
    lines
}

/// `The day against the day before (2026-11-20 to 2026-11-21): +$61.00 (+40.7%)`.
fn movers_heading(report: &CostReport, movers: &Movers) -> String {
    let span = |(first, last): (jiff::civil::Date, jiff::civil::Date)| {
        if first == last { first.to_string() } else { format!("{first}..{last}") }
    };
    let pct = format_percent(
        (!movers.before_total.is_zero()).then(|| movers.change() / movers.before_total.abs() * Decimal::ONE_HUNDRED),
        movers.before_total.is_zero() && !movers.now_total.is_zero(),
    );
    format!(
        "{} ({} to {}): {} ({pct})",
        capitalize(movers.baseline.heading()),
        span(movers.before_days),
        span(movers.now_days),
        signed_money(report, movers.change()),
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailContent {
    pub subject: String,
    pub html: String,
    pub text: String,
    /// The chart, attached inline as `cid:` [`CHART_CONTENT_ID`]; the HTML refers to it only when it is there.
    pub chart_png: Option<Vec<u8>>,
    /// Why there is no chart, when drawing it failed: the email goes without it.
    pub chart_problem: Option<String>,
}

/// The summary figures as (label, value) pairs, shared by every rendering.
fn summary_rows(report: &CostReport) -> Vec<(String, String)> {
    let estimated = |flag: bool| if flag { " (estimated)" } else { "" };
    let signed = |amount: Decimal| {
        let text = report.money(amount);
        if amount > Decimal::ZERO { format!("+{text}") } else { text }
    };
    let forecast = match &report.forecast {
        Forecast::Available { month_total } => format!("{} (forecast)", report.money(*month_total)),
        Forecast::Complete { month_total } => format!("{} (month complete)", report.money(*month_total)),
        Forecast::Unavailable { reason } => format!("forecast unavailable: {reason}"),
    };
    let mut rows = vec![
        (
            format!("{} ({})", report.window.report_day, weekday(report)),
            format!("{}{}", report.money(report.report_day_total), estimated(report.report_day_estimated())),
        ),
        (
            "Change from the day before".to_owned(),
            format!("{} ({})", signed(report.day_change()), report.day_change_text()),
        ),
        (
            "Month to date".to_owned(),
            format!("{}{}", report.money(report.month_to_date), estimated(report.month_to_date_estimated())),
        ),
        (
            "Same days last month".to_owned(),
            format!("{} ({} this month)", report.money(report.last_month_same_days), report.month_change_text()),
        ),
        ("Month total".to_owned(), forecast),
    ];
    if let Some(budget) = &report.budget {
        rows.push((format!("Budget {}", budget.name), budget.spent_line(&report.unit)));
        rows.push(("Budget forecast".to_owned(), budget.forecast_line(&report.unit)));
    }
    rows
}

fn weekday(report: &CostReport) -> String {
    report.window.report_day.strftime("%A").to_string()
}

fn subject(report: &CostReport) -> String {
    let alert = if report.alerts.is_empty() { "" } else { "[ALERT] " };
    format!(
        "{alert}AWS cost {}: {} ({})",
        report.window.report_day,
        report.money(report.report_day_total),
        report.day_change_text()
    )
}

fn lines_with_other(report: &CostReport) -> Vec<&Line> {
    report.top.iter().chain(report.other.iter()).collect()
}

pub fn render_email(report: &CostReport) -> EmailContent {
    let (chart_png, chart_problem) = match render_chart_png(&ChartData::of(report)) {
        Ok(png) => (Some(png), None),
        Err(problem) => (None, Some(problem)),
    };
    EmailContent {
        subject: subject(report),
        html: render_html(report, chart_png.is_some()),
        text: render_text(report),
        chart_png,
        chart_problem,
    }
}

fn render_text(report: &CostReport) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "AWS cost report for {}", report.window.report_day);
    let _ = writeln!(text, "{} by {}, {}\n", report.metric.as_str(), report.group_by.label(), report.unit);
    for alert in &report.alerts {
        let _ = writeln!(text, "ALERT: {alert}");
    }
    for note in &report.notes {
        let _ = writeln!(text, "NOTE: {note}");
    }
    if !report.alerts.is_empty() || !report.notes.is_empty() {
        text.push('\n');
    }
    for (label, value) in summary_rows(report) {
        let _ = writeln!(text, "{label:<28} {value}");
    }
    let _ = writeln!(text, "\nWhat changed, by {}:", report.group_by.label());
    for movers in &report.movers {
        let _ = writeln!(text, "  {}", movers_heading(report, movers));
        for line in movers_lines(report, movers, usize::MAX) {
            let _ = writeln!(text, "    {line}");
        }
    }
    let _ = writeln!(text, "\nTop {} by cost on {}:", report.group_by.plural(), report.window.report_day);
    for line in lines_with_other(report) {
        let _ = writeln!(
            text,
            "  {:<40} {:>14} {:>10}",
            truncate(&GroupBy::for_people(&line.name), 40),
            report.money(line.report_day),
            line.change_text()
        );
    }
    let _ = writeln!(text, "\nDaily totals (* estimated):");
    for (date, total, estimated) in report.daily_totals() {
        let _ = writeln!(text, "  {date}  {:>14}{}", report.money(total), if estimated { " *" } else { "" });
    }
    let _ = writeln!(
        text,
        "\nThe CSV attached has every day and {} of the window; {MOVERS_CSV_FILE_NAME}, every group that moved.",
        report.group_by.plural()
    );
    text
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// HTML that mail clients render alike: tables, inline styles, no scripts, no remote images.
/// The HTML email; `with_chart` when the chart image is attached beside it.
fn render_html(report: &CostReport, with_chart: bool) -> String {
    const CELL: &str = "padding:6px 8px;border-bottom:1px solid #e4e7eb;font-size:14px";
    const NUMBER: &str =
        "padding:6px 8px;border-bottom:1px solid #e4e7eb;font-size:14px;text-align:right;white-space:nowrap";
    let mut html = String::new();
    let title = format!("AWS cost report for {}", report.window.report_day);
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head>\
         <body style=\"margin:0;padding:0;background:#f4f5f7;font-family:Arial,Helvetica,sans-serif;color:#1f2933\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"background:#f4f5f7\"><tr><td align=\"center\" style=\"padding:24px 8px\">\
         <table role=\"presentation\" width=\"640\" cellpadding=\"0\" cellspacing=\"0\" style=\"max-width:640px;width:100%;background:#ffffff;border:1px solid #e4e7eb\">\
         <tr><td style=\"padding:24px 24px 8px\"><h1 style=\"margin:0;font-size:22px\">{title}</h1>\
         <p style=\"margin:6px 0 0;color:#52606d;font-size:13px\">{} by {}, {}</p></td></tr>",
        report.metric.as_str(),
        escape_html(&report.group_by.label()),
        escape_html(&report.unit),
    );
    for alert in &report.alerts {
        let _ = write!(
            html,
            "<tr><td style=\"padding:8px 24px\"><div style=\"background:#fde8e8;border-left:4px solid #d64545;padding:10px 12px;font-size:14px\">\
             <strong>Alert:</strong> {}</div></td></tr>",
            escape_html(alert)
        );
    }
    for note in &report.notes {
        let _ = write!(
            html,
            "<tr><td style=\"padding:8px 24px\"><div style=\"background:#eef2f7;border-left:4px solid #52606d;padding:10px 12px;font-size:14px\">\
             <strong>Note:</strong> {}</div></td></tr>",
            escape_html(note)
        );
    }
    html.push_str("<tr><td style=\"padding:8px 24px\"><table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\">");
    for (label, value) in summary_rows(report) {
        let _ = write!(
            html,
            // The label stays on one line; a long value (a forecast's reason) wraps instead.
            "<tr><td style=\"{CELL};white-space:nowrap\">{}</td><td style=\"{CELL};text-align:right\"><strong>{}</strong></td></tr>",
            escape_html(&label),
            escape_html(&value)
        );
    }
    html.push_str("</table></td></tr>");

    let _ = write!(
        html,
        "<tr><td style=\"padding:16px 24px 8px\"><h2 style=\"margin:0 0 8px;font-size:16px\">What changed, by {}</h2>",
        escape_html(&report.group_by.label())
    );
    for movers in &report.movers {
        let _ = write!(
            html,
            "<p style=\"margin:10px 0 4px;font-size:14px\"><strong>{}</strong></p><table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\">",
            escape_html(&movers_heading(report, movers))
        );
        for line in movers_lines(report, movers, usize::MAX) {
            let color = if line.starts_with('▲') {
                "#b42318"
            } else if line.starts_with('▼') {
                "#1f7a3a"
            } else {
                "#52606d"
            };
            let _ = write!(html, "<tr><td style=\"{CELL};color:{color}\">{}</td></tr>", escape_html(&line));
        }
        html.push_str("</table>");
    }
    html.push_str("</td></tr>");

    let _ = write!(
        html,
        "<tr><td style=\"padding:16px 24px 8px\"><h2 style=\"margin:0 0 8px;font-size:16px\">Top {} on {}</h2>\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\">\
         <tr><th align=\"left\" style=\"{CELL};color:#52606d\">{}</th><th align=\"right\" style=\"{NUMBER};color:#52606d\">{}</th>\
         <th align=\"right\" style=\"{NUMBER};color:#52606d\">Day before</th><th align=\"right\" style=\"{NUMBER};color:#52606d\">Change</th></tr>",
        escape_html(&report.group_by.plural()),
        report.window.report_day,
        escape_html(&capitalize(&report.group_by.label())),
        report.window.report_day,
    );
    for line in lines_with_other(report) {
        let color = if line.change() > Decimal::ZERO { "#b42318" } else { "#1f7a3a" };
        let _ = write!(
            html,
            "<tr><td style=\"{CELL}\">{}</td><td style=\"{NUMBER}\">{}</td><td style=\"{NUMBER}\">{}</td><td style=\"{NUMBER};color:{color}\">{}</td></tr>",
            escape_html(&GroupBy::for_people(&line.name)),
            report.money(line.report_day),
            report.money(line.day_before),
            line.change_text(),
        );
    }
    let _ = write!(
        html,
        "<tr><td style=\"{CELL}\"><strong>Total</strong></td><td style=\"{NUMBER}\"><strong>{}</strong></td><td style=\"{NUMBER}\">{}</td><td style=\"{NUMBER}\">{}</td></tr></table></td></tr>",
        report.money(report.report_day_total),
        report.money(report.day_before_total),
        report.day_change_text(),
    );

    let totals = report.daily_totals();
    // The chart image, inline: no URL to fetch, so nothing tracks the reader.
    if with_chart {
        let _ = write!(
            html,
            "<tr><td style=\"padding:16px 24px 8px\"><h2 style=\"margin:0 0 8px;font-size:16px\">Daily cost by {}, last {} days</h2>\
             <img src=\"cid:{CHART_CONTENT_ID}\" width=\"{CHART_DISPLAY_WIDTH}\" height=\"{}\" alt=\"A chart of the daily cost by {} over the last {} days; the table below has the daily totals.\" \
             style=\"display:block;width:100%;max-width:{CHART_DISPLAY_WIDTH}px;height:auto;border:0\"></td></tr>",
            escape_html(&report.group_by.label()),
            totals.len(),
            CHART_HEIGHT * CHART_DISPLAY_WIDTH / CHART_WIDTH,
            escape_html(&report.group_by.label()),
            totals.len(),
        );
    }
    // The same days as a table, for clients that block images: one row a day, the bar a
    // table cell whose width is the day's share of the largest.
    let largest = totals.iter().map(|(_, t, _)| *t).max().unwrap_or_default();
    let _ = write!(
        html,
        "<tr><td style=\"padding:16px 24px 8px\"><h2 style=\"margin:0 0 8px;font-size:16px\">Daily total, last {} days</h2>\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"font-size:12px\">",
        totals.len()
    );
    for (date, total, estimated) in &totals {
        let percent = if largest > Decimal::ZERO && *total > Decimal::ZERO {
            (*total * Decimal::ONE_HUNDRED / largest).round().max(Decimal::ONE).to_string()
        } else {
            "0".to_owned()
        };
        let color = if *date == report.window.report_day {
            "#d64545"
        } else if *estimated {
            "#9fb3c8"
        } else {
            "#3e7bfa"
        };
        let bar = if percent == "0" {
            String::new()
        } else {
            format!(
                "<table role=\"presentation\" width=\"{percent}%\" cellpadding=\"0\" cellspacing=\"0\"><tr><td height=\"12\" bgcolor=\"{color}\" style=\"background:{color};height:12px;line-height:12px;font-size:1px\">&nbsp;</td></tr></table>"
            )
        };
        let _ = write!(
            html,
            "<tr><td width=\"88\" style=\"padding:2px 8px 2px 0;white-space:nowrap;color:#52606d\">{}</td><td style=\"padding:2px 0\">{bar}</td>\
             <td width=\"96\" align=\"right\" style=\"padding:2px 0 2px 8px;white-space:nowrap\">{}{}</td></tr>",
            date.strftime("%a %d %b"),
            report.money(*total),
            if *estimated { "*" } else { "" },
        );
    }
    html.push_str("</table></td></tr>");
    let _ = write!(
        html,
        "<tr><td style=\"padding:16px 24px 24px;color:#7b8794;font-size:12px\">* estimated by AWS: the figure may still change. \
         The attached {CSV_FILE_NAME} has every day and {} of the window, and {MOVERS_CSV_FILE_NAME} every group that moved. Cost Explorer end dates are exclusive; \
         the day reported, {}, is a UTC day, as Cost Explorer counts days.</td></tr></table></td></tr></table></body></html>",
        escape_html(&report.group_by.plural()),
        report.window.report_day,
    );
    html
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn escape_mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A Block Kit message within Slack's limits, whatever the number of services.
pub fn render_slack(report: &CostReport) -> Value {
    let header = truncate(
        &format!(
            "{}AWS cost {}: {}",
            if report.alerts.is_empty() { "" } else { "🚨 " },
            report.window.report_day,
            report.money(report.report_day_total)
        ),
        MAX_SLACK_HEADER,
    );
    let mut blocks = vec![json!({"type": "header", "text": {"type": "plain_text", "text": header}})];
    if !report.alerts.is_empty() {
        let alerts: Vec<String> =
            report.alerts.iter().map(|a| format!(":rotating_light: *Alert:* {}", escape_mrkdwn(a))).collect();
        blocks.push(section(&fit_lines(&alerts, MAX_SLACK_TEXT, "alerts")));
    }
    if !report.notes.is_empty() {
        let notes: Vec<String> =
            report.notes.iter().map(|n| format!(":information_source: *Note:* {}", escape_mrkdwn(n))).collect();
        blocks.push(section(&fit_lines(&notes, MAX_SLACK_TEXT, "notes")));
    }
    let fields: Vec<Value> = summary_rows(report)
        .into_iter()
        .map(|(label, value)| json!({"type": "mrkdwn", "text": format!("*{}*\n{}", escape_mrkdwn(&label), escape_mrkdwn(&value))}))
        .collect();
    blocks.push(json!({"type": "section", "fields": fields}));
    if let Some(movers) = report.movers_against(Baseline::DayBefore) {
        let lines: Vec<String> =
            movers_lines(report, movers, SLACK_MOVERS).iter().map(|line| escape_mrkdwn(line)).collect();
        let heading = format!("*What moved since the day before* ({})", signed_money(report, movers.change()));
        blocks
            .push(section(&format!("{heading}\n{}", fit_lines(&lines, MAX_SLACK_TEXT - heading.len() - 1, "movers"))));
    }

    let heading = format!("*Top {} on {}*", report.group_by.plural(), report.window.report_day);
    let lines: Vec<String> = lines_with_other(report)
        .iter()
        .map(|line| {
            format!(
                "• {} — {} ({})",
                escape_mrkdwn(&truncate(&GroupBy::for_people(&line.name), 80)),
                report.money(line.report_day),
                line.change_text()
            )
        })
        .collect();
    let budget = MAX_SLACK_TEXT - heading.len() - 1;
    blocks.push(section(&format!("{heading}\n{}", fit_lines(&lines, budget, report.group_by.plural().as_str()))));

    let trend: Vec<(jiff::civil::Date, Decimal, bool)> =
        report.daily_totals().into_iter().rev().take(SLACK_TREND_DAYS).rev().collect();
    if let (Some(first), Some(last)) = (trend.first(), trend.last()) {
        blocks.push(section(&format!(
            "*Trend, {} days:* `{}` {} → {}",
            trend.len(),
            sparkline(&trend.iter().map(|(_, t, _)| *t).collect::<Vec<_>>()),
            report.money(first.1),
            report.money(last.1),
        )));
    }
    let estimated =
        if report.report_day_estimated() { " · figures for the day are estimated and may change" } else { "" };
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
        "{} · {} · by {}{estimated} · CSV and HTML report by email", report.metric.as_str(), report.unit, escape_mrkdwn(&report.group_by.label())
    )}]}));
    blocks.truncate(MAX_SLACK_BLOCKS);
    json!({"text": subject(report), "blocks": blocks})
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

/// As many whole lines as fit in `budget` characters, then "… and N more".
fn fit_lines(lines: &[String], budget: usize, what: &str) -> String {
    let mut text = String::new();
    for (index, line) in lines.iter().enumerate() {
        let separator = usize::from(!text.is_empty());
        let after = lines.len() - index - 1;
        // Room is kept for the "… and N more" line that would follow this one.
        let tail = if after > 0 { format!("\n… and {after} more {what}").chars().count() } else { 0 };
        if text.chars().count() + separator + line.chars().count() + tail > budget {
            if separator == 1 {
                text.push('\n');
            }
            let _ = write!(text, "… and {} more {what}", lines.len() - index);
            return text;
        }
        if separator == 1 {
            text.push('\n');
        }
        text.push_str(line);
    }
    text
}

fn sparkline(values: &[Decimal]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let largest = values.iter().copied().max().unwrap_or_default();
    values
        .iter()
        .map(|value| {
            if largest <= Decimal::ZERO {
                return BARS[0];
            }
            let step = (*value * Decimal::from(7) / largest).round();
            BARS[step.to_usize().unwrap_or(0).min(7)]
        })
        .collect()
}

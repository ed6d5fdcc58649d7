//! The coverage report (`action: report`): every cluster the run can see, what it runs now,
//! whether a schedule covers it, how long it was off last week (from the savings ledger),
//! and, for an unscheduled cluster tagged non-production, what a default schedule would
//! save a month. Written as a CSV beside the ledger and announced once.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::json;

use super::{
    Action, Announcement, LAST_ACTION_TAG, LastAction, LedgerLine, PRICE_LABEL, Priced, Schedule, Selection,
    SiteReport, Status, StopRecord,
};

/// Hours in a month, as AWS prices a month.
pub const HOURS_A_MONTH: f64 = 730.0;
/// How `NON_PRODUCTION` is written.
pub const NON_PRODUCTION_FORM: &str = "<tag>=<value>[,<value>...], like environment=dev,test,staging";
/// The schedule a suggestion assumes when `SUGGESTED_SCHEDULE` is not set.
pub const DEFAULT_SUGGESTED_SCHEDULE: &str = "off=mon-fri@19:00 on=mon-fri@07:00";
/// How far ahead a suggestion expands its schedule to find the share of time it is off.
const SUGGESTION_DAYS: i64 = 28;
/// Candidates named in the announcement; the CSV has them all.
const ANNOUNCED_CANDIDATES: usize = 10;

/// The tag and values that mark a cluster non-production (`NON_PRODUCTION`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonProduction {
    pub tag: String,
    /// Lowercase: a tag value matches whatever its case.
    pub values: Vec<String>,
}

impl NonProduction {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (tag, values) = text.split_once('=').ok_or_else(|| format!("{text:?} has no ="))?;
        let values: Vec<String> =
            values.split(',').map(|v| v.trim().to_lowercase()).filter(|v| !v.is_empty()).collect();
        if tag.trim().is_empty() || values.is_empty() {
            return Err(format!("{text:?} needs a tag and at least one value"));
        }
        Ok(Self { tag: tag.trim().to_owned(), values })
    }

    pub fn marks(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(&self.tag).is_some_and(|value| self.values.contains(&value.trim().to_lowercase()))
    }
}

/// What the coverage report needs from the configuration.
#[derive(Debug, Clone)]
pub struct CoverageSettings<'a> {
    pub selection: Selection<'a>,
    /// `None`: no cluster is taken for non-production, so nothing is suggested.
    pub non_production: Option<&'a NonProduction>,
    /// The schedule a suggestion prices (`SUGGESTED_SCHEDULE`).
    pub suggested: &'a Schedule,
    pub suggested_text: &'a str,
}

/// Whether, and how, the scheduler stops a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Coverage {
    /// Its schedule tag, followed by the `auto` runs.
    Schedule,
    /// Its stop tag: stopped by the fixed stop schedule (`StopSchedule`).
    StopTag,
    /// A schedule tag that cannot be read: `auto` runs skip it.
    InvalidSchedule,
    /// Outside `CLUSTER_NAME_PATTERN`: the scheduler may not act on it.
    OutsidePattern,
    Unscheduled,
}

impl Coverage {
    pub fn is_scheduled(self) -> bool {
        matches!(self, Self::Schedule | Self::StopTag)
    }
}

/// A cluster's coverage and its detail (the schedule, or what is wrong with it).
pub fn coverage_of(
    selection: &Selection<'_>,
    tags: &BTreeMap<String, String>,
    within_pattern: bool,
) -> (Coverage, String) {
    if !within_pattern {
        return (Coverage::OutsidePattern, "outside CLUSTER_NAME_PATTERN".to_owned());
    }
    if let Some(text) = tags.get(selection.schedule_tag) {
        return match Schedule::parse(text, selection.default_timezone) {
            Ok(_) => (Coverage::Schedule, text.clone()),
            Err(problem) => (Coverage::InvalidSchedule, format!("{}: {problem}", selection.schedule_tag)),
        };
    }
    if tags.get(selection.stop_tag).is_some_and(|value| value.trim().eq_ignore_ascii_case("true")) {
        return (Coverage::StopTag, format!("{}=true", selection.stop_tag));
    }
    (Coverage::Unscheduled, String::new())
}

/// What a cluster runs now, priced as a stop would price it.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub capacity: String,
    pub instances: u32,
    pub usd_an_hour: Option<f64>,
    /// Instances without a price, with why.
    pub unpriced: Vec<String>,
}

impl Running {
    pub fn of(record: &StopRecord, priced: &Priced) -> Self {
        Self {
            capacity: record.capacity_text(),
            instances: record.count(),
            // Nothing running costs nothing; instances of which none has a price cost what is unknown.
            usd_an_hour: (record.count() == 0 || !priced.bases.is_empty()).then_some(priced.usd_an_hour),
            unpriced: priced.unpriced.clone(),
        }
    }
}

/// A cluster as the report found it.
#[derive(Debug, Clone)]
pub struct ClusterSeen<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub name: &'a str,
    pub tags: &'a BTreeMap<String, String>,
    pub within_pattern: bool,
    /// What it runs, or why that could not be read.
    pub running: Result<Running, String>,
    /// Pieces not read (NodePools out of reach), with why.
    pub note: String,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageRow {
    pub account: String,
    pub region: String,
    pub cluster: String,
    pub coverage: Coverage,
    /// The schedule tag, `auto-stop=true`, or why the schedule cannot be read.
    pub schedule: String,
    pub non_production: bool,
    /// What it runs now, like `3 m5.large on-demand`; empty when it could not be read.
    pub capacity: String,
    pub instances: Option<u32>,
    pub usd_an_hour: Option<f64>,
    /// Off in the 7 days before the report, from the ledger (and a stop still under way).
    pub hours_off_last_week: f64,
    /// For an unscheduled non-production cluster: the suggested schedule's hours off a month,
    pub suggested_hours_off_a_month: Option<f64>,
    /// and what they would save at its running price.
    pub suggested_usd_a_month: Option<f64>,
    pub note: String,
}

/// The CSV's columns, in order.
pub const COVERAGE_COLUMNS: [&str; 14] = [
    "account",
    "region",
    "cluster",
    "coverage",
    "schedule",
    "non_production",
    "capacity",
    "instances",
    "usd_an_hour",
    "hours_off_last_week",
    "suggested_hours_off_a_month",
    "suggested_usd_a_month",
    "note",
    "prices",
];

/// Hours a cluster was off between `from` and `to`, from its ledger lines: each settled off
/// period (a start's line, from its `off_since`), and the one still under way when the
/// cluster's last action was a stop (its stop line with no start yet).
pub fn hours_off(lines: &[LedgerLine], site: (&str, &str, &str), off_now: bool, from: Timestamp, to: Timestamp) -> f64 {
    let own: Vec<&LedgerLine> =
        lines.iter().filter(|l| (l.account.as_str(), l.region.as_str(), l.cluster.as_str()) == site).collect();
    let mut periods: BTreeMap<Timestamp, Timestamp> =
        own.iter().filter(|l| l.action == Action::Start.as_str()).map(|l| (l.off_since, l.date)).collect();
    if off_now
        && let Some(open) = own
            .iter()
            .filter(|l| l.action == Action::Stop.as_str())
            .map(|l| l.off_since)
            .filter(|s| !periods.contains_key(s))
            .max()
    {
        periods.insert(open, to);
    }
    let seconds: f64 = periods
        .into_iter()
        .map(|(since, until)| (since.max(from), until.min(to)))
        .filter(|(since, until)| since < until)
        .map(|(since, until)| until.duration_since(since).as_secs_f64())
        .sum();
    round(seconds / 3600.0, 2)
}

/// The report's line for one cluster. `ledger`: the lines of its account's last two months.
pub fn coverage_row(
    settings: &CoverageSettings<'_>,
    seen: &ClusterSeen<'_>,
    ledger: &[LedgerLine],
    now: Timestamp,
) -> CoverageRow {
    let (coverage, schedule) = coverage_of(&settings.selection, seen.tags, seen.within_pattern);
    let non_production = settings.non_production.is_some_and(|n| n.marks(seen.tags));
    let off_now = seen
        .tags
        .get(LAST_ACTION_TAG)
        .and_then(|value| LastAction::parse(value).ok())
        .is_some_and(|last| last.action == Action::Stop);
    let week_ago = now - SignedDuration::from_hours(7 * 24);
    let hours_off_last_week = hours_off(ledger, (seen.account, seen.region, seen.name), off_now, week_ago, now);
    let mut notes: Vec<String> = Vec::new();
    if !seen.note.is_empty() {
        notes.push(seen.note.clone());
    }
    let (capacity, instances, usd_an_hour) = match &seen.running {
        Ok(running) => {
            if !running.unpriced.is_empty() {
                notes.push(format!("price unknown for {}", running.unpriced.join("; ")));
            }
            (running.capacity.clone(), Some(running.instances), running.usd_an_hour.map(|usd| round(usd, 4)))
        }
        Err(why) => {
            notes.push(format!("capacity not read: {why}"));
            (String::new(), None, None)
        }
    };
    let suggest = coverage == Coverage::Unscheduled && non_production;
    let suggested_hours = suggest.then(|| {
        let share = settings.suggested.off_share(now, now + SignedDuration::from_hours(SUGGESTION_DAYS * 24));
        share * HOURS_A_MONTH
    });
    let suggested_usd = match (suggested_hours, usd_an_hour) {
        (Some(hours), Some(usd)) => Some(round(hours * usd, 2)),
        _ => None,
    };
    let suggested_hours = suggested_hours.map(|hours| round(hours, 1));
    if suggest {
        notes.push(format!("unscheduled non-production: {} would stop it", settings.suggested_text));
    }
    CoverageRow {
        account: seen.account.to_owned(),
        region: seen.region.to_owned(),
        cluster: seen.name.to_owned(),
        coverage,
        schedule,
        non_production,
        capacity,
        instances,
        usd_an_hour,
        hours_off_last_week,
        suggested_hours_off_a_month: suggested_hours,
        suggested_usd_a_month: suggested_usd,
        note: notes.join("; "),
    }
}

fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    // + 0.0: an empty sum is -0.0, which a report would print as such.
    (value * scale).round() / scale + 0.0
}

/// The report's totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CoverageTotals {
    pub clusters: usize,
    pub scheduled: usize,
    pub unscheduled: usize,
    /// Unscheduled and tagged non-production: the candidates.
    pub candidates: usize,
    pub instances_running: u32,
    /// Instances running in clusters no schedule covers.
    pub instances_unscheduled: u32,
    pub hours_off_last_week: f64,
    /// What the suggested schedule would save a month on the candidates that could be priced.
    pub suggested_usd_a_month: f64,
    /// Clusters whose capacity could not be read.
    pub unread: usize,
}

/// The result of a `report` run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageReport {
    pub action: &'static str,
    pub generated_at: Timestamp,
    pub suggested_schedule: String,
    pub clusters: Vec<CoverageRow>,
    pub totals: CoverageTotals,
    /// Where the CSV and the calendar were written (`s3://...`).
    pub csv: String,
    pub calendar: String,
    pub label: &'static str,
    /// A run across accounts or regions: every account and region, with what it found there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<SiteReport>,
    pub api_calls: u64,
    /// The report in a sentence, for people reading the result.
    pub summary: String,
}

impl CoverageReport {
    pub fn new(generated_at: Timestamp, suggested_schedule: &str, mut clusters: Vec<CoverageRow>) -> Self {
        clusters.sort_by(|a, b| (&a.account, &a.region, &a.cluster).cmp(&(&b.account, &b.region, &b.cluster)));
        let totals = CoverageTotals {
            clusters: clusters.len(),
            scheduled: clusters.iter().filter(|c| c.coverage.is_scheduled()).count(),
            unscheduled: clusters.iter().filter(|c| !c.coverage.is_scheduled()).count(),
            candidates: clusters.iter().filter(|c| c.suggested_hours_off_a_month.is_some()).count(),
            instances_running: clusters.iter().filter_map(|c| c.instances).sum(),
            instances_unscheduled: clusters
                .iter()
                .filter(|c| !c.coverage.is_scheduled())
                .filter_map(|c| c.instances)
                .sum(),
            hours_off_last_week: round(clusters.iter().map(|c| c.hours_off_last_week).sum(), 2),
            suggested_usd_a_month: round(clusters.iter().filter_map(|c| c.suggested_usd_a_month).sum(), 2),
            unread: clusters.iter().filter(|c| c.instances.is_none() && c.coverage != Coverage::OutsidePattern).count(),
        };
        let mut report = Self {
            action: "report",
            generated_at,
            suggested_schedule: suggested_schedule.to_owned(),
            clusters,
            totals,
            csv: String::new(),
            calendar: String::new(),
            label: PRICE_LABEL,
            sites: Vec::new(),
            api_calls: 0,
            summary: String::new(),
        };
        report.summary = report.text();
        report
    }

    fn text(&self) -> String {
        let t = &self.totals;
        let mut text = format!(
            "{} clusters, {} scheduled, {} unscheduled; {} instances running, {} of them unscheduled; {:.1} hours off last week",
            t.clusters, t.scheduled, t.unscheduled, t.instances_running, t.instances_unscheduled, t.hours_off_last_week
        );
        if t.candidates > 0 {
            text.push_str(&format!(
                "; unscheduled non-production clusters: {}, which {} would save about ${:.2} a month",
                t.candidates, self.suggested_schedule, t.suggested_usd_a_month
            ));
        }
        text
    }

    /// The report as CSV, one line per cluster.
    pub fn csv_text(&self) -> Result<String, String> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(COVERAGE_COLUMNS).map_err(|err| err.to_string())?;
        let number = |value: Option<f64>| value.map(|v| v.to_string()).unwrap_or_default();
        for row in &self.clusters {
            let coverage = serde_json::to_value(row.coverage).ok().and_then(|v| v.as_str().map(str::to_owned));
            writer
                .write_record([
                    row.account.clone(),
                    row.region.clone(),
                    row.cluster.clone(),
                    coverage.unwrap_or_default(),
                    row.schedule.clone(),
                    row.non_production.to_string(),
                    row.capacity.clone(),
                    row.instances.map(|n| n.to_string()).unwrap_or_default(),
                    number(row.usd_an_hour),
                    row.hours_off_last_week.to_string(),
                    number(row.suggested_hours_off_a_month),
                    number(row.suggested_usd_a_month),
                    row.note.clone(),
                    PRICE_LABEL.to_owned(),
                ])
                .map_err(|err| err.to_string())?;
        }
        String::from_utf8(writer.into_inner().map_err(|err| err.to_string())?).map_err(|err| err.to_string())
    }

    /// Why the run fails: clusters whose capacity could not be read, and sites not reached.
    pub fn failure_summary(&self) -> Option<String> {
        let mut failures: Vec<String> = self
            .clusters
            .iter()
            .filter(|c| c.instances.is_none() && c.coverage != Coverage::OutsidePattern)
            .map(|c| format!("{}/{}/{}: {}", c.account, c.region, c.cluster, c.note))
            .collect();
        failures.extend(
            self.sites
                .iter()
                .filter(|s| s.status == shared::accounts::AccountStatus::Failed)
                .map(|s| format!("account {} {}: {}", s.account_id, s.region, s.reason).replace("  ", " ")),
        );
        (!failures.is_empty()).then(|| format!("the coverage report is incomplete: {}", failures.join(" | ")))
    }

    /// Its one announcement: the totals, where the files are, and the largest candidates.
    pub fn announcement(&self, request_id: &str) -> Announcement {
        let mut candidates: Vec<&CoverageRow> =
            self.clusters.iter().filter(|c| c.suggested_hours_off_a_month.is_some()).collect();
        candidates
            .sort_by(|a, b| b.suggested_usd_a_month.unwrap_or(0.0).total_cmp(&a.suggested_usd_a_month.unwrap_or(0.0)));
        let named: Vec<_> = candidates
            .iter()
            .take(ANNOUNCED_CANDIDATES)
            .map(|c| {
                json!({
                    "account": c.account, "region": c.region, "cluster": c.cluster, "capacity": c.capacity,
                    "suggested_usd_a_month": c.suggested_usd_a_month,
                })
            })
            .collect();
        let failure = self.failure_summary();
        let status = if failure.is_some() { Status::Failed } else { Status::Unchanged };
        let detail_type = "EKS Scheduler Coverage Report".to_owned();
        Announcement {
            subject: format!(
                "{detail_type}: {} of {} clusters unscheduled, {} candidates",
                self.totals.unscheduled, self.totals.clusters, self.totals.candidates
            ),
            detail_type,
            cluster: "all".to_owned(),
            action: None,
            status,
            detail: json!({
                "status": if failure.is_some() { "failed" } else { "ok" },
                "summary": self.summary,
                "totals": self.totals,
                "candidates": named,
                "csv": self.csv,
                "calendar": self.calendar,
                "suggested_schedule": self.suggested_schedule,
                "failure": failure,
                "label": PRICE_LABEL,
                "run_action": "report",
                "request_id": request_id,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a time")
    }

    fn line(action: Action, off_since: &str, date: &str) -> LedgerLine {
        LedgerLine {
            date: at(date),
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            cluster: "dev".into(),
            action: action.as_str().into(),
            capacity: "2 m5.large on-demand".into(),
            usd_an_hour: Some(0.192),
            off_since: at(off_since),
            hours_off: None,
            instance_hours_off: None,
            usd_saved: None,
            prices: String::new(),
        }
    }

    const SITE: (&str, &str, &str) = ("111122223333", "eu-west-1", "dev");

    #[test]
    fn hours_off_counts_settled_periods_inside_the_week_and_the_one_under_way() {
        let (from, to) = (at("2026-11-29T00:00:00Z"), at("2026-12-06T00:00:00Z"));
        let lines = [
            // Off from before the week began: only its part inside counts (6 h).
            line(Action::Stop, "2026-11-28T18:00:00Z", "2026-11-28T18:00:00Z"),
            line(Action::Start, "2026-11-28T18:00:00Z", "2026-11-29T06:00:00Z"),
            // Off 12 h inside the week, its stop line and a retried start line.
            line(Action::Stop, "2026-12-01T19:00:00Z", "2026-12-01T19:00:00Z"),
            line(Action::Start, "2026-12-01T19:00:00Z", "2026-12-02T07:00:00Z"),
            // Stopped 5 h before the report, not started yet.
            line(Action::Stop, "2026-12-05T19:00:00Z", "2026-12-05T19:00:00Z"),
        ];
        assert_eq!(hours_off(&lines, SITE, true, from, to), 6.0 + 12.0 + 5.0);
        // Started by hand since (its last action is not a stop): the open period is not counted.
        assert_eq!(hours_off(&lines, SITE, false, from, to), 18.0);
        let none = hours_off(&lines, ("111122223333", "eu-west-1", "other"), true, from, to);
        assert_eq!((none, none.is_sign_positive()), (0.0, true), "not -0.0");
    }

    #[test]
    fn a_weekday_schedule_is_off_108_hours_of_168() {
        let schedule = Schedule::parse("off=mon-fri@19:00 on=mon-fri@07:00", "UTC").expect("valid");
        // A Sunday: the Friday stop still holds.
        let from = at("2026-12-06T10:00:00Z");
        let share = schedule.off_share(from, from + SignedDuration::from_hours(28 * 24));
        assert!((share - 108.0 / 168.0).abs() < 1e-9, "{share}");
        let daily = Schedule::parse("off=daily@20:00 on=daily@08:00", "UTC").expect("valid");
        assert!((daily.off_share(from, from + SignedDuration::from_hours(24 * 7)) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn rows_say_what_covers_each_cluster_and_price_a_suggestion_only_for_non_production() {
        let selection = Selection {
            stop_tag: "auto-stop",
            start_tag: "auto-start",
            schedule_tag: "eks-scheduler/schedule",
            default_timezone: "UTC",
        };
        let non_production = NonProduction::parse("environment=dev,test").expect("valid");
        let suggested = Schedule::parse(DEFAULT_SUGGESTED_SCHEDULE, "UTC").expect("valid");
        let settings = CoverageSettings {
            selection,
            non_production: Some(&non_production),
            suggested: &suggested,
            suggested_text: DEFAULT_SUGGESTED_SCHEDULE,
        };
        let running = Running {
            capacity: "2 m5.large on-demand".into(),
            instances: 2,
            usd_an_hour: Some(0.192),
            unpriced: vec![],
        };
        let row = |tags: &[(&str, &str)], within_pattern: bool, running: Result<Running, String>| {
            let tags: BTreeMap<String, String> = tags.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
            let seen = ClusterSeen {
                account: SITE.0,
                region: SITE.1,
                name: SITE.2,
                tags: &tags,
                within_pattern,
                running,
                note: String::new(),
            };
            coverage_row(&settings, &seen, &[], at("2026-12-06T10:00:00Z"))
        };
        let dev = row(&[("environment", "Dev")], true, Ok(running.clone()));
        assert_eq!((dev.coverage, dev.non_production), (Coverage::Unscheduled, true));
        // 108 of 168 hours off, over the 730 hours of a month, at $0.192 an hour.
        assert_eq!(dev.suggested_hours_off_a_month, Some(469.3));
        assert_eq!(dev.suggested_usd_a_month, Some(90.1));
        let prod = row(&[("environment", "production")], true, Ok(running.clone()));
        assert_eq!((prod.coverage, prod.suggested_usd_a_month), (Coverage::Unscheduled, None));
        let scheduled =
            row(&[("eks-scheduler/schedule", "off=daily@20:00"), ("environment", "dev")], true, Ok(running.clone()));
        assert_eq!((scheduled.coverage, scheduled.suggested_usd_a_month), (Coverage::Schedule, None));
        let invalid = row(&[("eks-scheduler/schedule", "off=never")], true, Ok(running.clone()));
        assert_eq!(invalid.coverage, Coverage::InvalidSchedule);
        assert!(invalid.schedule.starts_with("eks-scheduler/schedule: "), "{}", invalid.schedule);
        let tagged = row(&[("auto-stop", "TRUE")], true, Ok(running.clone()));
        assert_eq!((tagged.coverage, tagged.schedule.as_str()), (Coverage::StopTag, "auto-stop=true"));
        let outside = row(&[], false, Err("not read".into()));
        assert_eq!((outside.coverage, outside.instances), (Coverage::OutsidePattern, None));
        let unread = row(&[("environment", "dev")], true, Err("AccessDenied".into()));
        assert_eq!((unread.suggested_hours_off_a_month, unread.suggested_usd_a_month), (Some(469.3), None));
        assert!(unread.note.contains("capacity not read: AccessDenied"), "{}", unread.note);

        let report = CoverageReport::new(
            at("2026-12-06T10:00:00Z"),
            DEFAULT_SUGGESTED_SCHEDULE,
            vec![dev, prod, scheduled, outside, unread],
        );
        assert_eq!((report.totals.clusters, report.totals.scheduled, report.totals.candidates), (5, 1, 2));
        assert_eq!((report.totals.instances_running, report.totals.instances_unscheduled), (6, 4));
        assert_eq!(report.totals.suggested_usd_a_month, 90.1);
        let failure = report.failure_summary().expect("an unread cluster fails the report");
        assert!(failure.contains("capacity not read: AccessDenied") && !failure.contains("not read;"), "{failure}");
        let csv = report.csv_text().expect("written");
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(reader.headers().expect("a header").iter().collect::<Vec<_>>(), COVERAGE_COLUMNS);
        assert!(reader.records().all(|r| r.is_ok_and(|r| r.len() == COVERAGE_COLUMNS.len())), "{csv}");
        let announcement = report.announcement("req-1");
        assert_eq!(announcement.status, Status::Failed);
        assert_eq!(announcement.detail["candidates"][0]["suggested_usd_a_month"], 90.1);
        assert!(announcement.subject.len() <= 100);
    }
}

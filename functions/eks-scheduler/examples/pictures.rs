//! What the docs draw of the EKS scheduler (`make pictures`, scripts/pictures.py), decided by
//! the function's own code so that the pictures cannot drift from it: a week of a schedule
//! tag, as `Schedule::last_transition` reads it every 15 minutes, and the start waves of a
//! set of dependent clusters, as `plan_waves` orders them. Prints one JSON document.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use eks_scheduler::core::{Schedule, parse_dependencies, plan_waves};
use jiff::Span;
use jiff::civil::date;
use jiff::tz::TimeZone;

/// An office-hours schedule with an early Friday and two days off for Christmas.
const TAG: &str = "on=mon-fri@07:00 off=mon-thu@19:00 off=fri@16:00 tz=Europe/Paris skip=2026-12-24+2026-12-25";
/// Clusters and their `dependency` tags.
const CLUSTERS: [(&str, &str); 6] = [
    ("data", ""),
    ("auth", "data"),
    ("api", "data auth"),
    ("search", "data"),
    ("web", "api search"),
    ("batch", "data"),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schedule = Schedule::parse(TAG, "UTC")?;
    let zone = TimeZone::get("Europe/Paris")?;
    let monday = date(2026, 12, 21).at(0, 0, 0, 0).to_zoned(zone)?.timestamp();
    let mut slots = Vec::new();
    for quarter in 0..7 * 96 {
        let now = monday.checked_add(Span::new().minutes(15 * quarter))?;
        let state = schedule.last_transition(now).map(|transition| transition.action.as_str());
        slots.push(state);
    }
    let dependencies: BTreeMap<String, Vec<String>> =
        CLUSTERS.iter().map(|(name, needs)| ((*name).to_owned(), parse_dependencies(needs))).collect();
    let clusters: BTreeSet<String> = dependencies.keys().cloned().collect();
    let plan = plan_waves(&clusters, &dependencies, &clusters);
    let document = serde_json::json!({
        "tag": TAG,
        "week_from": "2026-12-21 (Monday), Europe/Paris",
        "minutes_per_slot": 15,
        "slots": slots,
        "dependencies": dependencies,
        "start_waves": plan.waves,
        "blocked": plan.blocked,
    });
    writeln!(std::io::stdout().lock(), "{document}")?;
    Ok(())
}

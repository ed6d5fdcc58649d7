//! What a stop saves, in dollars: the machines a cluster ran when it was stopped (its
//! `StopRecord`, written before anything is scaled), their hourly prices, and the ledger's
//! lines and monthly summary.
//!
//! An estimate, and labelled as one: instance-hours off times each instance type's hourly
//! price in the cluster's region (the list price, a spot price, or the operator's own rate);
//! EBS volumes, data transfer and the control plane are not counted. A price that cannot be
//! had is "unknown", never guessed: its instance-hours are reported without dollars.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Action, Kind};

/// What every figure in dollars carries with it.
pub const PRICE_LABEL: &str = "list price, excludes EBS and data transfer";
/// How `PRICE_OVERRIDES` is written.
pub const OVERRIDES_FORM: &str =
    r#"a JSON object of instance type to USD an hour, like {"m5.large": 0.07, "m5.large/spot": 0.03}"#;

/// How an instance is bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Market {
    OnDemand,
    Spot,
}

impl Market {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnDemand => "on-demand",
            Self::Spot => "spot",
        }
    }
}

/// Some instances of one type bought one way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machines {
    pub instance_type: String,
    pub market: Market,
    pub count: u32,
}

/// The machines one piece of a cluster's capacity runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningPiece {
    pub kind: Kind,
    pub name: String,
    pub machines: Vec<Machines>,
}

impl RunningPiece {
    pub fn count(&self) -> u32 {
        self.machines.iter().map(|m| m.count).sum()
    }
}

/// The type EKS launches a managed nodegroup with when its launch template names none.
pub const UNKNOWN_TYPE: &str = "unknown";

/// A managed nodegroup's machines: `desired` instances of its first instance type (EKS's
/// on-demand allocation is `prioritized`, so the first type is the one launched; a spot
/// nodegroup's types are priced by the first too), spot when its capacity type is `SPOT`.
pub fn managed_machines(instance_types: &[String], capacity_type: Option<&str>, desired: i32) -> Vec<Machines> {
    let count = u32::try_from(desired).unwrap_or(0);
    if count == 0 {
        return Vec::new();
    }
    let market = if capacity_type == Some("SPOT") { Market::Spot } else { Market::OnDemand };
    let instance_type = instance_types.first().cloned().unwrap_or_else(|| UNKNOWN_TYPE.to_owned());
    vec![Machines { instance_type, market, count }]
}

/// How a group with a mixed instances policy splits its capacity (`InstancesDistribution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Distribution {
    pub on_demand_base: u32,
    /// `OnDemandPercentageAboveBaseCapacity`, 0 to 100.
    pub on_demand_percent_above_base: u32,
}

/// A self-managed group's machines, from the types of its in-service instances. Without a
/// mixed instances policy they are on-demand; with one, the group's distribution is applied
/// to them in type order (Auto Scaling reports no instance's market): the base, then the
/// percentage above it (rounded up, as Auto Scaling rounds the on-demand share).
pub fn group_machines(instance_types: &[String], distribution: Option<Distribution>) -> Vec<Machines> {
    let mut types: Vec<&String> = instance_types.iter().collect();
    types.sort();
    let total = u32::try_from(types.len()).unwrap_or(u32::MAX);
    let on_demand = match distribution {
        None => total,
        Some(d) => {
            let base = d.on_demand_base.min(total);
            let above = total - base;
            base + (above * d.on_demand_percent_above_base.min(100)).div_ceil(100)
        }
    };
    let mut machines: Vec<Machines> = Vec::new();
    for (index, instance_type) in types.into_iter().enumerate() {
        let market = if u32::try_from(index).unwrap_or(u32::MAX) < on_demand { Market::OnDemand } else { Market::Spot };
        add_machine(&mut machines, instance_type, market);
    }
    machines
}

/// A NodePool's machines, from its NodeClaims' `node.kubernetes.io/instance-type` and
/// `karpenter.sh/capacity-type` labels (a claim not yet launched has neither: `unknown`).
pub fn nodepool_machines(claims: &[(Option<String>, Option<String>)]) -> Vec<Machines> {
    let mut machines = Vec::new();
    for (instance_type, capacity_type) in claims {
        let market = if capacity_type.as_deref() == Some("spot") { Market::Spot } else { Market::OnDemand };
        add_machine(&mut machines, instance_type.as_deref().unwrap_or(UNKNOWN_TYPE), market);
    }
    machines
}

fn add_machine(machines: &mut Vec<Machines>, instance_type: &str, market: Market) {
    match machines.iter_mut().find(|m| m.instance_type == instance_type && m.market == market) {
        Some(m) => m.count += 1,
        None => machines.push(Machines { instance_type: instance_type.to_owned(), market, count: 1 }),
    }
}

/// What a cluster ran when it was stopped, and since when: written before its stop scales
/// anything, read and removed by the start that settles it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopRecord {
    /// The cluster's key in the run (`<account>/<region>/<name>` across accounts).
    pub cluster: String,
    pub account: String,
    pub region: String,
    pub stopped_at: Timestamp,
    pub pieces: Vec<RunningPiece>,
}

impl StopRecord {
    pub fn count(&self) -> u32 {
        self.pieces.iter().map(RunningPiece::count).sum()
    }

    /// `3 m5.large on-demand + 2 m5.xlarge spot`, machines of the same type and market added up.
    pub fn capacity_text(&self) -> String {
        let mut totals: BTreeMap<(&str, Market), u32> = BTreeMap::new();
        for machine in self.pieces.iter().flat_map(|p| &p.machines) {
            *totals.entry((&machine.instance_type, machine.market)).or_default() += machine.count;
        }
        if totals.is_empty() {
            return "no instances".to_owned();
        }
        totals
            .iter()
            .map(|((instance_type, market), count)| format!("{count} {instance_type} {}", market.as_str()))
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

/// The record a stop writes, given the one already stored and the cluster's `last-action` tag;
/// `None` when there is nothing to record.
/// - Nothing runs now: the stored record stands (Lambda's retry of a stop that completed).
/// - The last action was a completed stop, yet machines run: the cluster was started by
///   hand since, and the stored record is stale.
/// - A record from before the last start is stale too (that off period was settled).
/// - Otherwise the stored record is this stop's own, from an attempt that failed part way: it
///   keeps its time, and each piece keeps the larger of the machines recorded then and now
///   (a piece already scaled to zero reads as nothing now).
pub fn merge_stop_record(
    stored: Option<StopRecord>,
    now: StopRecord,
    last: Option<&super::LastAction>,
) -> Option<StopRecord> {
    if now.count() == 0 {
        return stored;
    }
    let current = |s: &StopRecord| match last {
        None => true,
        Some(last) => last.action == Action::Start && s.stopped_at > last.at,
    };
    let Some(stored) = stored.filter(current) else {
        return Some(now);
    };
    let mut pieces = stored.pieces;
    for piece in now.pieces {
        match pieces.iter_mut().find(|p| p.kind == piece.kind && p.name == piece.name) {
            Some(kept) if kept.count() >= piece.count() => {}
            Some(kept) => *kept = piece,
            None => pieces.push(piece),
        }
    }
    Some(StopRecord { pieces, ..stored })
}

/// Where a price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PriceBasis {
    /// `PRICE_OVERRIDES`: the operator's own rate.
    Override,
    /// The Price List API's on-demand price (Linux, shared tenancy).
    ListPrice,
    /// The current spot price, averaged over the region's zones.
    SpotPrice,
}

/// A price in USD an hour, or why there is none.
pub type Quote = Result<(f64, PriceBasis), String>;

/// `PRICE_OVERRIDES`: instance type (or `<type>/spot`) to USD an hour.
pub fn parse_price_overrides(text: &str) -> Result<BTreeMap<(String, Market), f64>, String> {
    let object: BTreeMap<String, Value> = serde_json::from_str(text).map_err(|err| err.to_string())?;
    object
        .into_iter()
        .map(|(key, value)| {
            let usd = value
                .as_f64()
                .filter(|usd| usd.is_finite() && *usd >= 0.0)
                .ok_or_else(|| format!("{key}: {value} is not a number of dollars"))?;
            let (instance_type, market) = match key.strip_suffix("/spot") {
                Some(instance_type) => (instance_type.to_owned(), Market::Spot),
                None => (key.clone(), Market::OnDemand),
            };
            if instance_type.is_empty() || !instance_type.contains('.') {
                return Err(format!("{key:?} is not an instance type, like m5.large"));
            }
            Ok(((instance_type, market), usd))
        })
        .collect()
}

/// The on-demand hourly price in a Price List API `GetProducts` answer: each entry of its
/// `PriceList` is a product as a JSON string, its price in
/// `terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit.USD`, per `Hrs`.
pub fn on_demand_price(price_list: &[String], instance_type: &str) -> Result<f64, String> {
    let mut prices = Vec::new();
    for entry in price_list {
        let product: Value =
            serde_json::from_str(entry).map_err(|err| format!("a PriceList entry that is not JSON: {err}"))?;
        if product["product"]["attributes"]["instanceType"].as_str().is_some_and(|t| t != instance_type) {
            continue;
        }
        let Some(offers) = product["terms"]["OnDemand"].as_object() else { continue };
        for dimension in
            offers.values().filter_map(|offer| offer["priceDimensions"].as_object()).flat_map(|d| d.values())
        {
            if dimension["unit"].as_str().is_some_and(|unit| unit != "Hrs") {
                continue;
            }
            if let Some(usd) = dimension["pricePerUnit"]["USD"].as_str().and_then(|usd| usd.parse::<f64>().ok()) {
                prices.push(usd);
            }
        }
    }
    // A product with no capacity reservation is priced above zero; a zero is an unused reservation's line.
    prices
        .into_iter()
        .filter(|usd| *usd > 0.0)
        .reduce(f64::min)
        .ok_or_else(|| format!("the Price List API has no Linux on-demand price for {instance_type} in this region"))
}

/// The mean of the spot prices of a type's zones, as `DescribeSpotPriceHistory` answers them.
pub fn mean_spot_price(prices: &[f64]) -> Option<f64> {
    let prices: Vec<f64> = prices.iter().copied().filter(|p| p.is_finite() && *p > 0.0).collect();
    (!prices.is_empty()).then(|| prices.iter().sum::<f64>() / prices.len() as f64)
}

/// A record's machines priced: USD an hour for those with a price, and the types without one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Priced {
    pub usd_an_hour: f64,
    /// Instances whose type has no price, with why.
    pub unpriced: Vec<String>,
    pub bases: Vec<PriceBasis>,
}

pub fn price_record(record: &StopRecord, quote: &dyn Fn(&str, Market) -> Quote) -> Priced {
    let mut priced = Priced { usd_an_hour: 0.0, unpriced: Vec::new(), bases: Vec::new() };
    for machine in record.pieces.iter().flat_map(|p| &p.machines) {
        match quote(&machine.instance_type, machine.market) {
            Ok((usd, basis)) => {
                priced.usd_an_hour += usd * f64::from(machine.count);
                if !priced.bases.contains(&basis) {
                    priced.bases.push(basis);
                }
            }
            Err(why) => {
                let text = format!("{} {} {}: {why}", machine.count, machine.instance_type, machine.market.as_str());
                priced.unpriced.push(text);
            }
        }
    }
    priced.bases.sort();
    priced
}

/// What one stop and start saved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Saving {
    pub stopped_at: Timestamp,
    pub hours_off: f64,
    pub instance_hours_off: f64,
    /// The estimate for the priced instances; `None` when none could be priced.
    pub usd: Option<f64>,
    pub priced: Priced,
}

/// A time to the whole second, as the ledger and the records write it.
pub fn to_second(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).unwrap_or(at)
}

pub fn saving(record: &StopRecord, started_at: Timestamp, priced: Priced) -> Saving {
    let seconds = started_at.duration_since(record.stopped_at).as_secs_f64().max(0.0);
    let hours_off = seconds / 3600.0;
    let instance_hours_off = hours_off * f64::from(record.count());
    let any_priced = !priced.bases.is_empty();
    Saving {
        stopped_at: record.stopped_at,
        hours_off,
        instance_hours_off,
        usd: any_priced.then_some(priced.usd_an_hour * hours_off),
        priced,
    }
}

/// What a cluster's report and announcement say of money.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavingsReport {
    /// What was stopped, like `3 m5.large on-demand + 2 m5.xlarge spot`.
    pub capacity: String,
    /// On stop: what it costs an hour while it runs, so what stopping it saves an hour.
    pub usd_an_hour: Option<f64>,
    /// On start: the off period settled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saving: Option<Saving>,
    /// Why there is no saving, or which prices are unknown.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
    pub label: &'static str,
    /// All of it in a sentence ([`SavingsReport::text`]), for people reading the result.
    pub summary: String,
    /// The ledger's line for this action, written at the end of the run.
    #[serde(skip)]
    pub ledger_line: Option<LedgerLine>,
    /// A start's stop record, removed once its line is in the ledger.
    #[serde(skip)]
    pub settles: Option<StopRecord>,
}

impl SavingsReport {
    /// A stop's: what the capacity it took down costs an hour.
    pub fn of_stop(record: &StopRecord, name: &str, priced: &Priced) -> Self {
        Self {
            capacity: record.capacity_text(),
            usd_an_hour: (!priced.bases.is_empty()).then_some(round_cents(priced.usd_an_hour, 4)),
            saving: None,
            note: unpriced_note(priced),
            label: PRICE_LABEL,
            summary: String::new(),
            ledger_line: Some(LedgerLine::of_stop(record, name, priced)),
            settles: None,
        }
        .summarized()
    }

    /// A start's: what the off period it ends saved.
    pub fn of_start(record: StopRecord, name: &str, started_at: Timestamp, priced: Priced) -> Self {
        let note = unpriced_note(&priced);
        let saving = saving(&record, started_at, priced);
        Self {
            capacity: record.capacity_text(),
            usd_an_hour: (!saving.priced.bases.is_empty()).then_some(round_cents(saving.priced.usd_an_hour, 4)),
            ledger_line: Some(LedgerLine::of_start(&record, name, started_at, &saving)),
            saving: Some(saving),
            note,
            label: PRICE_LABEL,
            summary: String::new(),
            settles: Some(record),
        }
        .summarized()
    }

    fn summarized(mut self) -> Self {
        self.summary = self.text();
        self
    }

    pub fn text(&self) -> String {
        let mut text = match (&self.saving, self.usd_an_hour) {
            (Some(saving), _) => match saving.usd {
                Some(usd) => format!(
                    "saved about ${usd:.2} ({:.1} instance-hours of {} over {:.1} hours off)",
                    saving.instance_hours_off, self.capacity, saving.hours_off
                ),
                None => format!(
                    "{:.1} instance-hours off ({} over {:.1} hours), price unknown",
                    saving.instance_hours_off, self.capacity, saving.hours_off
                ),
            },
            (None, Some(usd)) => format!("saves about ${usd:.2} an hour while stopped ({})", self.capacity),
            (None, None) => format!("{} stopped, price unknown", self.capacity),
        };
        if !self.note.is_empty() {
            text.push_str("; ");
            text.push_str(&self.note);
        }
        format!("{text} [{}]", self.label)
    }
}

/// One action in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerLine {
    pub date: Timestamp,
    pub account: String,
    pub region: String,
    pub cluster: String,
    pub action: String,
    pub capacity: String,
    /// The stop: the USD an hour the capacity costs while running.
    pub usd_an_hour: Option<f64>,
    /// Identifies the off period: the stop's time, on both its lines.
    pub off_since: Timestamp,
    pub hours_off: Option<f64>,
    pub instance_hours_off: Option<f64>,
    pub usd_saved: Option<f64>,
    pub prices: String,
}

impl LedgerLine {
    /// A stop's line: what was stopped and what it costs an hour.
    pub fn of_stop(record: &StopRecord, name: &str, priced: &Priced) -> Self {
        Self {
            date: record.stopped_at,
            account: record.account.clone(),
            region: record.region.clone(),
            cluster: name.to_owned(),
            action: Action::Stop.as_str().to_owned(),
            capacity: record.capacity_text(),
            usd_an_hour: (!priced.bases.is_empty()).then_some(round_cents(priced.usd_an_hour, 4)),
            off_since: record.stopped_at,
            hours_off: None,
            instance_hours_off: None,
            usd_saved: None,
            prices: prices_text(priced),
        }
    }

    /// A start's line: the off period it ends, and what it saved.
    pub fn of_start(record: &StopRecord, name: &str, started_at: Timestamp, saving: &Saving) -> Self {
        Self {
            date: to_second(started_at),
            account: record.account.clone(),
            region: record.region.clone(),
            cluster: name.to_owned(),
            action: Action::Start.as_str().to_owned(),
            capacity: record.capacity_text(),
            usd_an_hour: (!saving.priced.bases.is_empty()).then_some(round_cents(saving.priced.usd_an_hour, 4)),
            off_since: record.stopped_at,
            hours_off: Some(round_cents(saving.hours_off, 2)),
            instance_hours_off: Some(round_cents(saving.instance_hours_off, 2)),
            usd_saved: saving.usd.map(|usd| round_cents(usd, 2)),
            prices: prices_text(&saving.priced),
        }
    }

    fn identity(&self) -> (String, String, String, String, Timestamp) {
        (self.account.clone(), self.region.clone(), self.cluster.clone(), self.action.clone(), self.off_since)
    }

    /// The month file it belongs in: `<account>/<yyyy-mm>`.
    pub fn month(&self) -> String {
        self.date.strftime("%Y-%m").to_string()
    }
}

fn unpriced_note(priced: &Priced) -> String {
    if priced.unpriced.is_empty() { String::new() } else { format!("price unknown for {}", priced.unpriced.join(", ")) }
}

fn round_cents(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

fn prices_text(priced: &Priced) -> String {
    let mut parts: Vec<String> = priced
        .bases
        .iter()
        .map(|basis| match basis {
            PriceBasis::Override => "PRICE_OVERRIDES".to_owned(),
            PriceBasis::ListPrice => PRICE_LABEL.to_owned(),
            PriceBasis::SpotPrice => "spot price".to_owned(),
        })
        .collect();
    parts.extend(priced.unpriced.iter().map(|why| format!("unknown for {why}")));
    parts.join("; ")
}

pub const LEDGER_COLUMNS: [&str; 12] = [
    "date",
    "account",
    "region",
    "cluster",
    "action",
    "capacity",
    "usd_an_hour",
    "off_since",
    "hours_off",
    "instance_hours_off",
    "usd_saved",
    "prices",
];

/// Reads a month's ledger file.
pub fn parse_ledger(text: &str) -> Result<Vec<LedgerLine>, String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader.deserialize().map(|line| line.map_err(|err| format!("the ledger file is not as written: {err}"))).collect()
}

/// A month's ledger with `lines` added: a line for an action already there (Lambda's retry
/// of a run, an overlapping run) replaces it, so each off period has one line per action.
pub fn append_ledger(existing: &[LedgerLine], lines: &[LedgerLine]) -> Result<String, String> {
    let mut all: Vec<LedgerLine> = existing.to_vec();
    for line in lines {
        match all.iter_mut().find(|l| l.identity() == line.identity()) {
            Some(kept) => *kept = line.clone(),
            None => all.push(line.clone()),
        }
    }
    all.sort_by(|a, b| (a.date, &a.cluster, &a.action).cmp(&(b.date, &b.cluster, &b.action)));
    let mut writer = csv::Writer::from_writer(Vec::new());
    if all.is_empty() {
        writer.write_record(LEDGER_COLUMNS).map_err(|err| err.to_string())?;
    }
    for line in &all {
        writer.serialize(line).map_err(|err| err.to_string())?;
    }
    String::from_utf8(writer.into_inner().map_err(|err| err.to_string())?).map_err(|err| err.to_string())
}

/// A month's totals per cluster, and for the account, from its ledger.
pub fn monthly_summary(lines: &[LedgerLine]) -> String {
    #[derive(Default)]
    struct Totals {
        stops: u32,
        starts: u32,
        hours_off: f64,
        instance_hours_off: f64,
        usd_saved: f64,
        unpriced_starts: u32,
    }
    let mut per_cluster: BTreeMap<(&str, &str, &str), Totals> = BTreeMap::new();
    let mut all = Totals::default();
    for line in lines {
        for totals in [per_cluster.entry((&line.account, &line.region, &line.cluster)).or_default(), &mut all] {
            if line.action == "stop" {
                totals.stops += 1;
            } else {
                totals.starts += 1;
                totals.hours_off += line.hours_off.unwrap_or(0.0);
                totals.instance_hours_off += line.instance_hours_off.unwrap_or(0.0);
                totals.usd_saved += line.usd_saved.unwrap_or(0.0);
                if line.usd_saved.is_none() || line.prices.contains("unknown") {
                    totals.unpriced_starts += 1;
                }
            }
        }
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = [
        "account",
        "region",
        "cluster",
        "stops",
        "starts",
        "hours_off",
        "instance_hours_off",
        "usd_saved",
        "starts_with_unknown_prices",
        "prices",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    let row = |key: (&str, &str, &str), t: &Totals| {
        vec![
            key.0.to_owned(),
            key.1.to_owned(),
            key.2.to_owned(),
            t.stops.to_string(),
            t.starts.to_string(),
            format!("{:.2}", t.hours_off),
            format!("{:.2}", t.instance_hours_off),
            format!("{:.2}", t.usd_saved),
            t.unpriced_starts.to_string(),
            PRICE_LABEL.to_owned(),
        ]
    };
    rows.extend(per_cluster.iter().map(|(key, totals)| row(*key, totals)));
    let account = lines.first().map(|l| l.account.as_str()).unwrap_or_default();
    rows.push(row((account, "all", "all"), &all));
    for record in &rows {
        // Writing to memory cannot fail.
        let _ = writer.write_record(record);
    }
    writer.into_inner().ok().and_then(|bytes| String::from_utf8(bytes).ok()).unwrap_or_default()
}

/// The account and region in a cluster's ARN (`arn:aws:eks:<region>:<account>:cluster/<name>`).
pub fn arn_site(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "eks", region, account, _] if !region.is_empty() && !account.is_empty() => {
            Some(((*account).to_owned(), (*region).to_owned()))
        }
        _ => None,
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::LastAction;

    fn types(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    fn machines(instance_type: &str, market: Market, count: u32) -> Machines {
        Machines { instance_type: instance_type.to_owned(), market, count }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    fn record(stopped_at: &str, pieces: &[(&str, Vec<Machines>)]) -> StopRecord {
        StopRecord {
            cluster: "dev".into(),
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            stopped_at: at(stopped_at),
            pieces: pieces
                .iter()
                .map(|(name, machines)| RunningPiece {
                    kind: Kind::Managed,
                    name: (*name).to_owned(),
                    machines: machines.clone(),
                })
                .collect(),
        }
    }

    #[test]
    fn what_each_kind_of_capacity_runs() {
        assert_eq!(
            managed_machines(&types(&["m5.large", "m5a.large"]), Some("SPOT"), 3),
            [machines("m5.large", Market::Spot, 3)]
        );
        assert_eq!(managed_machines(&[], Some("ON_DEMAND"), 2), [machines(UNKNOWN_TYPE, Market::OnDemand, 2)]);
        assert!(managed_machines(&types(&["m5.large"]), None, 0).is_empty());
        let instances = types(&["c5.large", "m5.large", "c5.large", "m5.large", "m5.large"]);
        assert_eq!(
            group_machines(&instances, None),
            [machines("c5.large", Market::OnDemand, 2), machines("m5.large", Market::OnDemand, 3)]
        );
        // A base of 1 and half of the other 4: 3 on-demand (in type order), 2 spot.
        let mixed = Distribution { on_demand_base: 1, on_demand_percent_above_base: 50 };
        assert_eq!(
            group_machines(&instances, Some(mixed)),
            [
                machines("c5.large", Market::OnDemand, 2),
                machines("m5.large", Market::OnDemand, 1),
                machines("m5.large", Market::Spot, 2)
            ]
        );
        let claims = [
            (Some("m6g.large".to_owned()), Some("spot".to_owned())),
            (Some("m6g.large".to_owned()), Some("spot".to_owned())),
            (Some("c6g.xlarge".to_owned()), Some("on-demand".to_owned())),
            (None, None),
        ];
        assert_eq!(
            nodepool_machines(&claims),
            [
                machines("m6g.large", Market::Spot, 2),
                machines("c6g.xlarge", Market::OnDemand, 1),
                machines(UNKNOWN_TYPE, Market::OnDemand, 1)
            ]
        );
    }

    #[test]
    fn a_stop_record_stands_for_its_own_off_period_only() {
        let stored = record("2026-12-04T19:00:00Z", &[("web", vec![machines("m5.large", Market::OnDemand, 3)])]);
        let retry = record("2026-12-04T19:03:00Z", &[("web", vec![machines("m5.large", Market::OnDemand, 1)])]);
        let nothing = record("2026-12-04T19:03:00Z", &[("web", vec![])]);
        let last_start = LastAction { action: Action::Start, at: at("2026-12-04T07:00:00Z") };
        let last_stop = LastAction { action: Action::Stop, at: at("2026-12-04T19:00:05Z") };
        let later_start = LastAction { action: Action::Start, at: at("2026-12-05T07:00:00Z") };
        let merged =
            |now: &StopRecord, last: Option<&LastAction>| merge_stop_record(Some(stored.clone()), now.clone(), last);
        // A stop that failed part way, tried again: the first record's time and the fuller count.
        assert_eq!(merged(&retry, Some(&last_start)), Some(stored.clone()));
        assert_eq!(merged(&retry, None), Some(stored.clone()));
        // Lambda's retry of a stop that completed: nothing runs, the record stands.
        assert_eq!(merged(&nothing, Some(&last_stop)), Some(stored.clone()));
        assert_eq!(merge_stop_record(None, nothing.clone(), None), None);
        // Started by hand since the last stop, or settled by a start since: a new off period.
        assert_eq!(merged(&retry, Some(&last_stop)), Some(retry.clone()));
        assert_eq!(merged(&retry, Some(&later_start)), Some(retry.clone()));
        // A piece the stored record lacks is added.
        let other = record("2026-12-04T19:03:00Z", &[("batch", vec![machines("c5.xlarge", Market::Spot, 2)])]);
        let both = merged(&other, Some(&last_start)).expect("a record");
        assert_eq!((both.stopped_at, both.count()), (stored.stopped_at, 5));
    }

    /// One entry of a `GetProducts` answer, in the shape the Price List API sends: the product
    /// as a JSON string, its price in the nested `terms.OnDemand` document.
    fn price_list_entry(instance_type: &str, usd: &str) -> String {
        serde_json::json!({
            "product": {
                "productFamily": "Compute Instance",
                "attributes": {
                    "instanceType": instance_type, "regionCode": "eu-west-1", "operatingSystem": "Linux",
                    "tenancy": "Shared", "capacitystatus": "Used", "preInstalledSw": "NA",
                    "licenseModel": "No License required", "vcpu": "2", "memory": "8 GiB"
                },
                "sku": "JRTCKXETXF3KSE6B"
            },
            "serviceCode": "AmazonEC2",
            "terms": {"OnDemand": {"JRTCKXETXF3KSE6B.JRTCKXETXF": {
                "priceDimensions": {"JRTCKXETXF3KSE6B.JRTCKXETXF.6YS6EN2CT7": {
                    "unit": "Hrs", "endRange": "Inf", "beginRange": "0", "appliesTo": [],
                    "description": format!("${usd} per On Demand Linux {instance_type} Instance Hour"),
                    "rateCode": "JRTCKXETXF3KSE6B.JRTCKXETXF.6YS6EN2CT7",
                    "pricePerUnit": {"USD": usd}
                }},
                "sku": "JRTCKXETXF3KSE6B", "effectiveDate": "2026-11-01T00:00:00Z",
                "offerTermCode": "JRTCKXETXF", "termAttributes": {}
            }}},
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z"
        })
        .to_string()
    }

    #[test]
    fn the_on_demand_price_is_read_from_the_price_lists_nested_terms() {
        let list = [price_list_entry("m5.large", "0.1070000000")];
        assert_eq!(on_demand_price(&list, "m5.large"), Ok(0.107));
        assert!(on_demand_price(&[], "m5.large").unwrap_err().contains("no Linux on-demand price for m5.large"));
        assert!(on_demand_price(&["{not json".to_owned()], "m5.large").unwrap_err().contains("not JSON"));
        assert_eq!(mean_spot_price(&[0.04, 0.05, 0.0]), Some(0.045));
        assert_eq!(mean_spot_price(&[]), None);
        let overrides = parse_price_overrides(r#"{"m5.large": 0.07, "c5.xlarge/spot": 0.05}"#).expect("valid");
        assert_eq!(overrides.get(&("c5.xlarge".to_owned(), Market::Spot)), Some(&0.05));
        assert!(parse_price_overrides(r#"{"large": 1}"#).unwrap_err().contains("not an instance type"));
        assert!(parse_price_overrides(r#"{"m5.large": -1}"#).is_err());
    }

    #[test]
    fn a_saving_is_instance_hours_off_times_each_types_price() {
        let record = record(
            "2026-12-04T19:00:00Z",
            &[
                ("web", vec![machines("m5.large", Market::OnDemand, 3)]),
                ("batch", vec![machines("c5.xlarge", Market::Spot, 2)]),
                ("gpu", vec![machines("p9.huge", Market::OnDemand, 1)]),
            ],
        );
        let quote = |instance_type: &str, market: Market| -> Quote {
            match (instance_type, market) {
                ("m5.large", Market::OnDemand) => Ok((0.107, PriceBasis::ListPrice)),
                ("c5.xlarge", Market::Spot) => Ok((0.0512, PriceBasis::SpotPrice)),
                _ => Err("no price".to_owned()),
            }
        };
        let priced = price_record(&record, &quote);
        // 12 hours off, 6 instances: 72 instance-hours; 3 x 0.107 + 2 x 0.0512 = 0.4234 an hour priced.
        let report = SavingsReport::of_start(record.clone(), "dev", at("2026-12-05T07:00:00Z"), priced);
        let saving = report.saving.clone().expect("a saving");
        assert_eq!((saving.hours_off, saving.instance_hours_off), (12.0, 72.0));
        assert!((saving.usd.expect("priced") - 0.4234 * 12.0).abs() < 1e-9);
        assert_eq!(report.note, "price unknown for 1 p9.huge on-demand: no price");
        let line = report.ledger_line.clone().expect("a line");
        assert_eq!((line.usd_saved, line.instance_hours_off, line.hours_off), (Some(5.08), Some(72.0), Some(12.0)));
        assert_eq!(line.capacity, "2 c5.xlarge spot + 3 m5.large on-demand + 1 p9.huge on-demand");
        assert_eq!(line.prices, format!("{PRICE_LABEL}; spot price; unknown for 1 p9.huge on-demand: no price"));
        assert!(report.text().starts_with("saved about $5.08 (72.0 instance-hours of "), "{}", report.text());
        // Nothing priced: hours, never a made-up figure.
        let unpriced = price_record(&record, &|_: &str, _: Market| -> Quote { Err("the API failed".into()) });
        let report = SavingsReport::of_start(record, "dev", at("2026-12-05T07:00:00Z"), unpriced);
        assert_eq!(report.saving.as_ref().and_then(|s| s.usd), None);
        assert_eq!(report.ledger_line.as_ref().and_then(|l| l.usd_saved), None);
        assert!(report.text().contains("price unknown"), "{}", report.text());
    }

    #[test]
    fn the_ledger_holds_one_line_per_action_and_sums_the_month() {
        let record = record("2026-12-04T19:00:00Z", &[("web", vec![machines("m5.large", Market::OnDemand, 2)])]);
        let priced = price_record(&record, &|_: &str, _: Market| -> Quote { Ok((0.1, PriceBasis::Override)) });
        let stop = LedgerLine::of_stop(&record, "dev", &priced);
        let start = SavingsReport::of_start(record.clone(), "dev", at("2026-12-05T07:00:00Z"), priced.clone())
            .ledger_line
            .expect("a line");
        let text = append_ledger(&[], std::slice::from_ref(&stop)).expect("written");
        assert!(text.starts_with(&LEDGER_COLUMNS.join(",")), "{text}");
        let lines = parse_ledger(&text).expect("read back");
        // The same actions again (Lambda's retry): replaced, not added.
        let text = append_ledger(&lines, &[stop.clone(), start.clone()]).expect("written");
        let text = append_ledger(&parse_ledger(&text).expect("read"), std::slice::from_ref(&start)).expect("written");
        let lines = parse_ledger(&text).expect("read back");
        assert_eq!(lines, [stop, start]);
        let summary = monthly_summary(&lines);
        assert_eq!(
            summary.lines().nth(1),
            Some(format!("111122223333,eu-west-1,dev,1,1,12.00,24.00,2.40,0,\"{PRICE_LABEL}\"").as_str())
        );
        // Read back as CSV: every row has every column (the label holds a comma).
        let mut reader = csv::Reader::from_reader(summary.as_bytes());
        assert!(reader.records().all(|r| r.is_ok_and(|r| r.len() == 10)), "{summary}");
        assert!(summary.lines().nth(2).is_some_and(|l| l.starts_with("111122223333,all,all,1,1,12.00,24.00,2.40")));
        assert_eq!(
            arn_site("arn:aws:eks:eu-west-1:111122223333:cluster/dev"),
            Some(("111122223333".into(), "eu-west-1".into()))
        );
        assert_eq!(arn_site("dev"), None);
    }
}

//! What a report is configured to show: the metric, the record types counted, and the
//! grouping (one or two dimensions), each parsed from its setting and named for people.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Which Cost Explorer metric is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    UnblendedCost,
    AmortizedCost,
    NetUnblendedCost,
    NetAmortizedCost,
}

impl Metric {
    pub const FORM: &'static str = "UnblendedCost, AmortizedCost, NetUnblendedCost or NetAmortizedCost";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnblendedCost => "UnblendedCost",
            Self::AmortizedCost => "AmortizedCost",
            Self::NetUnblendedCost => "NetUnblendedCost",
            Self::NetAmortizedCost => "NetAmortizedCost",
        }
    }

    /// The forecast API's name for the same metric.
    pub fn forecast_name(self) -> &'static str {
        match self {
            Self::UnblendedCost => "UNBLENDED_COST",
            Self::AmortizedCost => "AMORTIZED_COST",
            Self::NetUnblendedCost => "NET_UNBLENDED_COST",
            Self::NetAmortizedCost => "NET_AMORTIZED_COST",
        }
    }
}

impl FromStr for Metric {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [Self::UnblendedCost, Self::AmortizedCost, Self::NetUnblendedCost, Self::NetAmortizedCost]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| format!("unknown metric {text:?}"))
    }
}

/// Which of Cost Explorer's record types a report counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordTypes {
    /// What was used and is owed: credits, refunds and discounts are left out, so an
    /// account paid by credits shows its real use, not zero (the default).
    Usage,
    /// Every record type, credits and refunds included (`INCLUDE_CREDITS=true`).
    All,
}

impl RecordTypes {
    /// The `RECORD_TYPE` values left out of `Usage`: credits, refunds and the discount programs.
    pub const EXCLUDED: &'static [&'static str] = &[
        "Credit",
        "Refund",
        "BundledDiscount",
        "Enterprise Discount Program Discount",
        "Private Rate Card Discount",
        "Solution Provider Program Discount",
        "Distributor Discount",
    ];

    pub fn excluded(self) -> &'static [&'static str] {
        match self {
            Self::Usage => Self::EXCLUDED,
            Self::All => &[],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::All => "all",
        }
    }
}

/// One thing costs can be broken down by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    Service,
    /// Shown with the account's name from Organizations, when it can be read.
    LinkedAccount,
    /// A cost allocation tag key.
    Tag(String),
    /// A cost category's name.
    CostCategory(String),
}

impl Dimension {
    fn label(&self) -> String {
        match self {
            Self::Service => "service".to_owned(),
            Self::LinkedAccount => "linked account".to_owned(),
            Self::Tag(key) => format!("tag {key}"),
            Self::CostCategory(name) => format!("cost category {name}"),
        }
    }

    fn column(&self) -> String {
        match self {
            Self::Service => "service".to_owned(),
            Self::LinkedAccount => "linked_account".to_owned(),
            Self::Tag(key) => format!("tag:{key}"),
            Self::CostCategory(name) => format!("cost_category:{name}"),
        }
    }

    /// One part of a group key as people read it. Cost Explorer returns tag and cost
    /// category groups as `key$value`, with an empty value for spend that has none.
    fn display(&self, part: &str, account_names: &BTreeMap<String, String>) -> String {
        match self {
            Self::Tag(key) => match part.strip_prefix(&format!("{key}$")).unwrap_or(part) {
                "" => UNTAGGED.to_owned(),
                value => value.to_owned(),
            },
            Self::CostCategory(name) => match part.strip_prefix(&format!("{name}$")).unwrap_or(part) {
                "" => UNCATEGORIZED.to_owned(),
                value => value.to_owned(),
            },
            Self::LinkedAccount => match account_names.get(part) {
                Some(name) if !name.is_empty() => format!("{name} ({part})"),
                _ => part.to_owned(),
            },
            Self::Service => part.to_owned(),
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        match text.split_once(':') {
            None if text.eq_ignore_ascii_case("SERVICE") => Ok(Self::Service),
            None if text.eq_ignore_ascii_case("LINKED_ACCOUNT") => Ok(Self::LinkedAccount),
            Some((kind, key)) if kind.eq_ignore_ascii_case("TAG") && !key.trim().is_empty() => {
                Ok(Self::Tag(key.trim().to_owned()))
            }
            Some((kind, name)) if kind.eq_ignore_ascii_case("COST_CATEGORY") && !name.trim().is_empty() => {
                Ok(Self::CostCategory(name.trim().to_owned()))
            }
            _ => Err(format!("unknown grouping {text:?}")),
        }
    }
}

/// The name of spend without a value for the tag grouped by.
pub const UNTAGGED: &str = "untagged";
/// The name of spend outside every rule of the cost category grouped by.
pub const UNCATEGORIZED: &str = "uncategorized";
/// Joins the parts of a two-dimension group key: a control character no name contains.
const KEY_SEPARATOR: char = '\u{1f}';

/// What costs are broken down by: one dimension, or two (Cost Explorer's limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupBy {
    dimensions: Vec<Dimension>,
}

impl GroupBy {
    pub const FORM: &'static str = "one or two of SERVICE, LINKED_ACCOUNT, TAG:<cost allocation tag key> and COST_CATEGORY:<name>, separated by a comma";

    /// By service alone: the default.
    pub fn service() -> Self {
        Self { dimensions: vec![Dimension::Service] }
    }

    pub fn new(dimensions: Vec<Dimension>) -> Result<Self, String> {
        match dimensions.as_slice() {
            [] => Err("no grouping".to_owned()),
            [_] => Ok(Self { dimensions }),
            [a, b] if a == b => Err(format!("{} twice", a.label())),
            [_, _] => Ok(Self { dimensions }),
            _ => Err("Cost Explorer groups by two dimensions at most".to_owned()),
        }
    }

    pub fn dimensions(&self) -> &[Dimension] {
        &self.dimensions
    }

    /// The column and table heading: `service`, or `linked account and tag team`.
    pub fn label(&self) -> String {
        self.dimensions.iter().map(Dimension::label).collect::<Vec<_>>().join(" and ")
    }

    /// The heading of a list of groups.
    pub fn plural(&self) -> String {
        match self.dimensions.as_slice() {
            [Dimension::Service] => "services".to_owned(),
            [Dimension::LinkedAccount] => "linked accounts".to_owned(),
            [Dimension::Tag(key)] => format!("values of tag {key}"),
            [Dimension::CostCategory(name)] => format!("values of cost category {name}"),
            _ => format!("groups by {}", self.label()),
        }
    }

    /// The CSV's columns for a group, one per dimension.
    pub fn columns(&self) -> Vec<String> {
        self.dimensions.iter().map(Dimension::column).collect()
    }

    /// A group's keys, as Cost Explorer gives them (one per dimension), joined into one key.
    pub fn join_keys(keys: &[String]) -> String {
        keys.join(&KEY_SEPARATOR.to_string())
    }

    /// A joined key as people read it, still one part per dimension (see [`GroupBy::for_people`]).
    pub fn display_key(&self, key: &str, account_names: &BTreeMap<String, String>) -> String {
        let parts: Vec<String> = key
            .split(KEY_SEPARATOR)
            .zip(&self.dimensions)
            .map(|(part, dimension)| dimension.display(part, account_names))
            .collect();
        GroupBy::join_keys(&parts)
    }

    /// A display key's parts, one per dimension: the CSV's cells.
    pub fn parts(display_key: &str) -> Vec<&str> {
        display_key.split(KEY_SEPARATOR).collect()
    }

    /// A display key in one line: `payments (111111111111) · checkout`.
    pub fn for_people(display_key: &str) -> String {
        Self::parts(display_key).join(" · ")
    }

    /// The tag keys grouped by.
    pub(super) fn tags(&self) -> impl Iterator<Item = (usize, &str)> {
        self.dimensions.iter().enumerate().filter_map(|(i, d)| match d {
            Dimension::Tag(key) => Some((i, key.as_str())),
            _ => None,
        })
    }
}

impl FromStr for GroupBy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let dimensions = text.split(',').map(Dimension::parse).collect::<Result<Vec<_>, _>>()?;
        Self::new(dimensions)
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

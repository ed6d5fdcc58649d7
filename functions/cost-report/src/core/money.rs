//! Money and percentages as people read them. Amounts stay `Decimal` end to end.

use rust_decimal::{Decimal, RoundingStrategy};

/// `$1,234.57` for USD, `1,234.57 EUR` otherwise; negative amounts (credits) get a minus.
pub fn format_money(amount: Decimal, unit: &str) -> String {
    let rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() { "-" } else { "" };
    let text = format!("{:.2}", rounded.abs());
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match unit {
        "USD" => format!("{sign}${grouped}.{cents}"),
        _ => format!("{sign}{grouped}.{cents} {unit}"),
    }
}

/// `+12.3%`, `-4.0%`, `new` (from zero), or `–` (zero to zero).
pub fn format_percent(percent: Option<Decimal>, from_zero_to_something: bool) -> String {
    match percent {
        Some(p) => {
            let p = p.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero);
            let sign = if p.is_sign_positive() && !p.is_zero() { "+" } else { "" };
            format!("{sign}{p:.1}%")
        }
        None if from_zero_to_something => "new".to_owned(),
        None => "–".to_owned(),
    }
}

//! Cells that are safe to open in a spreadsheet.

use std::borrow::Cow;

/// A cell starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`,
/// so a spreadsheet shows it as text instead of running it (OWASP "CSV injection").
/// Names that AWS accepts (IAM users, tag values) may start with those characters.
pub fn neutralize_formula(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_injection_is_neutralised() {
        for (cell, expected) in [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("+SUM(1)", "'+SUM(1)"),
            ("-2+3", "'-2+3"),
            ("@admin", "'@admin"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("alice", "alice"),
            ("", ""),
            ("a=b", "a=b"),
            ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        ] {
            assert_eq!(neutralize_formula(cell), expected, "{cell:?}");
        }
    }
}

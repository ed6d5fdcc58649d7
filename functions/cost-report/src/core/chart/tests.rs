use std::collections::BTreeMap;
use std::str::FromStr;

use super::*;
use crate::core::{CostDay, report_by_service, window_for};

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("test decimal")
}

/// 52 days to the 21st of November: seven services, EC2 the largest, a credit on one day,
/// and the report day still estimated.
fn report() -> CostReport {
    let window = window_for("2026-11-21".parse().expect("date"));
    let mut days = Vec::new();
    let mut date = window.start;
    while date <= window.report_day {
        let n = i64::from(date.day());
        let mut groups = vec![
            ("Amazon Elastic Compute Cloud - Compute".to_owned(), Decimal::new(100 + n, 0)),
            ("Amazon Simple Storage Service".to_owned(), dec("40")),
            ("Amazon Relational Database Service".to_owned(), dec("30")),
            ("AWS Lambda".to_owned(), dec("20")),
            ("Amazon CloudFront".to_owned(), dec("10")),
            ("Amazon Route 53".to_owned(), dec("2")),
            ("AWS Key Management Service".to_owned(), dec("1")),
        ];
        if date == "2026-11-15".parse().expect("date") {
            groups.push(("Credits".to_owned(), dec("-50")));
        }
        days.push(CostDay { date, estimated: date == window.report_day, groups, unit: Some("USD".to_owned()) });
        date = date.tomorrow().expect("date");
    }
    report_by_service(window.report_day, &days, Ok(None))
}

#[test]
fn the_chart_stacks_the_last_30_days_by_the_top_five_groups_and_the_rest() {
    let data = ChartData::of(&report());
    assert_eq!(data.days.len(), 30);
    assert_eq!(data.days[0].0.to_string(), "2026-10-23");
    assert_eq!(data.days[29], ("2026-11-21".parse().expect("date"), true));
    let names: Vec<&str> = data.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Amazon Elastic Compute Cloud - Compute",
            "Amazon Simple Storage Service",
            "Amazon Relational Database Service",
            "AWS Lambda",
            "Amazon CloudFront",
            "Other (3 more)",
        ]
    );
    assert_eq!(data.series[0].amounts[29], dec("121"), "100 + the 21st");
    // Other: Route 53 and KMS every day, and the credit on the 15th (the 24th bar), which nets below zero
    assert_eq!(data.series[5].amounts[0], dec("3"));
    assert_eq!(data.series[5].amounts[23], dec("-47"));
    // The highest bar is October 31st's (EC2 at 131)
    assert_eq!(data.range(), (-47.0, 131.0 + 40.0 + 30.0 + 20.0 + 10.0 + 3.0));
}

#[test]
fn a_month_with_few_groups_has_no_other_and_every_colour_its_own() {
    let window = window_for("2026-03-01".parse().expect("date"));
    let days = vec![CostDay {
        date: window.report_day,
        estimated: false,
        groups: vec![("AWS Lambda".to_owned(), dec("5")), ("Tax".to_owned(), dec("0"))],
        unit: Some("EUR".to_owned()),
    }];
    let report = report_by_service(window.report_day, &days, Ok(None));
    let data = ChartData::of(&report);
    assert_eq!(data.days.len(), 30, "from January 31: the window reaches back 30 days");
    assert_eq!(data.series.len(), 1, "a group that cost nothing in 30 days is not drawn");
    assert_eq!(data.unit, "EUR");
}

/// Counts the decoded PNG's pixels of each colour.
fn colours(png_bytes: &[u8]) -> (png::OutputInfo, BTreeMap<(u8, u8, u8), usize>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    let mut counts = BTreeMap::new();
    for pixel in pixels[..info.buffer_size()].chunks_exact(3) {
        *counts.entry((pixel[0], pixel[1], pixel[2])).or_default() += 1;
    }
    (info, counts)
}

#[test]
fn the_png_has_the_size_the_email_expects_and_every_group_drawn_in_its_colour() {
    let data = ChartData::of(&report());
    let png_bytes = render_chart_png(&data).expect("a chart");
    assert!(png_bytes.len() < 100_000, "{} bytes: small enough for an email", png_bytes.len());
    let (info, counts) = colours(&png_bytes);
    assert_eq!((info.width, info.height, info.color_type), (CHART_WIDTH, CHART_HEIGHT, png::ColorType::Rgb));
    let count = |color: RGBColor| counts.get(&(color.0, color.1, color.2)).copied().unwrap_or(0);
    // Each group's colour covers its bars (29 settled days) and its legend square.
    for (index, color) in PALETTE.iter().enumerate() {
        assert!(count(*color) > 29 * 10, "{}: {} pixels", data.series[index].name, count(*color));
    }
    assert!(count(OTHER) > 29 * 4, "Other: {} pixels", count(OTHER));
    // The report day is estimated: its bar is lighter, half way to white.
    let light = |c: u8| c + (255 - c) / 2;
    let lighter = PALETTE[0];
    let near = |(r, g, b): (u8, u8, u8)| {
        r.abs_diff(light(lighter.0)) <= 1 && g.abs_diff(light(lighter.1)) <= 1 && b.abs_diff(light(lighter.2)) <= 1
    };
    assert!(counts.iter().filter(|(c, _)| near(**c)).map(|(_, n)| n).sum::<usize>() > 100, "the estimated day's bar");
    // Text was drawn: dark anti-aliased pixels beyond the axis lines.
    assert!(counts.iter().filter(|((r, g, b), _)| *r < 120 && *g < 120 && *b < 120).count() > 10);
}

#[test]
fn axis_amounts_are_short() {
    for (value, unit, expected) in [
        (0.0, "USD", "$0"),
        (0.5, "USD", "$0.50"),
        (350.0, "USD", "$350"),
        (1_250.0, "USD", "$1,250"),
        (1_000.0, "USD", "$1,000"),
        (25_000.0, "USD", "$25k"),
        (3_400_000.0, "USD", "$3.4M"),
        (-50.0, "USD", "-$50"),
        (120.0, "EUR", "120 EUR"),
    ] {
        assert_eq!(axis_money(value, unit), expected, "{value}");
    }
    assert_eq!(shorten("Amazon Elastic Compute Cloud - Compute", 10), "Amazon El…");
}

//! What a photo's EXIF says about it, for its record: when it was taken, with which
//! camera, and where. Read with `kamadak-exif` from the container (JPEG APP1, PNG eXIf,
//! WebP EXIF), never trusted: a field that is blank, out of range or not text is left out,
//! and EXIF that cannot be read at all gives no facts rather than a rejection (the image
//! itself is fine).

use std::io::Cursor;

use exif::{In, Tag, Value};

/// The longest camera make or model kept; real ones are under 40 characters.
const MAX_TEXT_CHARS: usize = 64;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExifFacts {
    /// `DateTimeOriginal` as ISO 8601, with `OffsetTimeOriginal` when the camera wrote one
    /// (`2022-08-14T14:12:31+03:00`); without, it is the camera's local time and says so by
    /// having no offset (`2008-05-30T15:56:01`).
    pub captured_at: Option<String>,
    pub camera_make: Option<String>,
    pub camera_model: Option<String>,
    /// Kept out of the record unless `STORE_LOCATION=true`; never written to a thumbnail.
    pub location: Option<Location>,
}

/// WGS-84 degrees (south and west negative), metres above sea level.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub altitude: Option<f64>,
}

/// The facts in an image file's EXIF, if it has any.
pub fn exif_facts(bytes: &[u8]) -> ExifFacts {
    let mut reader = exif::Reader::new();
    reader.continue_on_error(true);
    let exif = match reader.read_from_container(&mut Cursor::new(bytes)) {
        Ok(exif) => exif,
        // Some fields were damaged: keep the ones that were read.
        Err(exif::Error::PartialResult(partial)) => partial.into_inner().0,
        Err(_) => return ExifFacts::default(),
    };
    let field = |tag: Tag| exif.get_field(tag, In::PRIMARY).map(|field| &field.value);
    ExifFacts {
        captured_at: capture_time(field(Tag::DateTimeOriginal), field(Tag::OffsetTimeOriginal)),
        camera_make: field(Tag::Make).and_then(text),
        camera_model: field(Tag::Model).and_then(text),
        location: location(&field),
    }
}

fn first_ascii(value: &Value) -> Option<&[u8]> {
    match value {
        Value::Ascii(values) => values.first().map(Vec::as_slice),
        _ => None,
    }
}

/// Printable text, trimmed, at most [`MAX_TEXT_CHARS`]; `None` when nothing is left.
fn text(value: &Value) -> Option<String> {
    let raw = first_ascii(value)?;
    let decoded = String::from_utf8_lossy(raw);
    let cleaned: String = decoded
        .trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT_CHARS)
        .collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

fn capture_time(date_time: Option<&Value>, offset: Option<&Value>) -> Option<String> {
    let parsed = exif::DateTime::from_ascii(first_ascii(date_time?)?).ok()?;
    // `from_ascii` does not check ranges; a civil date-time does (no 2008-13-45).
    let civil = jiff::civil::DateTime::new(
        i16::try_from(parsed.year).ok()?,
        i8::try_from(parsed.month).ok()?,
        i8::try_from(parsed.day).ok()?,
        i8::try_from(parsed.hour).ok()?,
        i8::try_from(parsed.minute).ok()?,
        i8::try_from(parsed.second).ok()?,
        0,
    )
    .ok()?;
    let mut text = civil.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let mut with_offset = exif::DateTime { offset: None, ..parsed };
    if let Some(raw) = offset.and_then(first_ascii)
        && with_offset.parse_offset(raw).is_ok()
        && let Some(minutes) = with_offset.offset.filter(|m| m.abs() <= 18 * 60)
    {
        let sign = if minutes < 0 { '-' } else { '+' };
        text.push_str(&format!("{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60));
    }
    Some(text)
}

fn location<'a>(field: &impl Fn(Tag) -> Option<&'a Value>) -> Option<Location> {
    let degrees = |tag: Tag, reference: Tag, negative: u8, limit: f64| -> Option<f64> {
        // Signed rationals are out of the standard, but phones write them.
        let parts: Vec<f64> = match field(tag)? {
            Value::Rational(parts) => parts.iter().map(|p| p.to_f64()).collect(),
            Value::SRational(parts) => parts.iter().map(|p| p.to_f64()).collect(),
            _ => return None,
        };
        let [d, m, s] = parts.get(..3)? else { return None };
        if [d, m, s].iter().any(|part| !part.is_finite() || **part < 0.0) {
            return None;
        }
        let value = d + m / 60.0 + s / 3600.0;
        let sign = match first_ascii(field(reference)?)?.first()? {
            byte if *byte == negative => -1.0,
            _ => 1.0,
        };
        (value.is_finite() && value <= limit).then(|| round6(sign * value))
    };
    let latitude = degrees(Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S', 90.0)?;
    let longitude = degrees(Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W', 180.0)?;
    let altitude = match field(Tag::GPSAltitude) {
        Some(Value::Rational(parts)) => parts.first().map(|a| a.to_f64()).filter(|a| a.is_finite()).map(|a| {
            let below_sea = matches!(field(Tag::GPSAltitudeRef), Some(Value::Byte(b)) if b.first() == Some(&1));
            (if below_sea { -a } else { a } * 10.0).round() / 10.0
        }),
        _ => None,
    };
    Some(Location { latitude, longitude, altitude })
}

/// Six decimals: about 10 cm, more than any phone's GPS knows.
fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

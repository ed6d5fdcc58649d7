//! What a caller may upload and where it goes: the request checked field by field, a new key
//! under the caller's own folder (never from the filename), the filename made safe to show.

use serde_json::Value;

use crate::error::PhotosApiError;

/// The image types the thumbnailer decodes, each with the extension its keys get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Jpeg,
    Png,
    Webp,
    Gif,
    /// An iPhone's photo (its thumbnails are JPEG).
    Heic,
    Heif,
}

impl ImageType {
    pub const ALL: [Self; 6] = [Self::Jpeg, Self::Png, Self::Webp, Self::Gif, Self::Heic, Self::Heif];

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
            Self::Heic => "image/heic",
            Self::Heif => "image/heif",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => ".jpg",
            Self::Png => ".png",
            Self::Webp => ".webp",
            Self::Gif => ".gif",
            Self::Heic => ".heic",
            Self::Heif => ".heif",
        }
    }

    /// A `Content-Type` value, parameters and case ignored (`image/JPEG; q=1`).
    pub fn of(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|kind| kind.content_type() == essence)
    }

    fn allowed() -> String {
        Self::ALL.map(Self::content_type).join(", ")
    }
}

/// An upload the caller may make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    /// Cleaned for display: see [`display_filename`].
    pub filename: String,
    pub image_type: ImageType,
    pub bytes: u64,
}

impl UploadRequest {
    /// `{"filename", "content_type", "bytes"}`, each checked; `max_bytes` is the thumbnailer's limit.
    pub fn parse(body: &[u8], max_bytes: u64) -> Result<Self, PhotosApiError> {
        let bad = |message: String| PhotosApiError::BadRequest(message);
        let value: Value = serde_json::from_slice(body).map_err(|err| {
            bad(format!(
                "the body must be JSON like {{\"filename\": \"beach.jpg\", \"content_type\": \"image/jpeg\", \"bytes\": 1021847}}: {err}"
            ))
        })?;
        let Value::Object(fields) = value else {
            return Err(bad("the body must be a JSON object with filename, content_type and bytes".to_owned()));
        };
        let field = |name: &str| fields.get(name).filter(|value| !value.is_null());
        let missing = |name: &str, what: &str| bad(format!("missing field {name}: {what}"));

        let filename = match field("filename") {
            None => return Err(missing("filename", "the photo's file name, shown in the gallery")),
            Some(Value::String(name)) => display_filename(name),
            Some(_) => return Err(bad("field filename must be a string".to_owned())),
        };
        let allowed = ImageType::allowed();
        let image_type = match field("content_type") {
            None => return Err(missing("content_type", &format!("one of {allowed}"))),
            Some(Value::String(content_type)) => ImageType::of(content_type).ok_or_else(|| {
                bad(format!(
                    "field content_type {:?} is not an image type the thumbnailer decodes: use one of {allowed}",
                    printable(content_type, 100)
                ))
            })?,
            Some(_) => return Err(bad(format!("field content_type must be a string, one of {allowed}"))),
        };
        let range = format!("a whole number of bytes from 1 to {max_bytes}");
        let bytes = match field("bytes") {
            None => return Err(missing("bytes", &format!("the file's size, {range}"))),
            Some(Value::Number(number)) => match number.as_u64() {
                Some(0) | None => return Err(bad(format!("field bytes is {number}: it must be {range}"))),
                Some(bytes) if bytes > max_bytes => {
                    return Err(PhotosApiError::TooLarge(format!(
                        "field bytes is {bytes}: photos of up to {max_bytes} bytes are accepted"
                    )));
                }
                Some(bytes) => bytes,
            },
            Some(_) => return Err(bad(format!("field bytes must be {range}"))),
        };
        Ok(Self { filename, image_type, bytes })
    }
}

/// The most characters of a filename kept for display.
pub const FILENAME_CHARS: usize = 200;

/// A filename as the gallery shows it: the last part of any path, without control
/// characters or the invisible marks that reorder text (`U+202E` makes `gpj.exe` read
/// `exe.jpg`), trimmed and cut to [`FILENAME_CHARS`]; `photo` when nothing is left. It is
/// only ever metadata: keys are made by [`photo_key`].
pub fn display_filename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept = printable(last, FILENAME_CHARS);
    let trimmed = kept.trim();
    if trimmed.is_empty() || trimmed == "." || trimmed == ".." { "photo".to_owned() } else { trimmed.to_owned() }
}

/// Text without control characters or invisible marks, cut to `chars` characters: what a
/// caller's text may be when an answer repeats it.
fn printable(text: &str, chars: usize) -> String {
    text.chars().filter(|c| !c.is_control() && !is_format_mark(*c)).take(chars).collect()
}

/// Unicode's bidirectional controls and the zero-width marks.
fn is_format_mark(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}')
}

/// Crockford's base32: no I, L, O or U, so an id read aloud or typed is unambiguous.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new photo id: 26 characters, the upload's millisecond time then 80 random bits (a
/// ULID), so ids sort by upload time and the by-owner index lists newest first by key alone.
pub fn photo_id(unix_millis: u64, random: [u8; 10]) -> String {
    let mut value = u128::from(unix_millis & 0xFFFF_FFFF_FFFF) << 80;
    for (i, byte) in random.iter().enumerate() {
        value |= u128::from(*byte) << (8 * (9 - i));
    }
    (0..26).rev().map(|i| CROCKFORD[((value >> (5 * i)) & 31) as usize] as char).collect()
}

/// The caller's folder: `<prefix><sub>/`.
pub fn caller_folder(prefix: &str, subject: &str) -> String {
    format!("{prefix}{subject}/")
}

/// A new upload's key: the caller's folder, a fresh id, the type's extension.
pub fn photo_key(folder: &str, id: &str, image_type: ImageType) -> String {
    format!("{folder}{id}{}", image_type.extension())
}

/// The key a photo id (from a path) names in the caller's folder, if it is one a photo can
/// have: no empty, `.` or `..` folder, no control character, at most S3's 1,024 bytes.
pub fn key_of_id(folder: &str, id: &str) -> Result<String, PhotosApiError> {
    let invalid = id.is_empty()
        || id.split('/').any(|part| part.is_empty() || part == "." || part == "..")
        || id.chars().any(char::is_control)
        || folder.len() + id.len() > 1024;
    if invalid {
        return Err(PhotosApiError::NotFound);
    }
    Ok(format!("{folder}{id}"))
}

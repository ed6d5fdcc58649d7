//! Object keys: decoding them from S3 notifications, naming outputs, and recognising
//! the function's own outputs so it never processes them.

use imaging::{BoxSize, ImageKind, Rejection};

/// S3's longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// S3's most user-defined metadata per object (names and values, in bytes).
pub const MAX_METADATA_BYTES: usize = 2048;

/// S3 notifications URL-encode keys with `+` for a space (`url_decoded_key` in
/// `aws_lambda_events` is never filled by S3): `a+b%2Bc.jpg` is `a b+c.jpg`.
pub fn decode_s3_key(raw: &str) -> Result<String, String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| format!("object key {raw:?} is not UTF-8 once decoded"))
}

/// `<dest prefix><source key>-<W>x<H>.<ext>`: `uploads/a b.jpeg` with box 256x256 and
/// JPEG gives `thumbnails/uploads/a b.jpeg-256x256.jpg`. The whole source key, extension
/// included, so `a.jpg` and `a.png` never share a thumbnail.
pub fn output_key(dest_prefix: &str, source_key: &str, size: BoxSize, extension: &str) -> String {
    format!("{dest_prefix}{source_key}-{}x{}.{extension}", size.width, size.height)
}

/// The name earlier versions gave thumbnails, without the source's extension
/// (`thumbnails/uploads/a b-256x256.jpg`): still found, and removed, when the source
/// that wrote it is deleted.
pub fn legacy_output_key(dest_prefix: &str, source_key: &str, size: BoxSize, extension: &str) -> String {
    let (folder, file) = source_key.rsplit_once('/').map_or(("", source_key), |(f, n)| (f, n));
    let stem = match file.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => file,
    };
    let folder = if folder.is_empty() { String::new() } else { format!("{folder}/") };
    format!("{dest_prefix}{folder}{stem}-{}x{}.{extension}", size.width, size.height)
}

/// Every key a thumbnail of `source_key` may have, once each: each box, each kind's
/// extension, today's names and the names earlier versions wrote.
pub fn thumbnail_key_candidates(
    dest_prefix: &str,
    source_key: &str,
    sizes: &[BoxSize],
    kinds: &[ImageKind],
) -> Vec<String> {
    let mut candidates: Vec<String> = Vec::new();
    for size in sizes {
        for extension in kinds.iter().map(|kind| kind.extension()) {
            for key in [
                output_key(dest_prefix, source_key, *size, extension),
                legacy_output_key(dest_prefix, source_key, *size, extension),
            ] {
                if !candidates.contains(&key) {
                    candidates.push(key);
                }
            }
        }
    }
    candidates
}

/// A thumbnail key S3 accepts, or the permanent reason it cannot exist.
pub fn checked_output_key(
    dest_prefix: &str,
    source_key: &str,
    size: BoxSize,
    extension: &str,
) -> Result<String, Rejection> {
    let key = output_key(dest_prefix, source_key, size, extension);
    if key.len() > MAX_KEY_BYTES {
        return Err(Rejection::NameTooLong(format!(
            "its thumbnail's key would be {} bytes, over S3's limit of {MAX_KEY_BYTES}: shorten the upload's key or DEST_PREFIX",
            key.len()
        )));
    }
    Ok(key)
}

/// The metadata a thumbnail carries back to its source: the key (percent-encoded where
/// not printable ASCII, as S3 metadata must be) and the ETag it was made from.
pub fn thumbnail_metadata(source_key: &str, source_etag: &str) -> Result<Vec<(String, String)>, Rejection> {
    let encoded = percent_encoding::utf8_percent_encode(source_key, percent_encoding::CONTROLS).to_string();
    let pairs = vec![("source-key".to_owned(), encoded), ("source-etag".to_owned(), source_etag.to_owned())];
    // The marker `thumbnailer-output=true` is added by the S3 layer.
    let size: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() + "thumbnailer-output".len() + 4;
    if size > MAX_METADATA_BYTES {
        return Err(Rejection::NameTooLong(format!(
            "the upload's key is too long to record in its thumbnails' metadata ({size} bytes, S3 allows {MAX_METADATA_BYTES})"
        )));
    }
    Ok(pairs)
}

/// Where a rejection is recorded: `<failed prefix><key>.json`, or, for a key too long
/// for that, `<failed prefix>_long-keys/<hash of the key>.json` (the record names the key).
pub fn rejection_record_key(failed_prefix: &str, source_key: &str) -> String {
    let key = format!("{failed_prefix}{source_key}.json");
    if key.len() <= MAX_KEY_BYTES {
        return key;
    }
    format!("{failed_prefix}_long-keys/{:016x}.json", fnv1a(source_key.as_bytes()))
}

/// FNV-1a, 64 bits: a stable short name for a long key (not a security property).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// True for keys the function writes itself (thumbnails and failure records), which must
/// never be processed again.
pub fn is_own_output(key: &str, dest_prefix: &str, failed_prefix: &str) -> bool {
    (!dest_prefix.is_empty() && key.starts_with(dest_prefix))
        || (!failed_prefix.is_empty() && key.starts_with(failed_prefix))
}

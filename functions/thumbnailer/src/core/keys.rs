//! Object keys: decoding them from S3 notifications, naming outputs, and recognising
//! the function's own outputs so it never processes them.

use super::sizes::BoxSize;

/// S3 notifications URL-encode keys with `+` for a space (`url_decoded_key` in
/// `aws_lambda_events` is never filled by S3): `a+b%2Bc.jpg` is `a b+c.jpg`.
pub fn decode_s3_key(raw: &str) -> Result<String, String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| format!("object key {raw:?} is not UTF-8 once decoded"))
}

/// `<dest prefix><source key without extension>-<W>x<H>.<ext>`: `uploads/a b.jpeg`
/// with box 256x256 and JPEG gives `thumbnails/uploads/a b-256x256.jpg`.
pub fn output_key(dest_prefix: &str, source_key: &str, size: BoxSize, extension: &str) -> String {
    let (folder, file) = source_key.rsplit_once('/').map_or(("", source_key), |(f, n)| (f, n));
    let stem = match file.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => file,
    };
    let folder = if folder.is_empty() { String::new() } else { format!("{folder}/") };
    format!("{dest_prefix}{folder}{stem}-{}x{}.{extension}", size.width, size.height)
}

/// True for keys the function writes itself (thumbnails and failure records), which must
/// never be processed again.
pub fn is_own_output(key: &str, dest_prefix: &str, failed_prefix: &str) -> bool {
    (!dest_prefix.is_empty() && key.starts_with(dest_prefix))
        || (!failed_prefix.is_empty() && key.starts_with(failed_prefix))
}

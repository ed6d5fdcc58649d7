//! The thumbnailer's settings, read once at cold start. A destination that would make
//! the function process its own output is refused here.

use shared::config::{ConfigError, Env};

use crate::core::{BoxSize, Limits, OutputFormat, parse_sizes};

/// Memory one decode may allocate: room for a 100-megapixel RGB image inside a 512 MB Lambda.
const MAX_DECODE_BYTES: u64 = 384 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `None`: the source bucket.
    pub dest_bucket: Option<String>,
    /// Ends with `/` (or is empty when `dest_bucket` is another bucket).
    pub dest_prefix: String,
    pub failed_prefix: String,
    pub sizes: Vec<BoxSize>,
    pub format: OutputFormat,
    pub cache_control: String,
    pub max_input_bytes: u64,
    pub limits: Limits,
    pub delete_with_source: bool,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let folder = |value: String| if value.is_empty() || value.ends_with('/') { value } else { format!("{value}/") };
        let dest_bucket = env.optional("DEST_BUCKET");
        // An explicitly empty DEST_PREFIX counts as unset; "/" asks for no prefix at all.
        let dest_prefix = match env.optional("DEST_PREFIX").as_deref() {
            None => "thumbnails/".to_owned(),
            Some("/") => String::new(),
            Some(prefix) => folder(prefix.trim_start_matches('/').to_owned()),
        };
        if dest_bucket.is_none() && dest_prefix.is_empty() {
            return Err(ConfigError::invalid(
                "DEST_PREFIX",
                "/".to_owned(),
                "a prefix such as thumbnails/ when DEST_BUCKET is unset: thumbnails written beside the uploads with no prefix would trigger the function again",
            ));
        }
        let failed_prefix = folder(env.optional("FAILED_PREFIX").unwrap_or_else(|| format!("{dest_prefix}_failed/")));
        let sizes =
            parse_sizes(&env.optional("THUMBNAIL_SIZES").unwrap_or_else(|| "256x256".to_owned())).map_err(|err| {
                ConfigError::invalid(
                    "THUMBNAIL_SIZES",
                    env.optional("THUMBNAIL_SIZES").unwrap_or_default(),
                    format!("boxes like 256x256 or 128x128,512x512 ({err})"),
                )
            })?;
        let quality = env.parse_or("JPEG_QUALITY", 80u8, "a whole number from 1 to 100")?;
        if !(1..=100).contains(&quality) {
            return Err(ConfigError::invalid("JPEG_QUALITY", quality.to_string(), "a whole number from 1 to 100"));
        }
        let format = match env.optional("THUMBNAIL_FORMAT").map(|f| f.to_ascii_lowercase()).as_deref() {
            None | Some("jpeg" | "jpg") => OutputFormat::Jpeg { quality },
            Some("webp") => OutputFormat::Webp { quality },
            Some("png") => OutputFormat::Png,
            Some("same") => OutputFormat::Same { quality },
            Some(other) => {
                return Err(ConfigError::invalid("THUMBNAIL_FORMAT", other.to_owned(), "jpeg, webp, png or same"));
            }
        };
        let max_input_bytes = env.parse_or("MAX_INPUT_BYTES", 50_000_000u64, "a number of bytes")?;
        let max_pixels = env.parse_or("MAX_INPUT_PIXELS", 100_000_000u64, "a number of pixels")?;
        Ok(Self {
            dest_bucket,
            dest_prefix,
            failed_prefix,
            sizes,
            format,
            cache_control: env
                .optional("CACHE_CONTROL")
                .unwrap_or_else(|| "public, max-age=31536000, immutable".to_owned()),
            max_input_bytes,
            limits: Limits { max_pixels, max_alloc_bytes: MAX_DECODE_BYTES },
            delete_with_source: env.bool_or("DELETE_WITH_SOURCE", false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use shared::config::parse_settings;

    use super::*;

    #[test]
    fn defaults() {
        let config = parse_settings(Config::from_env, &[]).expect("defaults");
        assert_eq!(
            (config.dest_prefix.as_str(), config.failed_prefix.as_str()),
            ("thumbnails/", "thumbnails/_failed/")
        );
        assert_eq!(config.sizes, [BoxSize { width: 256, height: 256 }]);
        assert_eq!(config.format, OutputFormat::Jpeg { quality: 80 });
        assert_eq!(config.max_input_bytes, 50_000_000);
        assert_eq!(config.limits.max_pixels, 100_000_000);
    }

    #[test]
    fn a_destination_that_would_trigger_itself_is_refused() {
        let err = parse_settings(Config::from_env, &[("DEST_PREFIX", "/")]).expect_err("recursion");
        assert!(err.contains("would trigger the function again"), "{err}");
        let config = parse_settings(Config::from_env, &[("DEST_BUCKET", "thumbs"), ("DEST_PREFIX", "/")])
            .expect("another bucket");
        assert_eq!(config.dest_prefix, "");
        assert_eq!(config.failed_prefix, "_failed/");
        assert_eq!(
            parse_settings(Config::from_env, &[("DEST_PREFIX", "small")]).expect("folder").dest_prefix,
            "small/"
        );
    }

    #[test]
    fn errors_name_the_setting() {
        for (pairs, expected) in [
            (&[("THUMBNAIL_SIZES", "big")][..], "invalid setting THUMBNAIL_SIZES=\"big\""),
            (
                &[("THUMBNAIL_FORMAT", "avif")][..],
                "invalid setting THUMBNAIL_FORMAT=\"avif\": expected jpeg, webp, png or same",
            ),
            (&[("JPEG_QUALITY", "0")][..], "invalid setting JPEG_QUALITY=\"0\""),
            (&[("MAX_INPUT_BYTES", "50MB")][..], "invalid setting MAX_INPUT_BYTES=\"50MB\""),
        ] {
            let err = parse_settings(Config::from_env, pairs).expect_err("invalid");
            assert!(err.starts_with(expected), "{err}");
        }
    }
}

//! The thumbnailer's settings, read once at cold start. A destination that would make
//! the function process its own output is refused here.

use shared::config::{ConfigError, Env};

use imaging::{BoxSize, Crop, Fit, Limits, OutputFormat, parse_sizes};

const MIB: u64 = 1024 * 1024;
/// What the process holds besides images: the binary, the runtime, the SDK and its TLS
/// buffers, the allocator's slack (the release binary idles at about 20 MiB).
const PROCESS_RESERVE: u64 = 80 * MIB;
/// Lambda gives a function one vCPU's worth of CPU per 1,769 MB of memory.
const MB_PER_VCPU: u32 = 1769;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `None`: the source bucket.
    pub dest_bucket: Option<String>,
    /// `UPLOADS_BUCKET_OWNER`: the account that must own the uploads (and destination)
    /// bucket; S3 refuses any other.
    pub uploads_bucket_owner: Option<String>,
    /// Ends with `/` (or is empty when `dest_bucket` is another bucket).
    pub dest_prefix: String,
    pub failed_prefix: String,
    pub sizes: Vec<BoxSize>,
    /// `THUMBNAIL_FIT` and `CROP`: the whole photo inside each box, or the box filled.
    pub fit: Fit,
    pub format: OutputFormat,
    pub cache_control: String,
    pub max_input_bytes: u64,
    pub limits: Limits,
    pub memory: MemoryBudget,
    /// Records in flight at once (downloads and uploads overlap decoding).
    pub max_concurrent_records: usize,
    pub delete_with_source: bool,
    /// Where the run's metrics go (CloudWatch Embedded Metric Format on stdout).
    pub metrics: shared::metrics::MetricsConfig,
    /// The photo catalogue (`PHOTOS_TABLE`), off when unset.
    pub photos: Option<PhotosConfig>,
}

/// Each photo's record in DynamoDB and, with a topic, its announcement on SNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotosConfig {
    pub table: String,
    pub topic_arn: Option<String>,
    /// How many leading folders of a key name its owner (`PHOTOS_OWNER_DEPTH`, default 1).
    pub owner_depth: usize,
    /// Whether the record keeps the photo's GPS position (`STORE_LOCATION`, default false).
    pub store_location: bool,
    /// `DUPLICATE_DISTANCE`: how many bits of the perceptual hash a near-duplicate may differ
    /// in (0 to 32, default 10), or `None` (`off`): no lookup, no band items.
    pub duplicate_distance: Option<u32>,
}

/// The default near-duplicate distance: from the corpus table (docs/functions/thumbnailer.md),
/// above every resized, recompressed and converted copy (4 bits at most) and most 5% crops,
/// below the closest two different pictures (18 bits).
pub const DEFAULT_DUPLICATE_DISTANCE: u32 = 10;

impl PhotosConfig {
    fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let topic_arn = env.optional("PHOTOS_TOPIC_ARN");
        if let Some(topic) = &topic_arn
            && !topic.starts_with("arn:")
        {
            return Err(ConfigError::invalid("PHOTOS_TOPIC_ARN", topic.clone(), "an SNS topic ARN, arn:aws:sns:..."));
        }
        let Some(table) = env.optional("PHOTOS_TABLE") else {
            if let Some(topic) = topic_arn {
                return Err(ConfigError::invalid(
                    "PHOTOS_TOPIC_ARN",
                    topic,
                    "PHOTOS_TABLE set too: the photo record is what makes each change announced once",
                ));
            }
            return Ok(None);
        };
        let owner_depth = env.parse_or("PHOTOS_OWNER_DEPTH", 1usize, "a number of folders from 0 to 10")?;
        if owner_depth > 10 {
            return Err(ConfigError::invalid(
                "PHOTOS_OWNER_DEPTH",
                owner_depth.to_string(),
                "a number of folders from 0 to 10",
            ));
        }
        let duplicate_distance = match env.optional("DUPLICATE_DISTANCE").as_deref().map(str::trim) {
            None => Some(DEFAULT_DUPLICATE_DISTANCE),
            Some(off) if off.eq_ignore_ascii_case("off") => None,
            Some(text) => match text.parse::<u32>() {
                Ok(bits) if bits <= 32 => Some(bits),
                _ => {
                    return Err(ConfigError::invalid(
                        "DUPLICATE_DISTANCE",
                        text.to_owned(),
                        "a number of bits from 0 to 32 (10 by default), or off",
                    ));
                }
            },
        };
        Ok(Some(Self {
            table,
            topic_arn,
            owner_depth,
            store_location: env.bool_or("STORE_LOCATION", false)?,
            duplicate_distance,
        }))
    }
}

/// The memory a batch may use for images, derived from the function's memory size
/// (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, which Lambda sets) less what the process holds
/// anyway. Split in two pools so that a download never waits on a decode that waits on
/// it: downloaded bytes, and what decodes hold (the per-image allowance is all of that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    pub memory_size_mb: u32,
    pub input_bytes: u64,
    pub decode_bytes: u64,
    /// Decodes at once: the vCPUs the memory size buys.
    pub decoders: usize,
}

impl MemoryBudget {
    pub fn for_memory_size(memory_size_mb: u32, max_input_bytes: u64) -> Result<Self, ConfigError> {
        let total = (u64::from(memory_size_mb) * MIB).saturating_sub(PROCESS_RESERVE);
        let input_bytes = max_input_bytes.max(total / 4);
        if total < 128 * MIB || input_bytes > total / 2 {
            return Err(ConfigError::invalid(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                memory_size_mb.to_string(),
                format!(
                    "enough memory for MAX_INPUT_BYTES={max_input_bytes} and its decode: at least {} MB (raise the function's MemorySize or lower MAX_INPUT_BYTES)",
                    (PROCESS_RESERVE + (2 * max_input_bytes).max(128 * MIB)).div_ceil(MIB)
                ),
            ));
        }
        let decoders = usize::try_from(memory_size_mb.div_ceil(MB_PER_VCPU)).unwrap_or(1).max(1);
        Ok(Self { memory_size_mb, input_bytes, decode_bytes: total - input_bytes, decoders })
    }
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
            Some("avif") => OutputFormat::Avif { quality },
            Some("png") => OutputFormat::Png,
            Some("same") => OutputFormat::Same { quality },
            Some(other) => {
                return Err(ConfigError::invalid(
                    "THUMBNAIL_FORMAT",
                    other.to_owned(),
                    "jpeg, webp, avif, png or same",
                ));
            }
        };
        let fit = fit_from_env(env)?;
        let max_input_bytes = env.parse_or("MAX_INPUT_BYTES", 50_000_000u64, "a number of bytes")?;
        let max_pixels = env.parse_or("MAX_INPUT_PIXELS", 100_000_000u64, "a number of pixels")?;
        // Lambda always sets the memory size; a local run is treated as the template's 512 MB.
        let memory_size_mb = env.parse_or("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 512u32, "a number of megabytes")?;
        let memory = MemoryBudget::for_memory_size(memory_size_mb, max_input_bytes)?;
        let max_concurrent_records = env.parse_or("MAX_CONCURRENT_RECORDS", 8usize, "a whole number from 1 to 100")?;
        if !(1..=100).contains(&max_concurrent_records) {
            return Err(ConfigError::invalid(
                "MAX_CONCURRENT_RECORDS",
                max_concurrent_records.to_string(),
                "a whole number from 1 to 100",
            ));
        }
        Ok(Self {
            dest_bucket,
            uploads_bucket_owner: env.account_id("UPLOADS_BUCKET_OWNER")?,
            dest_prefix,
            failed_prefix,
            sizes,
            fit,
            format,
            cache_control: env
                .optional("CACHE_CONTROL")
                .unwrap_or_else(|| "public, max-age=31536000, immutable".to_owned()),
            max_input_bytes,
            limits: Limits { max_pixels, max_alloc_bytes: memory.decode_bytes },
            memory,
            max_concurrent_records,
            delete_with_source: env.bool_or("DELETE_WITH_SOURCE", false)?,
            metrics: shared::metrics::MetricsConfig::from_env(env, "thumbnailer")?,
            photos: PhotosConfig::from_env(env)?,
        })
    }
}

/// `THUMBNAIL_FIT=contain` (the default) or `cover`, and with `cover` the `CROP` (default
/// `attention`). A `CROP` without `cover` is refused: it would silently do nothing.
fn fit_from_env(env: &Env) -> Result<Fit, ConfigError> {
    let crop = match env.optional("CROP").map(|c| c.to_ascii_lowercase()).as_deref() {
        None => None,
        Some("centre" | "center") => Some(Crop::Centre),
        Some("attention") => Some(Crop::Attention),
        Some("entropy") => Some(Crop::Entropy),
        Some(other) => return Err(ConfigError::invalid("CROP", other.to_owned(), "centre, attention or entropy")),
    };
    match env.optional("THUMBNAIL_FIT").map(|f| f.to_ascii_lowercase()).as_deref() {
        None | Some("contain") => match crop {
            None => Ok(Fit::Contain),
            Some(crop) => Err(ConfigError::invalid(
                "CROP",
                crop.name().to_owned(),
                "THUMBNAIL_FIT=cover as well: a contain thumbnail keeps the whole photo and crops nothing",
            )),
        },
        Some("cover") => Ok(Fit::Cover(crop.unwrap_or(Crop::Attention))),
        Some(other) => Err(ConfigError::invalid("THUMBNAIL_FIT", other.to_owned(), "contain or cover")),
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
        assert_eq!(config.fit, Fit::Contain);
        assert_eq!(config.max_input_bytes, 50_000_000);
        assert_eq!(config.limits.max_pixels, 100_000_000);
        // 512 MB less the process's 80 MiB: a quarter for downloads, the rest for decodes.
        assert_eq!(
            config.memory,
            MemoryBudget { memory_size_mb: 512, input_bytes: 108 * MIB, decode_bytes: 324 * MIB, decoders: 1 }
        );
        assert_eq!(config.limits.max_alloc_bytes, 324 * MIB);
        assert_eq!(config.photos, None);
        let photos = parse_settings(Config::from_env, &[("PHOTOS_TABLE", "photos")]).expect("a table").photos;
        assert_eq!(
            photos,
            Some(PhotosConfig {
                table: "photos".to_owned(),
                topic_arn: None,
                owner_depth: 1,
                store_location: false,
                duplicate_distance: Some(10)
            })
        );
    }

    #[test]
    fn the_memory_budget_follows_the_functions_memory_size() {
        for (memory_mb, max_input, expected) in [
            (1024, 50_000_000, Some((236 * MIB, 708 * MIB, 1))),
            (1769, 50_000_000, Some((422 * MIB + 256 * 1024, 1266 * MIB + 768 * 1024, 1))),
            (3538, 50_000_000, Some((864 * MIB + 512 * 1024, 2593 * MIB + 512 * 1024, 2))),
            // Downloads get at least MAX_INPUT_BYTES.
            (512, 200 * MIB, Some((200 * MIB, 232 * MIB, 1))),
            (512, 300 * MIB, None),
            (128, 50_000_000, None),
        ] {
            let budget = MemoryBudget::for_memory_size(memory_mb, max_input).ok();
            assert_eq!(budget.map(|b| (b.input_bytes, b.decode_bytes, b.decoders)), expected, "{memory_mb} MB");
        }
        let err =
            parse_settings(Config::from_env, &[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")]).expect_err("too small");
        assert!(err.contains("raise the function's MemorySize"), "{err}");
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
    fn the_duplicate_distance() {
        for (value, expected) in [("0", Some(0)), ("12", Some(12)), ("32", Some(32)), ("off", None), ("OFF", None)] {
            let config = parse_settings(Config::from_env, &[("PHOTOS_TABLE", "photos"), ("DUPLICATE_DISTANCE", value)])
                .expect("valid");
            assert_eq!(config.photos.map(|p| p.duplicate_distance), Some(expected), "{value}");
        }
    }

    #[test]
    fn the_fit_and_its_crop() {
        for (pairs, expected) in [
            (&[("THUMBNAIL_FIT", "contain")][..], Fit::Contain),
            (&[("THUMBNAIL_FIT", "cover")][..], Fit::Cover(Crop::Attention)),
            (&[("THUMBNAIL_FIT", "Cover"), ("CROP", "centre")][..], Fit::Cover(Crop::Centre)),
            (&[("THUMBNAIL_FIT", "cover"), ("CROP", "center")][..], Fit::Cover(Crop::Centre)),
            (&[("THUMBNAIL_FIT", "cover"), ("CROP", "entropy")][..], Fit::Cover(Crop::Entropy)),
            (&[("THUMBNAIL_FIT", "cover"), ("CROP", "attention")][..], Fit::Cover(Crop::Attention)),
        ] {
            assert_eq!(parse_settings(Config::from_env, pairs).expect("valid").fit, expected, "{pairs:?}");
        }
    }

    #[test]
    fn errors_name_the_setting() {
        for (pairs, expected) in [
            (&[("THUMBNAIL_SIZES", "big")][..], "invalid setting THUMBNAIL_SIZES=\"big\""),
            (
                &[("THUMBNAIL_FORMAT", "heic")][..],
                "invalid setting THUMBNAIL_FORMAT=\"heic\": expected jpeg, webp, avif, png or same",
            ),
            (&[("JPEG_QUALITY", "0")][..], "invalid setting JPEG_QUALITY=\"0\""),
            (&[("THUMBNAIL_FIT", "fill")][..], "invalid setting THUMBNAIL_FIT=\"fill\": expected contain or cover"),
            (
                &[("THUMBNAIL_FIT", "cover"), ("CROP", "faces")][..],
                "invalid setting CROP=\"faces\": expected centre, attention or entropy",
            ),
            (&[("CROP", "entropy")][..], "invalid setting CROP=\"entropy\": expected THUMBNAIL_FIT=cover as well"),
            (&[("MAX_INPUT_BYTES", "50MB")][..], "invalid setting MAX_INPUT_BYTES=\"50MB\""),
            (
                &[("PHOTOS_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:photos")][..],
                "invalid setting PHOTOS_TOPIC_ARN=\"arn:aws:sns:eu-west-1:123456789012:photos\": expected PHOTOS_TABLE set too",
            ),
            (
                &[("PHOTOS_TABLE", "photos"), ("PHOTOS_TOPIC_ARN", "photos")][..],
                "invalid setting PHOTOS_TOPIC_ARN=\"photos\"",
            ),
            (
                &[("PHOTOS_TABLE", "photos"), ("PHOTOS_OWNER_DEPTH", "11")][..],
                "invalid setting PHOTOS_OWNER_DEPTH=\"11\"",
            ),
            (
                &[("PHOTOS_TABLE", "photos"), ("STORE_LOCATION", "maybe")][..],
                "invalid setting STORE_LOCATION=\"maybe\"",
            ),
            (
                &[("PHOTOS_TABLE", "photos"), ("DUPLICATE_DISTANCE", "33")][..],
                "invalid setting DUPLICATE_DISTANCE=\"33\": expected a number of bits from 0 to 32",
            ),
        ] {
            let err = parse_settings(Config::from_env, pairs).expect_err("invalid");
            assert!(err.starts_with(expected), "{err}");
        }
    }
}

//! Why an input can never become a thumbnail, in words and in a handful of classes. Its own
//! module: every decoder returns it, and the pipeline calls every decoder.

/// Why an input can never become a thumbnail: retrying cannot help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("not an image (or a format other than JPEG, PNG, WebP, GIF and HEIC)")]
    NotAnImage,
    #[error("the image is {width} x {height} = {} pixels, over the limit of {limit} (MAX_INPUT_PIXELS)", u64::from(*width) * u64::from(*height))]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("the object is {size} bytes, over the limit of {limit} (MAX_INPUT_BYTES)")]
    TooManyBytes { size: u64, limit: u64 },
    #[error("decoding the {width} x {height} image needs about {} MiB, over the {} MiB this function's memory size allows for one image (a larger MemorySize raises it)", needed / (1024 * 1024), limit / (1024 * 1024))]
    TooMuchMemory { width: u32, height: u32, needed: u64, limit: u64 },
    #[error(
        "the JPEG has {scans} scans, over the limit of {limit}: decoding it would take far longer than any photo (a known denial-of-service pattern)"
    )]
    TooManyScans { scans: usize, limit: usize },
    #[error("the image is corrupt or truncated: {0}")]
    Corrupt(String),
    /// The upload's name makes a thumbnail impossible (S3's key or metadata limits).
    #[error("{0}")]
    NameTooLong(String),
    /// The decoder panicked: a bug in a decoder this input reaches, the same every time.
    #[error("the image decoder failed on this file ({0})")]
    DecoderPanic(String),
}

/// What kind of rejection, for the metrics: a handful of classes an operator can chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectionClass {
    NotAnImage,
    /// Over a limit: bytes, pixels, memory, scans.
    TooLarge,
    /// Corrupt, truncated, or a decoder that failed on it.
    Corrupt,
    /// A name S3 cannot take for the thumbnail.
    BadName,
    /// S3 refused to give the object (an archived object, say).
    Unreadable,
}

impl RejectionClass {
    pub const ALL: [Self; 5] = [Self::NotAnImage, Self::TooLarge, Self::Corrupt, Self::BadName, Self::Unreadable];

    /// The metric that counts this class.
    pub fn metric_name(self) -> &'static str {
        match self {
            Self::NotAnImage => "RejectedNotAnImage",
            Self::TooLarge => "RejectedTooLarge",
            Self::Corrupt => "RejectedCorrupt",
            Self::BadName => "RejectedBadName",
            Self::Unreadable => "RejectedUnreadable",
        }
    }
}

impl Rejection {
    pub fn class(&self) -> RejectionClass {
        match self {
            Self::NotAnImage => RejectionClass::NotAnImage,
            Self::TooManyPixels { .. }
            | Self::TooManyBytes { .. }
            | Self::TooMuchMemory { .. }
            | Self::TooManyScans { .. } => RejectionClass::TooLarge,
            Self::Corrupt(_) | Self::DecoderPanic(_) => RejectionClass::Corrupt,
            Self::NameTooLong(_) => RejectionClass::BadName,
        }
    }
}

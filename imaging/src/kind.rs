//! The image formats the thumbnailer reads and writes, each with its file extension, its
//! content type and the name the photo record gives it: one place, not a string per caller.

/// An image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImageKind {
    Jpeg,
    Png,
    Webp,
    Avif,
    Gif,
    /// HEIC or HEIF: read, never written (its thumbnails are JPEG, what every browser shows).
    Heic,
}

impl ImageKind {
    /// The extension a thumbnail of this kind gets.
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Avif => "avif",
            Self::Gif => "gif",
            Self::Heic => "heic",
        }
    }

    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Avif => "image/avif",
            Self::Gif => "image/gif",
            Self::Heic => "image/heic",
        }
    }

    /// The name in the photo record and its announcement.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Avif => "avif",
            Self::Gif => "gif",
            Self::Heic => "heic",
        }
    }

    /// The kind of an input, from its first bytes: a format the pipeline decodes, or `None`.
    pub fn of_input(bytes: &[u8]) -> Option<Self> {
        if crate::heic::is_heic(bytes) {
            return Some(Self::Heic);
        }
        match image::guess_format(bytes).ok()? {
            image::ImageFormat::Jpeg => Some(Self::Jpeg),
            image::ImageFormat::Png => Some(Self::Png),
            image::ImageFormat::WebP => Some(Self::Webp),
            image::ImageFormat::Gif => Some(Self::Gif),
            _ => None,
        }
    }
}

//! The gallery's paging cursor: where the next page starts, signed for one caller. Opaque to
//! the caller; another caller's cursor, a changed one or an expired one is refused, so no
//! cursor ever reads outside the caller's folder.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::PhotosApiError;

/// What a cursor carries: the last key of the page before, and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Payload {
    #[serde(rename = "k")]
    key: String,
    #[serde(rename = "e")]
    expires: i64,
}

/// The key cursors are signed with.
#[derive(Debug)]
pub struct CursorKey(hmac::Key);

impl CursorKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// The message signed: the caller's folder is part of it, so a cursor made for one
    /// caller does not verify for another.
    fn message(folder: &str, payload: &str) -> Vec<u8> {
        format!("photos-api cursor v1\n{folder}\n{payload}").into_bytes()
    }

    /// A cursor after `last_key` for the caller whose folder is `folder`.
    pub fn seal(&self, folder: &str, last_key: &str, expires_unix: i64) -> String {
        let payload =
            serde_json::to_vec(&Payload { key: last_key.to_owned(), expires: expires_unix }).unwrap_or_default();
        let payload = URL_SAFE_NO_PAD.encode(payload);
        let tag = hmac::sign(&self.0, &Self::message(folder, &payload));
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The key a cursor starts after, if this key signed it for this caller and it has not
    /// expired. Every refusal is the same 400: a caller learns nothing from which check failed.
    pub fn open(&self, folder: &str, cursor: &str, now_unix: i64) -> Result<String, PhotosApiError> {
        let refused = || {
            PhotosApiError::BadRequest("cursor is not valid: start again from the first page (no cursor)".to_owned())
        };
        let (payload, tag) = cursor.split_once('.').ok_or_else(refused)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| refused())?;
        hmac::verify(&self.0, &Self::message(folder, payload), &tag).map_err(|_| refused())?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| refused())?;
        let payload: Payload = serde_json::from_slice(&payload).map_err(|_| refused())?;
        if payload.expires <= now_unix || !payload.key.starts_with(folder) {
            return Err(refused());
        }
        Ok(payload.key)
    }
}

//! The email as SES sends it: one MIME message, built here rather than by SES, so the
//! chart can be an inline `multipart/related` part that the HTML names by `cid:`.
//!
//! ```text
//! multipart/mixed
//! ├─ multipart/related            (only when there is a chart)
//! │  ├─ multipart/alternative
//! │  │  ├─ text/plain
//! │  │  └─ text/html              <img src="cid:cost-chart@cost-report">
//! │  └─ image/png                 inline, Content-ID <cost-chart@cost-report>
//! ├─ text/csv                     attachment
//! └─ text/csv                     attachment
//! ```

use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::MimePart;

use super::chart::{CHART_CONTENT_ID, CHART_FILE_NAME};
use super::render::EmailContent;

/// The raw message: headers (From, To, Subject; Date and Message-ID, which SES keeps or
/// replaces) and the body above. `attachments` are (file name, CSV bytes).
pub fn render_mime(from: &str, to: &[String], email: &EmailContent, attachments: &[(&str, &[u8])]) -> Vec<u8> {
    let alternative = MimePart::new(
        "multipart/alternative",
        vec![MimePart::new("text/plain", email.text.as_str()), MimePart::new("text/html", email.html.as_str())],
    );
    let readable = match &email.chart_png {
        Some(png) => MimePart::new(
            "multipart/related",
            vec![
                alternative,
                // Inline, with the file's name for clients that offer to save the image.
                MimePart::new("image/png", png.as_slice())
                    .header("Content-Disposition", ContentType::new("inline").attribute("filename", CHART_FILE_NAME))
                    .cid(CHART_CONTENT_ID),
            ],
        ),
        None => alternative,
    };
    let mut parts = vec![readable];
    parts.extend(attachments.iter().map(|(name, bytes)| MimePart::new("text/csv", *bytes).attachment(*name)));
    MessageBuilder::new()
        .from(from)
        .to(to.iter().map(String::as_str).collect::<Vec<_>>())
        .subject(email.subject.as_str())
        .body(MimePart::new("multipart/mixed", parts))
        .write_to_vec()
        .unwrap_or_default()
}

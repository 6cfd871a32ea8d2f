//! Camera images arrive as JPEG; a file cut short still decodes (libjpeg
//! only warns), so completeness is checked on the bytes.

/// Starts with SOI (FF D8) and ends with EOI (FF D9), ignoring trailing
/// padding: libjpeg decodes a truncated file with only a warning.
pub fn is_complete_jpeg(bytes: &[u8]) -> bool {
    let trimmed = match bytes.iter().rposition(|&b| b != 0) {
        Some(last) => &bytes[..=last],
        None => return false,
    };
    trimmed.starts_with(&[0xFF, 0xD8]) && trimmed.ends_with(&[0xFF, 0xD9])
}

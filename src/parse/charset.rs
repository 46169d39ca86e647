//! Decides a feed's charset (BOM, HTTP `charset`, XML declaration, detection) and hands
//! the parser UTF-8 text.

use std::borrow::Cow;

/// Decides the charset and returns UTF-8 text, with any XML declaration's `encoding`
/// rewritten to match (feed-rs would otherwise decode a second time).
pub fn decode_to_utf8<'a>(bytes: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    if let Some(text) = decode_utf32_bom(bytes) {
        return Cow::Owned(declare_utf8(&text).into_owned());
    }
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return Cow::Owned(declare_utf8(&text).into_owned());
    }
    if let Some(encoding) = utf16_without_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(bytes);
        return Cow::Owned(declare_utf8(&text).into_owned());
    }
    let declared = content_type
        .and_then(charset_from_content_type)
        .or_else(|| charset_from_xml_declaration(bytes))
        .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()));
    let valid_utf8 = std::str::from_utf8(bytes).ok();
    let encoding = match (declared, valid_utf8) {
        // A single-byte label on text that is valid multi-byte UTF-8 is almost always a
        // server default (text/xml; charset=ISO-8859-1) rather than the truth.
        (Some(enc), Some(_)) if enc.is_single_byte() || enc == encoding_rs::UTF_8 => None,
        (Some(enc), _) if enc == encoding_rs::UTF_8 => None,
        (Some(enc), _) => Some(enc),
        (None, Some(_)) => None,
        (None, None) => Some(detect_charset(bytes)),
    };
    match (encoding, valid_utf8) {
        (None, Some(text)) => declare_utf8(text),
        (None, None) => Cow::Owned(declare_utf8(&String::from_utf8_lossy(bytes)).into_owned()),
        (Some(encoding), _) => {
            let (text, _, _) = encoding.decode(bytes);
            Cow::Owned(declare_utf8(&text).into_owned())
        }
    }
}

/// The likeliest charset of text that declares none and is not UTF-8.
fn detect_charset(bytes: &[u8]) -> &'static encoding_rs::Encoding {
    // Only reached for bytes that are not valid UTF-8, so UTF-8 is no candidate.
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    detector.guess(None, chardetng::Utf8Detection::Deny)
}

fn decode_utf32_bom(bytes: &[u8]) -> Option<String> {
    let little = match bytes {
        [0xFF, 0xFE, 0x00, 0x00, ..] => true,
        [0x00, 0x00, 0xFE, 0xFF, ..] => false,
        _ => return None,
    };
    let mut text = String::with_capacity(bytes.len() / 4);
    for chunk in bytes[4..].chunks_exact(4) {
        let word: [u8; 4] = chunk.try_into().ok()?;
        let code = if little {
            u32::from_le_bytes(word)
        } else {
            u32::from_be_bytes(word)
        };
        text.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
    }
    Some(text)
}

fn utf16_without_bom(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    match bytes {
        [b'<', 0, b'?' | b'r' | b'f' | b'!', 0, ..] => Some(encoding_rs::UTF_16LE),
        [0, b'<', 0, b'?' | b'r' | b'f' | b'!', ..] => Some(encoding_rs::UTF_16BE),
        _ => None,
    }
}

fn charset_from_content_type(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']).to_string())
    })
}

fn charset_from_xml_declaration(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(256)];
    let head = std::str::from_utf8(head)
        .ok()
        .map(Cow::Borrowed)
        .unwrap_or_else(|| String::from_utf8_lossy(head));
    let decl_end = head.find("?>")?;
    let decl = &head[..decl_end];
    if !decl.trim_start().starts_with("<?xml") {
        return None;
    }
    crate::xml::attribute(decl, "encoding")
}

/// Rewrites `encoding="…"` in an XML declaration to utf-8.
fn declare_utf8(text: &str) -> Cow<'_, str> {
    let trimmed_start = text.len() - text.trim_start().len();
    let rest = &text[trimmed_start..];
    if !rest.starts_with("<?xml") {
        return Cow::Borrowed(text);
    }
    let Some(end) = rest.find("?>") else {
        return Cow::Borrowed(text);
    };
    let decl = &rest[..end];
    let Some(value) = crate::xml::attribute(decl, "encoding") else {
        return Cow::Borrowed(text);
    };
    if value.eq_ignore_ascii_case("utf-8") {
        return Cow::Borrowed(text);
    }
    let new_decl = decl
        .replacen(&format!("\"{value}\""), "\"utf-8\"", 1)
        .replacen(&format!("'{value}'"), "\"utf-8\"", 1);
    Cow::Owned(format!(
        "{}{}{}",
        &text[..trimmed_start],
        new_decl,
        &rest[end..]
    ))
}

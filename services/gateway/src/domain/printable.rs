//! What a name shown to other people may contain (display names, group names).
//!
//! Text is normalized to NFC first, so one name has one spelling (`é` typed as one
//! code point or as `e` plus a combining accent is the same name), then trimmed. Then
//! refused, not stripped (a name silently changed is a name its owner did not choose):
//! - control characters;
//! - the bidirectional controls (U+061C, U+200E, U+200F, U+202A..U+202E,
//!   U+2066..U+2069), which make `Adm\u{202E}gnp.exe` display as `Admexe.png`;
//! - zero-width and invisible characters (U+200B, U+200C, U+2060..U+2064, U+180E,
//!   U+FEFF, the BOM, U+00AD), which make two different names look alike;
//! - U+200D (zero-width joiner) except between two emoji, where it builds one emoji
//!   (👩‍💻) and changes no letter.

use unicode_normalization::UnicodeNormalization;

/// The name in NFC, trimmed, if it has `1..=max_chars` characters and none of the
/// refused ones above.
pub fn printable_name(raw: &str, max_chars: usize) -> Option<String> {
    let normalized: String = raw.nfc().collect();
    let s = normalized.trim();
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() || chars.len() > max_chars {
        return None;
    }
    for (i, &c) in chars.iter().enumerate() {
        if c.is_control() || invisible_or_bidi(c) {
            return None;
        }
        if c == '\u{200D}' {
            let before = i.checked_sub(1).and_then(|j| chars.get(j));
            let after = chars.get(i + 1);
            if !(before.is_some_and(|&b| emoji_part(b)) && after.is_some_and(|&a| emoji_part(a))) {
                return None;
            }
        }
    }
    Some(s.to_string())
}

fn invisible_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}' | '\u{200C}' | '\u{200E}' | '\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// A character an emoji ZWJ sequence is made of: pictographs, the variation selector
/// that asks for emoji presentation, and skin-tone modifiers.
fn emoji_part(c: char) -> bool {
    matches!(c,
        '\u{2600}'..='\u{27BF}' | '\u{2B00}'..='\u{2BFF}' | '\u{FE0F}' | '\u{1F000}'..='\u{1FAFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass_normalized_and_trimmed() {
        assert_eq!(printable_name("  Alice  ", 64).as_deref(), Some("Alice"));
        assert_eq!(
            printable_name("Zoë Ångström", 64).as_deref(),
            Some("Zoë Ångström")
        );
        assert_eq!(printable_name("محمد", 64).as_deref(), Some("محمد"));
        // e + combining acute is stored as the one code point é.
        assert_eq!(
            printable_name("Jose\u{301}", 64).as_deref(),
            Some("Jos\u{e9}")
        );
    }

    #[test]
    fn bidi_controls_invisible_characters_and_bom_are_refused() {
        for name in [
            "Adm\u{202E}gnp.exe",
            "a\u{2066}b\u{2069}",
            "a\u{200F}b",
            "ad\u{200B}min",
            "\u{FEFF}admin",
            "ad\u{00AD}min",
            "a\u{2060}b",
            "x\u{200D}y",
            "\u{200D}\u{1F4BB}",
            "tab\there",
        ] {
            assert_eq!(printable_name(name, 64), None, "{name:?}");
        }
    }

    #[test]
    fn emoji_sequences_keep_their_joiner() {
        let coder = "\u{1F469}\u{200D}\u{1F4BB}"; // woman technologist
        assert_eq!(printable_name(coder, 64).as_deref(), Some(coder));
        let rainbow = "\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}";
        assert_eq!(printable_name(rainbow, 64).as_deref(), Some(rainbow));
    }

    #[test]
    fn length_is_counted_in_characters_after_trimming() {
        assert_eq!(printable_name("   ", 64), None);
        assert!(printable_name(&"é".repeat(64), 64).is_some());
        assert_eq!(printable_name(&"é".repeat(65), 64), None);
    }
}

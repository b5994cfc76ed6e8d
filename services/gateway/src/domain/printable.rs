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
//! - other characters that render as nothing or as blank space: U+034F, the line and
//!   paragraph separators, U+206A..U+206F, the Hangul fillers, U+17B4/U+17B5,
//!   U+FFF9..U+FFFB, the invisible musical formatting marks;
//! - U+200D (zero-width joiner) except between two emoji, where it builds one emoji
//!   (👩‍💻) and changes no letter;
//! - variation selectors except where they choose how the character before them is
//!   drawn: U+FE0E/U+FE0F after an emoji or a keycap base, the ideographic variation
//!   selectors after a CJK ideograph (elsewhere they are invisible padding);
//! - tag characters except in an emoji tag sequence (🏴 followed by tags, as in the
//!   flags of England or Scotland).

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
        let before = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
        let placed = match c {
            '\u{FE0E}' | '\u{FE0F}' => before.is_some_and(|b| emoji_part(b) || keycap_base(b)),
            '\u{FE00}'..='\u{FE0D}' | '\u{E0100}'..='\u{E01EF}' => before.is_some_and(ideograph),
            '\u{E0000}'..='\u{E007F}' => in_flag_tag_sequence(&chars, i),
            _ => true,
        };
        if !placed {
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
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180E}' | '\u{200B}' | '\u{200C}' | '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
        | '\u{3164}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{1D173}'..='\u{1D17A}')
}

/// Characters drawn as text by default that have an emoji form U+FE0F asks for
/// (arrows, technical symbols, geometric shapes, ©, ®, ™...), and keycap bases.
fn keycap_base(c: char) -> bool {
    matches!(c,
        '0'..='9' | '#' | '*' | '\u{00A9}' | '\u{00AE}' | '\u{203C}' | '\u{2049}' | '\u{2122}'
        | '\u{2139}' | '\u{2190}'..='\u{21FF}' | '\u{2300}'..='\u{23FF}' | '\u{24C2}'
        | '\u{25A0}'..='\u{25FF}' | '\u{3030}' | '\u{303D}' | '\u{3297}' | '\u{3299}')
}

/// CJK ideographs, whose glyph variants the ideographic variation selectors choose.
fn ideograph(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3134F}')
}

/// Whether the tag character at `i` belongs to a run of tags right after 🏴 (U+1F3F4)
/// that ends with the cancel tag U+E007F.
fn in_flag_tag_sequence(chars: &[char], i: usize) -> bool {
    let is_tag = |c: &char| ('\u{E0020}'..='\u{E007F}').contains(c);
    let start = chars[..i].iter().rposition(|c| !is_tag(c));
    let flag_before = start.is_some_and(|s| chars[s] == '\u{1F3F4}');
    let end = chars[i..]
        .iter()
        .position(|&c| c == '\u{E007F}')
        .map(|p| i + p);
    let run_unbroken = end.is_some_and(|e| chars[i..=e].iter().all(is_tag));
    flag_before && run_unbroken
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
    fn other_blank_characters_and_stray_selectors_and_tags_are_refused() {
        for name in [
            "ad\u{034F}min",
            "a\u{2028}b",
            "a\u{206A}b",
            "\u{3164}",
            "a\u{3164}b",
            "a\u{FFF9}b",
            "admin\u{FE0F}",
            "ad\u{FE00}min",
            "admin\u{E0041}\u{E007F}",
            "\u{1F3F4}\u{E0067}\u{E0062}",
            "a\u{1D173}b",
        ] {
            assert_eq!(printable_name(name, 64), None, "{name:?}");
        }
    }

    #[test]
    fn selectors_and_tags_that_draw_something_pass() {
        for name in [
            "\u{2764}\u{FE0F} team",   // red heart, emoji form
            "1\u{FE0F}\u{20E3} first", // keycap one
            "\u{00A9}\u{FE0F} legal",  // copyright sign, emoji form
            "\u{845B}\u{E0100}",       // an ideograph with a variation selector
            // The flag of England: black flag, the tags g b e n g, cancel tag.
            "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F} fans",
        ] {
            assert_eq!(printable_name(name, 64).as_deref(), Some(name), "{name:?}");
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

//! Urdu-aware folding: the one rule by which two spellings of a name count as the same name.
//! Model-output alignment (`text::align`) places a model's entity text in a chunk under it, and
//! the knowledge base (`knowledge::index`) matches a mention to an entry's aliases under it, so
//! a name the aligner finds is a name the knowledge base recognises, and the other way round.
//!
//! The folding, one original character at a time ([`Folder`]):
//! - compatibility decomposition (NFKD): presentation forms become letters, and letters with
//!   a hamza or madda become the letter and the mark: آ أ إ → ا, ؤ → و, ئ → ي (→ ی),
//!   ۂ → ہ, ۓ → ے, ۀ → ە (→ ہ); a standalone hamza ء stays a letter;
//! - dropped: every combining mark (harakat U+064B–U+0652, superscript alef U+0670, the
//!   honorifics U+0610–U+061A such as ؑ and ؓ, Quranic marks, and the marks split off above),
//!   the zero-width characters (ZWNJ, ZWJ, ZWSP, word joiner, BOM), the direction marks (LRM,
//!   RLM, ALM) and tatweel (U+0640), none of which changes the word a reader sees;
//! - the izafat is optional: its zer (شاہِ کربلا) is a mark and dropped, its hamza on heh or
//!   yeh barree (چہرۂ, ۓ) is split off by NFKD and dropped, and a standalone hamza written after
//!   a heh for it (نغمہء) is dropped too; so شاہِ کربلا, شاہ کربلا and چہرۂ / چہرہ / چہرہء
//!   fold alike. (An izafat written out as ئے after alef or waw, دریائے, is not folded: it is
//!   spelled as verb endings are, جائے, and those are other words.);
//! - letters unified: yeh ی U+06CC ← ي U+064A, ى U+0649, ې U+06D0; kaf ک U+06A9 ← ك U+0643,
//!   ڪ U+06AA; heh ہ U+06C1 ← ه U+0647, ە U+06D5; teh marbuta ۃ U+06C3 ← ة U+0629; alef ا ←
//!   ٱ U+0671; Arabic-Indic and Urdu digits → ASCII digits. Do-chashmi heh ھ U+06BE is NOT
//!   unified with ہ (it marks aspiration in Urdu: بھاری is not بہاری), nor is yeh barree ے
//!   with ی;
//! - lower case; whitespace becomes a space ([`fold`] makes every run of it one space).

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

const HEH: char = '\u{06C1}';
const HAMZA: char = '\u{0621}';

/// Folds a text one original character at a time, so callers can tie every folded character
/// to the character it came from (the aligner maps matches back to offsets this way).
#[derive(Debug, Clone, Copy, Default)]
pub struct Folder {
    /// The last folded character given out (to drop the hamza of an izafat after a heh).
    last: Option<char>,
}

impl Folder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives `emit` the folded characters of the original character `c` (none, one or
    /// several); whitespace comes out as `' '`, one per whitespace character.
    pub fn push(&mut self, c: char, mut emit: impl FnMut(char)) {
        decompose_compatible(c, |d| {
            if d.is_whitespace() {
                self.last = Some(' ');
                emit(' ');
                return;
            }
            // Lower-casing may add a mark (İ → i + U+0307): drop it afterwards.
            for folded in fold_letter(d).to_lowercase().filter(|&l| !is_ignorable(l)) {
                if folded == HAMZA && self.last == Some(HEH) {
                    continue; // The izafat of نغمہء دل.
                }
                self.last = Some(folded);
                emit(folded);
            }
        });
    }
}

/// `s` folded, every run of whitespace made one space (ends are not trimmed: see [`fold_key`]).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut folder = Folder::new();
    for c in s.chars() {
        folder.push(c, |f| {
            if f != ' ' || !out.ends_with(' ') {
                out.push(f);
            }
        });
    }
    out
}

/// The key two names are compared by: [`fold`], trimmed. Empty for a text of nothing but
/// marks, joiners and spaces.
pub fn fold_key(s: &str) -> String {
    let folded = fold(s);
    let trimmed = folded.trim();
    if trimmed.len() == folded.len() { folded } else { trimmed.to_owned() }
}

/// Characters that do not change the word a reader sees.
pub(crate) fn is_ignorable(c: char) -> bool {
    is_combining_mark(c)
        || matches!(
            c,
            '\u{0640}' // tatweel
            | '\u{061C}' // Arabic letter mark
            | '\u{200B}'..='\u{200F}' // ZWSP, ZWNJ, ZWJ, LRM, RLM
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner and invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{FEFF}' // BOM, zero-width no-break space
        )
}

/// The one spelling of letters that Urdu text is written with in several.
fn fold_letter(c: char) -> char {
    match c {
        '\u{064A}' | '\u{0649}' | '\u{06D0}' => '\u{06CC}', // ی
        '\u{0643}' | '\u{06AA}' => '\u{06A9}',              // ک
        '\u{0647}' | '\u{06D5}' => HEH,                     // ہ (not ھ U+06BE)
        '\u{0629}' => '\u{06C3}',                           // ۃ
        '\u{0671}' => '\u{0627}',                           // ا
        '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
        '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_as_documented() {
        assert_eq!(fold("حُسینؑ"), "حسین");
        assert_eq!(fold("حسين"), "حسین");
        assert_eq!(fold("كلثوم"), "کلثوم");
        assert_eq!(fold("خیره"), "خیرہ");
        assert_eq!(fold("ۂ ۓ ئ ؤ آ أ إ ٱ ة"), "ہ ے ی و ا ا ا ا ۃ");
        assert_eq!(fold("ھ ے"), "ھ ے");
        assert_eq!(fold("۱۲ ١٢"), "12 12");
        assert_eq!(fold("  a\u{200C} \n\tB  "), " a b ");
        assert_eq!(fold_key("  a\u{200C} \n\tB  "), "a b");
        assert_eq!(fold_key(" \u{064F}\u{200C} "), "");
    }

    #[test]
    fn honorifics_and_joiners_do_not_count() {
        assert_eq!(fold_key("عباسؑ"), fold_key("عباس"));
        assert_eq!(fold_key("ابوبکرؓ"), fold_key("ابوبکر"));
        assert_eq!(fold_key("حسین\u{200C}ابن علی"), fold_key("حسینابن علی"));
        assert_eq!(fold_key("حســین"), fold_key("حسین"));
    }

    #[test]
    fn the_izafat_is_optional() {
        let plain = fold_key("شاہ کربلا");
        assert_eq!(fold_key("شاہِ کربلا"), plain);
        assert_eq!(fold_key("شاهِ كربلا"), plain, "Arabic heh and kaf as well");
        let heh = fold_key("چہرہ انور");
        for izafat in ["چہرۂ انور", "چہرہ\u{0654} انور", "چہرہء انور"] {
            assert_eq!(fold_key(izafat), heh, "{izafat}");
        }
        // A hamza that is a letter stays one: جزء is not جز.
        assert_ne!(fold_key("جزء"), fold_key("جز"));
    }

    #[test]
    fn do_chashmi_heh_and_yeh_barree_stay_distinct() {
        assert_ne!(fold_key("بھاری"), fold_key("بہاری"));
        assert_ne!(fold_key("کے"), fold_key("کی"));
    }

    #[test]
    fn folding_is_idempotent() {
        for s in ["حُسینؑ ابنِ علیؑ", "چہرۂ انور", "نغمہء دل", "ﻻ ﷺ", "CAFÉ", "كلثوم"]
        {
            assert_eq!(fold(&fold(s)), fold(s), "{s}");
        }
    }
}

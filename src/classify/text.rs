//! Text normalisation and tokenisation for the classifier: NFKC, sentence ids, acronyms
//! (`U.S.` is one token), case kept for short all-caps aliases, English stems.

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::UnicodeNormalization;

/// One word of an article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The word as written (acronym dots removed), for reasons shown to people.
    pub surface: String,
    /// Lower-cased English stem, what phrases are matched against.
    pub stem: String,
    /// Written in capitals (`US`, `U.S.`), which tells the country from the pronoun "us".
    pub upper: bool,
    /// Index of the sentence the word is in; the title is sentence 0.
    pub sentence: usize,
    /// A comma, colon, parenthesis, dash or quote stands between this word and the one
    /// before: a likely clause boundary.
    pub break_before: bool,
}

/// A stemmer for English. Creating one is cheap, but callers keep one per classifier.
pub fn english_stemmer() -> Stemmer {
    Stemmer::create(Algorithm::English)
}

/// Stems one lower-case word.
pub fn stem_word(stemmer: &Stemmer, word: &str) -> String {
    let lower = word.to_lowercase();
    let lower = lower
        .strip_suffix("'s")
        .or_else(|| lower.strip_suffix('\''))
        .unwrap_or(&lower);
    stemmer.stem(lower).into_owned()
}

/// Splits `segments` (title first, then summary) into tokens. Each segment starts a new
/// sentence, and `.`, `!`, `?`, `;` and line breaks end one.
pub fn tokenize(stemmer: &Stemmer, segments: &[&str]) -> Vec<Token> {
    let mut tokens: Vec<Token> = Vec::new();
    for segment in segments {
        let first_sentence = tokens.last().map_or(0, |t| t.sentence + 1);
        let normalised: String = segment
            .nfkc()
            .map(|c| match c {
                '\u{2019}' | '\u{2018}' | '`' => '\'',
                other => other,
            })
            .collect();
        tokenize_segment(stemmer, &normalised, first_sentence, &mut tokens);
    }
    tokens
}

fn tokenize_segment(stemmer: &Stemmer, text: &str, first_sentence: usize, out: &mut Vec<Token>) {
    let chars: Vec<char> = text.chars().collect();
    let mut sentence = first_sentence;
    let mut words_in_sentence = 0;
    let mut pending_break = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() {
            let (surface, next) = read_word(&chars, i);
            i = next;
            let mut letters = surface.chars().filter(|c| c.is_alphabetic()).peekable();
            let upper = letters.peek().is_some()
                && letters.all(char::is_uppercase)
                && surface.chars().filter(|c| c.is_alphabetic()).count() >= 2;
            let stem = stem_word(stemmer, &surface);
            out.push(Token {
                surface,
                stem,
                upper,
                sentence,
                break_before: pending_break,
            });
            pending_break = false;
            words_in_sentence += 1;
            continue;
        }
        if matches!(c, '.' | '!' | '?' | ';' | '\n') && words_in_sentence > 0 {
            sentence += 1;
            words_in_sentence = 0;
        }
        if is_clause_break(&chars, i) {
            pending_break = true;
        }
        i += 1;
    }
}

/// Punctuation that usually separates clauses. A hyphen inside a word ("US-Iran") is not
/// one; a dash between spaces is.
fn is_clause_break(chars: &[char], i: usize) -> bool {
    match chars[i] {
        ',' | ':' | '(' | ')' | '"' | '\u{201c}' | '\u{201d}' | '|' => true,
        '\u{2014}' | '\u{2013}' | '-' => {
            let spaced = |j: Option<usize>| {
                j.and_then(|j| chars.get(j))
                    .is_some_and(|c| c.is_whitespace())
            };
            spaced(i.checked_sub(1)) && spaced(Some(i + 1))
        }
        _ => false,
    }
}

/// Reads a word starting at `start`: letters and digits, inner apostrophes, and acronyms
/// written with dots (`U.S.`, `U.N.`) which come out without them.
fn read_word(chars: &[char], start: usize) -> (String, usize) {
    if let Some((acronym, next)) = read_dotted_acronym(chars, start) {
        return (acronym, next);
    }
    let mut word = String::new();
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        // An apostrophe belongs to the word only between letters ("Iran's", "don't").
        let inner_apostrophe = c == '\''
            && !word.is_empty()
            && chars.get(i + 1).is_some_and(|next| next.is_alphabetic());
        if !(c.is_alphanumeric() || inner_apostrophe) {
            break;
        }
        word.push(c);
        i += 1;
    }
    (word, i)
}

/// `U.S.`, `U.N.` or `U.S` (two or more single capitals separated by dots).
fn read_dotted_acronym(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut letters = String::new();
    let mut i = start;
    while i + 1 < chars.len() && chars[i].is_uppercase() && chars[i + 1] == '.' {
        letters.push(chars[i]);
        i += 2;
    }
    if letters.is_empty() {
        return None;
    }
    // The last letter of "U.S" written without its final dot.
    if i < chars.len()
        && chars[i].is_uppercase()
        && chars.get(i + 1).is_none_or(|c| !c.is_alphanumeric())
    {
        letters.push(chars[i]);
        i += 1;
    }
    (letters.chars().count() >= 2).then_some((letters, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<(String, usize)> {
        tokenize(&english_stemmer(), &[text])
            .into_iter()
            .map(|t| (t.surface, t.sentence))
            .collect()
    }

    #[test]
    fn acronyms_stay_whole_and_do_not_end_sentences() {
        let tokens = tokenize(&english_stemmer(), &["U.S. and Iran talk. Then more"]);
        assert_eq!(tokens[0].surface, "US");
        assert!(tokens[0].upper);
        assert_eq!(tokens[0].sentence, 0);
        assert_eq!(tokens[3].stem, "talk");
        assert_eq!(tokens[4].sentence, 1);
    }

    #[test]
    fn segments_are_separate_sentences() {
        assert_eq!(
            words("Iran's envoy"),
            vec![("Iran's".to_string(), 0), ("envoy".to_string(), 0)]
        );
        let tokens = tokenize(&english_stemmer(), &["Title here.", "Lead text"]);
        assert_eq!(tokens[0].sentence, 0);
        assert_eq!(tokens[2].sentence, 1);
        assert_eq!(tokens[2].stem, "lead");
    }

    #[test]
    fn clause_breaks_are_marked_but_not_word_hyphens() {
        let tokens = tokenize(
            &english_stemmer(),
            &["US-Iran talks, officials say - report"],
        );
        let breaks: Vec<bool> = tokens.iter().map(|t| t.break_before).collect();
        assert_eq!(breaks, vec![false, false, false, true, false, true]);
    }

    #[test]
    fn pronoun_us_is_not_upper() {
        let tokens = tokenize(&english_stemmer(), &["Join us"]);
        assert!(!tokens[1].upper);
    }
}

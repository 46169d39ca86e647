//! Text normalisation and tokenisation for the classifier: NFKC, sentence ids, acronyms
//! (`U.S.` is one token), case kept for short all-caps aliases, English stems.

use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::{FxHashMap, FxHashSet};
use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use unicode_normalization::UnicodeNormalization;

/// Stemmed words remembered per thread. News vocabulary is heavily skewed, so nearly every
/// word has been seen before; stemming was the largest cost of classifying otherwise. The
/// cache only remembers a pure function's results, so it cannot change any verdict.
const STEM_CACHE_LIMIT: usize = 100_000;

thread_local! {
    static STEM_CACHE: RefCell<FxHashMap<Rc<str>, Interned>> = RefCell::new(FxHashMap::default());
}

/// What the cache keeps per distinct word.
#[derive(Clone)]
struct Interned {
    surface: Rc<str>,
    stem: Rc<str>,
    stem_hash: u64,
    content: bool,
}

/// Words that say nothing about a topic: left out of learned terms and similarity.
pub const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "again", "against", "all", "also", "am", "amid", "an", "and", "any",
    "are", "as", "at", "be", "been", "before", "being", "between", "both", "but", "by", "can",
    "could", "did", "do", "does", "during", "each", "even", "for", "from", "further", "had", "has",
    "have", "he", "her", "here", "his", "how", "i", "if", "in", "into", "is", "it", "its", "may",
    "might", "more", "most", "much", "must", "no", "not", "now", "of", "on", "one", "only", "or",
    "other", "our", "out", "over", "own", "said", "same", "says", "she", "should", "since", "so",
    "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "through", "to", "too", "two", "under", "until", "up", "very", "was", "we",
    "were", "what", "when", "where", "whether", "which", "while", "who", "whom", "why", "will",
    "with", "within", "would", "yet", "you", "your",
];

/// A stable 64-bit hash of a stem, compared before the stem itself.
pub fn stem_hash(stem: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = rustc_hash::FxBuildHasher.build_hasher();
    hasher.write(stem.as_bytes());
    hasher.finish()
}

/// Whether a stem carries topic meaning: not a stop word, not a number, not a fragment.
fn is_content(stem: &str) -> bool {
    thread_local! {
        static STOP_STEMS: FxHashSet<String> = {
            let stemmer = english_stemmer();
            STOP_WORDS.iter().map(|w| stem_uncached(&stemmer, w)).collect()
        };
    }
    stem.chars().nth(2).is_some()
        && !stem.chars().all(|c| c.is_ascii_digit())
        && !STOP_STEMS.with(|stops| stops.contains(stem))
}

/// One word of an article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The word as written (acronym dots removed), for reasons shown to people.
    pub surface: Rc<str>,
    /// Lower-cased English stem, what phrases are matched against.
    pub stem: Rc<str>,
    /// [`stem_hash`] of the stem.
    pub stem_hash: u64,
    /// Whether the stem carries topic meaning (not a stop word, number or fragment).
    pub content: bool,
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

/// Stems one word: lower-cased, possessive removed, English Snowball stem.
pub fn stem_word(stemmer: &Stemmer, word: &str) -> String {
    interned(stemmer, word).stem.to_string()
}

/// The word, its stem and facts about it, shared from the per-thread cache.
fn interned(stemmer: &Stemmer, word: &str) -> Interned {
    STEM_CACHE.with(|cache| {
        if let Some(entry) = cache.borrow().get(word) {
            return entry.clone();
        }
        let stem = stem_uncached(stemmer, word);
        let entry = Interned {
            surface: Rc::from(word),
            stem_hash: stem_hash(&stem),
            content: is_content(&stem),
            stem: Rc::from(stem),
        };
        let mut cache = cache.borrow_mut();
        if cache.len() >= STEM_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(Rc::clone(&entry.surface), entry.clone());
        entry
    })
}

fn stem_uncached(stemmer: &Stemmer, word: &str) -> String {
    let lower = word.to_lowercase();
    let lower = lower
        .strip_suffix("'s")
        .or_else(|| lower.strip_suffix('\''))
        .unwrap_or(&lower);
    stemmer.stem(lower).into_owned()
}

/// A lead without its wire dateline: "TEHRAN (Reuters) - ", "WASHINGTON (AP) — ",
/// "DUBAI, United Arab Emirates (AP) — ". A dateline names where the story was filed, not
/// who takes part, so it must not count as a party.
pub fn strip_dateline(lead: &str) -> &str {
    const SEPARATORS: [&str; 4] = [" - ", " – ", " — ", " -- "];
    let Some((at, separator)) = SEPARATORS
        .iter()
        .filter_map(|sep| lead.find(sep).map(|at| (at, *sep)))
        .min_by_key(|(at, _)| *at)
    else {
        return lead;
    };
    let prefix = lead[..at].trim();
    if prefix.is_empty() || prefix.len() > 60 {
        return lead;
    }
    let first_word: String = prefix
        .chars()
        .take_while(|c| c.is_alphabetic() || *c == '.')
        .collect();
    let letters = first_word.chars().filter(|c| c.is_alphabetic()).count();
    let shouting = letters >= 3 && first_word.chars().all(|c| !c.is_lowercase());
    let short = prefix.split_whitespace().count() <= 6;
    if shouting && short {
        &lead[at + separator.len()..]
    } else {
        lead
    }
}

/// Splits `segments` (title first, then summary) into tokens. Each segment starts a new
/// sentence, and `.`, `!`, `?`, `;` and line breaks end one.
pub fn tokenize(stemmer: &Stemmer, segments: &[&str]) -> Vec<Token> {
    let mut tokens: Vec<Token> = Vec::new();
    for segment in segments {
        push_segment(stemmer, segment, &mut tokens);
    }
    tokens
}

/// Tokens of a headline and its lead, and how many of them are the headline's.
pub fn tokenize_title_lead(stemmer: &Stemmer, title: &str, lead: &str) -> (Vec<Token>, usize) {
    let mut tokens: Vec<Token> = Vec::new();
    push_segment(stemmer, title, &mut tokens);
    let in_title = tokens.len();
    push_segment(stemmer, lead, &mut tokens);
    (tokens, in_title)
}

/// Appends a segment's tokens, starting a new sentence.
fn push_segment(stemmer: &Stemmer, segment: &str, tokens: &mut Vec<Token>) {
    let first_sentence = tokens.last().map_or(0, |t| t.sentence + 1);
    // ASCII text is already in normal form; most English news is.
    if segment.is_ascii() {
        tokenize_segment(stemmer, segment, first_sentence, tokens);
        return;
    }
    let normalised: String = segment
        .nfkc()
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' | '`' => '\'',
            other => other,
        })
        .collect();
    tokenize_segment(stemmer, &normalised, first_sentence, tokens);
}

fn tokenize_segment(stemmer: &Stemmer, text: &str, first_sentence: usize, out: &mut Vec<Token>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut sentence = first_sentence;
    let mut words_in_sentence = 0;
    let mut pending_break = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        if c.is_alphanumeric() {
            let (word, next) = read_word(text, &chars, i);
            i = next;
            let upper = is_upper_word(&word);
            let entry = interned(stemmer, &word);
            out.push(Token {
                surface: entry.surface,
                stem: entry.stem,
                stem_hash: entry.stem_hash,
                content: entry.content,
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

/// Written in capitals as an acronym is: "US", "IAEA", and with a digit "E3" or "P5"; not
/// "us", "Us" or a lone capital such as "A".
fn is_upper_word(word: &str) -> bool {
    let mut letters = word.chars().filter(|c| c.is_alphabetic());
    let Some(first) = letters.next() else {
        return false;
    };
    let second = letters.next();
    let rest_upper = second.is_none_or(char::is_uppercase) && letters.all(char::is_uppercase);
    let acronym_length = second.is_some() || word.chars().any(|c| c.is_ascii_digit());
    first.is_uppercase() && rest_upper && acronym_length
}

/// Punctuation that usually separates clauses. A hyphen inside a word ("US-Iran") is not
/// one; a dash between spaces is.
fn is_clause_break(chars: &[(usize, char)], i: usize) -> bool {
    match chars[i].1 {
        ',' | ':' | '(' | ')' | '"' | '\u{201c}' | '\u{201d}' | '|' => true,
        '\u{2014}' | '\u{2013}' | '-' => {
            let spaced = |j: Option<usize>| {
                j.and_then(|j| chars.get(j))
                    .is_some_and(|(_, c)| c.is_whitespace())
            };
            spaced(i.checked_sub(1)) && spaced(Some(i + 1))
        }
        _ => false,
    }
}

/// Reads a word starting at `start`: letters and digits with inner apostrophes, or an
/// acronym written with dots (`U.S.`, `U.N.`), which comes out without them. Borrowed from
/// the text except for acronyms.
fn read_word<'t>(text: &'t str, chars: &[(usize, char)], start: usize) -> (Cow<'t, str>, usize) {
    if let Some((acronym, next)) = read_dotted_acronym(chars, start) {
        return (Cow::Owned(acronym), next);
    }
    let mut i = start;
    while i < chars.len() {
        let c = chars[i].1;
        // An apostrophe belongs to the word only between letters ("Iran's", "don't").
        let inner_apostrophe = c == '\''
            && i > start
            && chars
                .get(i + 1)
                .is_some_and(|(_, next)| next.is_alphabetic());
        if !(c.is_alphanumeric() || inner_apostrophe) {
            break;
        }
        i += 1;
    }
    let end = chars.get(i).map_or(text.len(), |(byte, _)| *byte);
    (Cow::Borrowed(&text[chars[start].0..end]), i)
}

/// `U.S.`, `U.N.` or `U.S` (two or more single capitals separated by dots).
fn read_dotted_acronym(chars: &[(usize, char)], start: usize) -> Option<(String, usize)> {
    let mut letters = String::new();
    let mut i = start;
    while i + 1 < chars.len() && chars[i].1.is_uppercase() && chars[i + 1].1 == '.' {
        letters.push(chars[i].1);
        i += 2;
    }
    if letters.is_empty() {
        return None;
    }
    // The last letter of "U.S" written without its final dot.
    if i < chars.len()
        && chars[i].1.is_uppercase()
        && chars.get(i + 1).is_none_or(|(_, c)| !c.is_alphanumeric())
    {
        letters.push(chars[i].1);
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
            .map(|t| (t.surface.to_string(), t.sentence))
            .collect()
    }

    #[test]
    fn acronyms_stay_whole_and_do_not_end_sentences() {
        let tokens = tokenize(&english_stemmer(), &["U.S. and Iran talk. Then more"]);
        assert_eq!(&*tokens[0].surface, "US");
        assert!(tokens[0].upper);
        assert_eq!(tokens[0].sentence, 0);
        assert_eq!(&*tokens[3].stem, "talk");
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
        assert_eq!(&*tokens[2].stem, "lead");
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
    fn wire_datelines_are_stripped() {
        assert_eq!(strip_dateline("TEHRAN (Reuters) - Iran said"), "Iran said");
        assert_eq!(
            strip_dateline("WASHINGTON (AP) — Talks resumed"),
            "Talks resumed"
        );
        assert_eq!(
            strip_dateline("DUBAI, United Arab Emirates (AP) — Iran said"),
            "Iran said"
        );
        assert_eq!(strip_dateline("GENEVA - Envoys met"), "Envoys met");
        assert_eq!(
            strip_dateline("Iran and the US - both wary - resumed talks"),
            "Iran and the US - both wary - resumed talks"
        );
        assert_eq!(
            strip_dateline("US - Iran talks resume"),
            "US - Iran talks resume"
        );
    }

    #[test]
    fn pronoun_us_is_not_upper() {
        let tokens = tokenize(&english_stemmer(), &["Join us"]);
        assert!(!tokens[1].upper);
    }

    #[test]
    fn acronyms_with_digits_are_upper() {
        let upper: Vec<bool> = tokenize(&english_stemmer(), &["E3 and P5+1 meet A Us e3"])
            .iter()
            .map(|t| t.upper)
            .collect();
        assert_eq!(
            upper,
            vec![true, false, true, false, false, false, false, false]
        );
    }
}

//! The topic profile: a TOML file naming the two parties, the event phrases, and the term
//! weights learned from a seed corpus. `parleyd profile build` writes one.

use super::model::{Compiled, Model};
use super::text::{english_stemmer, tokenize};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The name of the hand-written part of a profile inside a corpus folder.
pub const LEXICON_FILE: &str = "lexicon.toml";
/// The name of a trained model inside a corpus folder (`profile train --model-only`).
pub const MODEL_FILE: &str = "model.toml";
/// The version of the scorer's code that a model's features come from. Bump it with any
/// change to the code that changes what the rules conclude (the link, the score, why not),
/// so that the built-in model's staleness test asks for it to be retrained.
pub const RULES_VERSION: u32 = 1;
/// How many learned terms a profile keeps: enough to describe the topic's vocabulary,
/// few enough to read.
const LEARNED_TERMS: usize = 80;

/// A topic profile, as read from and written to TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name, e.g. `us-iran`.
    pub name: String,
    /// One line on what the profile alerts on.
    pub description: String,
    /// Score at or above which an article is relevant.
    pub threshold: f64,
    /// Exactly two parties. An alias in capitals of up to four letters (`US`) only matches
    /// words written in capitals, so the pronoun "us" is not the country.
    pub parties: Vec<Party>,
    /// Third parties (countries, bodies, leaders). Talks whose participants include one of
    /// them but not both parties are someone else's talks.
    #[serde(default)]
    pub others: Vec<String>,
    /// Event phrases.
    pub events: Events,
    /// Phrases that qualify events and parties.
    pub cues: Cues,
    /// Learned from the corpus by `profile build`; empty in a lexicon.
    #[serde(default)]
    pub learned: Learned,
    /// Learned from labelled items by `profile train` (or read from the corpus folder's
    /// `model.toml` by `profile build`): when present, it makes the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Model>,
}

/// One side of the relationship.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// Display name.
    pub name: String,
    /// Names, places, institutions, officials and adjectives that stand for the party.
    pub aliases: Vec<String>,
}

/// Phrases that make an event. Matched on word stems within one clause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    /// Talks, negotiations, meetings, messages exchanged.
    pub talks: Vec<String>,
    /// Communication channels, hotlines, back-channels.
    pub channel: Vec<String>,
    /// Event phrases that imply the party the clause does not name: "nuclear talks" with
    /// Iran are the talks the US attends. They link an event clause that names one party
    /// and no third party.
    #[serde(default)]
    pub implied: Vec<String>,
    /// Words that are an event only with a context word near them in the same sentence:
    /// "channel" near "open", "message" near "deliver".
    #[serde(default)]
    pub contextual: Vec<Contextual>,
}

/// A word that becomes an event only in context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contextual {
    /// The event it makes.
    pub event: crate::model::Event,
    /// The words ("channel", "line").
    pub words: Vec<String>,
    /// The context words, at most [`CONTEXT_WINDOW`] words away.
    pub context: Vec<String>,
    /// Words that, as near, make it no event ("round" near "sanctions").
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// Phrases that qualify events and parties.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cues {
    /// Words that refer to both parties at once ("both sides", "the two countries").
    #[serde(default)]
    pub both_parties: Vec<String>,
    /// Refusals and denials that cancel an event in the same clause.
    #[serde(default)]
    pub negations: Vec<String>,
    /// Cues that the event is past background rather than news: they cancel an event in
    /// the same clause and weaken one elsewhere in the sentence.
    #[serde(default)]
    pub background: Vec<String>,
    /// Headline labels of pieces that are not news ("Analysis:", "Obituary:").
    #[serde(default)]
    pub not_news: Vec<String>,
    /// Words after which a party is the subject matter, not a participant ("talks on
    /// Iran", "discuss Iran's programme").
    #[serde(default)]
    pub topic_markers: Vec<String>,
    /// Phrases in which a party's name does not stand for its government ("Iran-backed",
    /// "Iranian-American", "Washington Post").
    #[serde(default)]
    pub not_party: Vec<String>,
    /// Words that open a subordinate clause ("that", "which", "as", "while"): what follows
    /// them has its own participants.
    #[serde(default)]
    pub clause_starters: Vec<String>,
    /// Words that, with actors only, make a clause an attribution ("Iran says", "officials
    /// told"): its actors take part in the events of the other clauses of the sentence.
    #[serde(default)]
    pub attribution: Vec<String>,
    /// Words that open a clause saying under what circumstances something else happened
    /// ("amid", "ahead of", "in response to"): an event in that clause is background
    /// ("US sanctions Iran amid nuclear talks").
    #[serde(default)]
    pub circumstance: Vec<String>,
    /// Words for talks that are stuck ("stalled", "deadlocked"): they cancel an event in
    /// the same clause unless a revival word is there too.
    #[serde(default)]
    pub stalled: Vec<String>,
    /// Words that bring stuck talks back ("revive", "resume", "break the deadlock").
    #[serde(default)]
    pub revival: Vec<String>,
    /// Words of a headline that says what should be done ("must", "should", "why"): with
    /// no speaker in the headline, it is an opinion piece and its talks are no news.
    #[serde(default)]
    pub opinion: Vec<String>,
    /// Headline words that report other news ("sanctions", "strike", "seized"): a link
    /// found only in the lead of such a headline is background to that news.
    #[serde(default)]
    pub other_news: Vec<String>,
    /// Headline words that report a market ("oil prices", "the rial"): in the headline's
    /// first clause, and not the topic of talks ("talks on the currency"), they make the
    /// article's talks, headline or lead, what moved the market, not the news.
    #[serde(default)]
    pub markets: Vec<String>,
    /// Words that put an event in another domain ("wrestlers meet", "World Cup talks"):
    /// they cancel an event in the same clause.
    #[serde(default)]
    pub off_topic: Vec<String>,
}

/// How many words apart a contextual word and its context word may be.
pub const CONTEXT_WINDOW: usize = 6;

/// Term weights learned from a corpus.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Learned {
    /// How many corpus documents they were learned from.
    pub documents: usize,
    /// Stem → weight in (0, 1], the topic's characteristic vocabulary.
    pub terms: BTreeMap<String, f64>,
}

/// Profile loading and building failures. Each names the file or folder.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A file could not be read.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// Why (in the message, so not also a `source()`, which would print it twice).
        cause: std::io::Error,
    },
    /// A profile or lexicon is not valid TOML of the expected shape.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A corpus folder has no `.txt` documents.
    #[error("{path}: no .txt documents to learn from")]
    EmptyCorpus {
        /// The folder.
        path: PathBuf,
    },
}

impl Profile {
    /// Parses profile TOML; `origin` names it in errors.
    ///
    /// # Errors
    /// [`ProfileError::Invalid`] with the reason.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Profile, ProfileError> {
        let profile: Profile = toml::from_str(text).map_err(|err| ProfileError::Invalid {
            path: origin.to_path_buf(),
            reason: err.message().to_string(),
        })?;
        profile.check(origin)?;
        Ok(profile)
    }

    /// Reads a profile file.
    ///
    /// # Errors
    /// [`ProfileError::Read`] or [`ProfileError::Invalid`].
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ProfileError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        Profile::from_toml(&text, path)
    }

    fn check(&self, origin: &Path) -> Result<(), ProfileError> {
        let invalid = |reason: String| ProfileError::Invalid {
            path: origin.to_path_buf(),
            reason,
        };
        if self.parties.len() != 2 {
            return Err(invalid(format!(
                "a profile needs exactly two [[parties]], found {}",
                self.parties.len()
            )));
        }
        if let Some(party) = self.parties.iter().find(|p| p.aliases.is_empty()) {
            return Err(invalid(format!("party `{}` has no aliases", party.name)));
        }
        if self.events.talks.is_empty() && self.events.channel.is_empty() {
            return Err(invalid(
                "events.talks and events.channel are both empty".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(invalid(format!(
                "threshold must be between 0 and 1, found {}",
                self.threshold
            )));
        }
        if let Some(model) = &self.model {
            if !(0.0..=1.0).contains(&model.threshold) {
                return Err(invalid(format!(
                    "model.threshold must be between 0 and 1, found {}",
                    model.threshold
                )));
            }
            Compiled::new(model, None).map_err(invalid)?;
        }
        Ok(())
    }

    /// A fingerprint of the rules a model reads: the profile but its model and threshold
    /// (no feature reads the threshold), and [`RULES_VERSION`], the scorer's code. A model
    /// trained under other rules is stale.
    pub fn rules_fingerprint(&self) -> String {
        let rules = Profile {
            model: None,
            threshold: 0.0,
            ..self.clone()
        };
        let text = toml::to_string(&rules).expect("a profile serialises to TOML");
        let text = format!("rules version {RULES_VERSION}\n{text}");
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
    }

    /// Whether the profile's model was trained under other rules than the profile's.
    pub fn model_is_stale(&self) -> bool {
        self.model
            .as_ref()
            .is_some_and(|model| model.rules != self.rules_fingerprint())
    }

    /// The profile as TOML, with a header saying how it was made.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).expect("a profile serialises to TOML");
        format!(
            "# parleyd topic profile `{}`.\n# Generated by `parleyd profile build`: edit the lexicon.toml of the corpus and\n# rebuild rather than editing [learned] by hand; [model] comes from `profile train`.\n\n{body}",
            self.name
        )
    }

    /// Builds a profile from a corpus folder: its `lexicon.toml` (the hand-written part)
    /// plus term weights learned from its `.txt` documents.
    ///
    /// # Errors
    /// [`ProfileError`] naming the folder or file at fault.
    pub fn build(dir: &Path) -> Result<Profile, ProfileError> {
        let lexicon_path = dir.join(LEXICON_FILE);
        let mut profile = Profile::load(&lexicon_path)?;
        let documents = read_corpus(dir)?;
        profile.learned = learn_terms(&documents);
        profile.model = read_model(&dir.join(MODEL_FILE))?;
        if profile.model.is_some() {
            profile.check(&dir.join(MODEL_FILE))?;
        }
        Ok(profile)
    }
}

/// The trained model a corpus folder keeps, if it has one.
fn read_model(path: &Path) -> Result<Option<Model>, ProfileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(cause) => {
            return Err(ProfileError::Read {
                path: path.to_path_buf(),
                cause,
            });
        }
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|err| ProfileError::Invalid {
            path: path.to_path_buf(),
            reason: err.message().to_string(),
        })
}

/// The `.txt` files of a folder, sorted by name so builds are reproducible.
fn read_corpus(dir: &Path) -> Result<Vec<String>, ProfileError> {
    let read_error = |cause| ProfileError::Read {
        path: dir.to_path_buf(),
        cause,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_error)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(ProfileError::EmptyCorpus {
            path: dir.to_path_buf(),
        });
    }
    paths
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).map_err(|cause| ProfileError::Read {
                path: path.clone(),
                cause,
            })?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect()
}

/// Weights each stem by the share of documents it appears in times the log of how often it
/// appears, keeps the strongest, and scales them so the strongest is 1.
fn learn_terms(documents: &[String]) -> Learned {
    let stemmer = english_stemmer();
    let mut document_frequency: HashMap<String, usize> = HashMap::new();
    let mut term_frequency: HashMap<String, usize> = HashMap::new();
    for document in documents {
        let mut seen: Vec<String> = Vec::new();
        for token in tokenize(&stemmer, &[document]) {
            if token.content {
                let stem = token.stem.to_string();
                *term_frequency.entry(stem.clone()).or_default() += 1;
                if !seen.contains(&stem) {
                    seen.push(stem);
                }
            }
        }
        for stem in seen {
            *document_frequency.entry(stem).or_default() += 1;
        }
    }
    let total = documents.len().max(1) as f64;
    let mut weighted: Vec<(String, f64)> = term_frequency
        .into_iter()
        .map(|(stem, tf)| {
            let df = document_frequency.get(&stem).copied().unwrap_or(0) as f64;
            let weight = (df / total) * (1.0 + tf as f64).ln();
            (stem, weight)
        })
        .collect();
    weighted.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    weighted.truncate(LEARNED_TERMS);
    let top = weighted
        .first()
        .map_or(1.0, |(_, w)| *w)
        .max(f64::MIN_POSITIVE);
    Learned {
        documents: documents.len(),
        terms: weighted
            .into_iter()
            .map(|(stem, weight)| (stem, (weight / top * 1000.0).round() / 1000.0))
            .collect(),
    }
}

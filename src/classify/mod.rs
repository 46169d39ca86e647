//! Decides whether an article reports talks or a channel between the profile's two parties,
//! and says why.
//!
//! The scorer reads who does what to whom, clause by clause. An event phrase ("talks",
//! "hotline", "channel … open", "message … delivered") links the parties that take part in
//! its clause: "the US and Iran resumed indirect talks" links them; "US sanctions Iran" has no
//! event; "US and China hold talks on Iran" has Iran only as the subject matter (after "on"),
//! so the participants are the US and China. A refusal in the event's clause cancels it, as
//! does a background cue ("who mediated", "in 2015") or a headline label such as
//! "Analysis:". Similarity to the corpus vocabulary adds a little on top, so it can separate
//! close calls, but it never makes an article relevant on its own.

mod clauses;
pub mod eval;
mod link;
pub mod model;
mod phrases;
mod profile;
mod reasons;
mod similarity;
pub mod story;
pub mod story_eval;
pub mod text;
pub mod train;

pub use model::Model;
pub use profile::{
    CONTEXT_WINDOW, Contextual, Cues, Events, LEXICON_FILE, Learned, MODEL_FILE, Party, Profile,
    ProfileError, RULES_VERSION,
};
pub use story::{STORY_SAME_MEETING, StoryKey, StoryTimes};

use crate::config::ProfileSource;
use crate::model::{Article, Event, Verdict};
use clauses::clause_ids;
use link::{Analysis, BACKGROUND_PENALTY, MissReason};
use model::{Compiled, RuleOutcome};
use phrases::{Phrase, Role};
use reasons::sentence_text;
use rust_stemmers::Stemmer;
use rustc_hash::FxHashMap;
use std::path::Path;
use text::{english_stemmer, stem_word, tokenize, tokenize_title_lead};

/// The built-in profiles' registry, re-exported where the classifier's users look for it.
pub use crate::profiles::{BUILTIN_PROFILES, DEFAULT_PROFILE, builtin_profile_text};

/// A built-in profile by name.
///
/// # Errors
/// [`ProfileError::Invalid`] if the name is unknown (a build with a broken built-in profile
/// fails its tests, not here).
pub fn builtin_profile(name: &str) -> Result<Profile, ProfileError> {
    let origin = Path::new("builtin").join(name);
    let text = builtin_profile_text(name).ok_or_else(|| ProfileError::Invalid {
        path: origin.clone(),
        reason: format!("no built-in profile `{name}`"),
    })?;
    Profile::from_toml(text, &origin)
}

/// How much corpus similarity adds; below the gap between a link and no link.
const SIMILARITY_WEIGHT: f64 = 0.25;

/// Words that make the next actor a participant even after a topic marker ("discuss
/// sanctions with Iran").
const PARTICIPANT_MARKERS: &[&str] = &["with", "between", "to", "from"];

/// A compiled profile, ready to classify. Cheap to share behind an `Arc`.
pub struct Classifier {
    profile: Profile,
    threshold: f64,
    /// Phrases indexed by the hash of their first stem, so each token costs one lookup.
    phrases: FxHashMap<u64, Vec<Phrase>>,
    /// The event each contextual group makes.
    contextual_events: Vec<Event>,
    /// The learned terms by stem hash, for constant-time lookup.
    learned: FxHashMap<u64, (String, f64)>,
    learned_norm: f64,
    participant_stems: Vec<String>,
    stemmer: Stemmer,
    /// The profile's trained model, which makes the verdict when present.
    model: Option<Compiled>,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("profile", &self.profile.name)
            .field("threshold", &self.threshold)
            .finish()
    }
}

impl Classifier {
    /// Compiles a profile; `threshold` overrides the profile's own (the model's, when the
    /// profile has one).
    pub fn new(profile: Profile, threshold: Option<f64>) -> Classifier {
        let stemmer = english_stemmer();
        let mut phrases: FxHashMap<u64, Vec<Phrase>> = FxHashMap::default();
        let mut add = |text: &str, role: Role| {
            let stems: Vec<(u64, String)> = tokenize(&stemmer, &[text])
                .into_iter()
                .map(|t| (t.stem_hash, t.stem.to_string()))
                .collect();
            let Some(&(first, _)) = stems.first() else {
                return;
            };
            let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
            let needs_upper = role.is_actor()
                && (1..=4).contains(&letters.len())
                && letters.iter().all(|c| c.is_uppercase());
            phrases.entry(first).or_default().push(Phrase {
                stems,
                role,
                needs_upper,
            });
        };
        for (index, party) in profile.parties.iter().enumerate() {
            for alias in &party.aliases {
                add(alias, Role::Party(index));
            }
        }
        let cues = &profile.cues;
        let lists: [(&[String], Role); 19] = [
            (&profile.others, Role::Other),
            (&profile.events.talks, Role::Event(Event::Talks)),
            (&profile.events.channel, Role::Event(Event::Channel)),
            (&cues.both_parties, Role::BothParties),
            (&cues.negations, Role::Negation),
            (&cues.background, Role::Background),
            (&cues.not_news, Role::NotNews),
            (&cues.topic_markers, Role::TopicMarker),
            (&cues.not_party, Role::NotParty),
            (&cues.off_topic, Role::OffTopic),
            (&cues.clause_starters, Role::ClauseStarter),
            (&cues.attribution, Role::Attribution),
            (&cues.circumstance, Role::Circumstance),
            (&cues.other_news, Role::OtherNews),
            (&cues.markets, Role::Market),
            (&cues.stalled, Role::Stalled),
            (&cues.revival, Role::Revival),
            (&cues.opinion, Role::Opinion),
            (&profile.events.implied, Role::Implied),
        ];
        for (list, role) in lists {
            for phrase in list {
                add(phrase, role);
            }
        }
        for (group, contextual) in profile.events.contextual.iter().enumerate() {
            for word in &contextual.words {
                add(word, Role::ContextWord(group));
            }
            for word in &contextual.context {
                add(word, Role::ContextCue(group));
            }
            for word in &contextual.exclude {
                add(word, Role::ContextExclude(group));
            }
        }
        // Longer phrases first, so "back channel" is preferred over a shorter overlap.
        for list in phrases.values_mut() {
            list.sort_by_key(|phrase| std::cmp::Reverse(phrase.stems.len()));
        }
        let learned_norm = profile
            .learned
            .terms
            .values()
            .map(|w| w * w)
            .sum::<f64>()
            .sqrt();
        let participant_stems = PARTICIPANT_MARKERS
            .iter()
            .map(|w| stem_word(&stemmer, w))
            .collect();
        let learned = profile
            .learned
            .terms
            .iter()
            .map(|(stem, weight)| (text::stem_hash(stem), (stem.clone(), *weight)))
            .collect();
        // A loaded profile's model was checked when it was read; one that does not
        // compile (a profile made in code) leaves the rules to decide, threshold and all.
        let model = profile
            .model
            .as_ref()
            .and_then(|m| Compiled::new(m, threshold).ok());
        Classifier {
            learned,
            threshold: if model.is_some() {
                profile.threshold
            } else {
                threshold.unwrap_or(profile.threshold)
            },
            model,
            contextual_events: profile.events.contextual.iter().map(|c| c.event).collect(),
            profile,
            phrases,
            learned_norm,
            participant_stems,
            stemmer,
        }
    }

    /// Loads the profile a config names.
    ///
    /// # Errors
    /// [`ProfileError`] naming the profile file.
    pub fn from_source(
        source: &ProfileSource,
        threshold: Option<f64>,
    ) -> Result<Classifier, ProfileError> {
        let profile = match source {
            ProfileSource::Builtin(name) => builtin_profile(name)?,
            ProfileSource::Path(path) => Profile::load(path)?,
        };
        if profile.model_is_stale() {
            tracing::warn!(
                profile = %profile.name,
                "the profile's model was trained under other rules; retrain it with `parleyd profile train --model`"
            );
        }
        Ok(Classifier::new(profile, threshold))
    }

    /// The profile in use.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The threshold in use: the model's when the profile has one.
    pub fn threshold(&self) -> f64 {
        self.model
            .as_ref()
            .map_or(self.threshold, Compiled::threshold)
    }

    /// Classifies an article by its title and summary.
    pub fn classify_article(&self, article: &Article) -> Verdict {
        self.classify(&article.title, &article.summary)
    }

    /// Classifies a headline and a lead. Deterministic: the same text and profile always
    /// give the same verdict.
    pub fn classify(&self, title: &str, summary: &str) -> Verdict {
        let (tokens, in_title) = self.tokens(title, summary);
        let rules = self.rules_verdict(&tokens);
        let Some(model) = &self.model else {
            return rules.verdict;
        };
        let scoring = model.score(&tokens, in_title, rules.outcome);
        // The rounded score decides, as with the rules: what `eval` and a route's
        // `min_score` compare is the score the verdict shows.
        let score = round3(scoring.probability);
        let relevant = score >= model.threshold();
        let mut reasons = rules.verdict.reasons;
        reasons.push(describe_model(&scoring, relevant, model.threshold()));
        let event = relevant.then(|| rules.event.unwrap_or(Event::Talks));
        if let Some(kind) = event.filter(|_| !rules.outcome.linked) {
            reasons.push(format!(
                "event kind {} guessed: the rules linked no event",
                kind.as_str()
            ));
        }
        Verdict {
            relevant,
            event,
            score,
            reasons,
        }
    }

    /// The labelled article's features as a model reads them, with their names: what
    /// `profile train` learns from.
    pub fn model_example(&self, title: &str, summary: &str) -> Vec<(u64, String, f64)> {
        let (tokens, in_title) = self.tokens(title, summary);
        let rules = self.rules_verdict(&tokens);
        model::features(&tokens, in_title, rules.outcome)
            .into_iter()
            .map(|f| (f.key, f.name(), f.value))
            .collect()
    }

    /// The words of a headline and its lead without the wire dateline, and how many are
    /// the headline's.
    fn tokens(&self, title: &str, summary: &str) -> (Vec<text::Token>, usize) {
        tokenize_title_lead(&self.stemmer, title, text::strip_dateline(summary))
    }

    /// The rules' verdict: who takes part in which event, and the score of the best link.
    fn rules_verdict(&self, tokens: &[text::Token]) -> RulesVerdict {
        let found = self.find_phrases(tokens);
        let clauses = clause_ids(tokens, &found);
        let analysis = Analysis::new(tokens, &found, &clauses, &self.participant_stems);
        let similarity = self.similarity(tokens);
        let outcome = analysis.best_link();
        let mut reasons = Vec::new();
        let (link_score, event) = match &outcome {
            Ok(link) => {
                let parties = link.parties.map(|p| p.map(|f| f.text(tokens)));
                let implied = link.implied_by.map(|f| f.text(tokens));
                reasons.push(self.describe_parties(&parties, implied.as_deref()));
                reasons.push(format!(
                    "event: {} (\"{}\")",
                    link.kind.as_str(),
                    link.event.text(tokens)
                ));
                reasons.push(format!(
                    "sentence: \"{}\"",
                    sentence_text(tokens, link.event.sentence)
                ));
                if let Some(cue) = &link.background {
                    reasons.push(format!(
                        "background cue \"{}\": -{BACKGROUND_PENALTY}",
                        cue.text(tokens)
                    ));
                }
                (link.score, Some(link.kind))
            }
            Err(miss) => {
                reasons.push(self.describe_miss(miss, tokens));
                (0.0, None)
            }
        };
        let score = round3((link_score + SIMILARITY_WEIGHT * similarity).clamp(0.0, 1.0));
        let relevant = outcome.is_ok() && score >= self.threshold;
        reasons.push(format!(
            "similarity to the {} corpus: {:.2}",
            self.profile.name, similarity
        ));
        reasons.push(format!(
            "{}score {score:.3} {} threshold {:.2}",
            if self.model.is_some() { "rules' " } else { "" },
            if relevant { ">=" } else { "<" },
            self.threshold
        ));
        // Without a link, the kind of the first event phrase is the best guess of what a
        // model that overrules the rules has found.
        let any_event = || {
            found.iter().find_map(|f| match f.role {
                phrases::Role::Event(kind) => Some(kind),
                _ => None,
            })
        };
        RulesVerdict {
            outcome: RuleOutcome {
                linked: outcome.is_ok(),
                score,
                miss: outcome.as_ref().err().map(miss_kind),
            },
            event: event.or_else(any_event),
            verdict: Verdict {
                relevant,
                event: if relevant { event } else { None },
                score,
                reasons,
            },
        }
    }
}

/// The rules' verdict and what a model reads of it.
struct RulesVerdict {
    outcome: RuleOutcome,
    /// The event kind of the link, or of the first event phrase when nothing linked.
    event: Option<Event>,
    verdict: Verdict,
}

/// The model feature name of a rule miss.
fn miss_kind(miss: &MissReason) -> &'static str {
    match miss {
        MissReason::NotNews(_) => "miss-not-news",
        MissReason::NoEvent => "miss-no-event",
        MissReason::NoParties { .. } => "miss-no-parties",
        MissReason::OneSided { other: None, .. } => "miss-one-party",
        MissReason::OneSided { other: Some(_), .. } => "miss-other-party",
        MissReason::Background { .. } => "miss-background",
        MissReason::Opinion { .. } => "miss-opinion",
        MissReason::Negated { .. } => "miss-negated",
    }
}

/// The model's line of the reasons: its probability against its threshold, what the
/// rules' outcome added, and the words that weighed most each way. Its numbers are
/// written by hand rather than with `format!`: the line is built for every article, and
/// `parleyd classify` on 22,000 items took 0.46–0.50 s of CPU with `format!` against
/// 0.45–0.46 s this way.
fn describe_model(scoring: &model::Scoring, relevant: bool, threshold: f64) -> String {
    let mut line = String::with_capacity(160);
    line.push_str("model ");
    push_fixed(&mut line, scoring.probability, 3, false);
    line.push_str(if relevant { " >= " } else { " < " });
    push_fixed(&mut line, threshold, 2, false);
    line.push_str("; rules ");
    push_fixed(&mut line, scoring.rules, 2, true);
    for (label, parts) in [
        ("; for: ", &scoring.for_),
        ("; against: ", &scoring.against),
    ] {
        for (i, (name, part)) in parts.iter().enumerate() {
            line.push_str(if i == 0 { label } else { ", " });
            line.push_str(name);
            line.push(' ');
            push_fixed(&mut line, *part, 2, true);
        }
    }
    line
}

/// Appends `value` with `decimals` digits after the point (at most 3), and a sign when
/// `signed` or negative.
fn push_fixed(out: &mut String, value: f64, decimals: u32, signed: bool) {
    use std::fmt::Write;
    let scale = 10_i64.pow(decimals);
    let scaled = (value * scale as f64).round() as i64;
    if scaled < 0 {
        out.push('-');
    } else if signed {
        out.push('+');
    }
    let scaled = scaled.unsigned_abs();
    let scale = scale.unsigned_abs();
    let _ = write!(out, "{}.", scaled / scale);
    let fraction = scaled % scale;
    let mut digit = scale / 10;
    while digit > 0 {
        out.push(char::from(b'0' + (fraction / digit % 10) as u8));
        digit /= 10;
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules of the built-in profile without its model: the tests below hold the
    /// rules; the model is tested in `model` and, on the team's labelled set, with the
    /// whole profile in `tests/classify.rs`.
    fn classifier() -> Classifier {
        let rules = train::rules_only(&builtin_profile(DEFAULT_PROFILE).unwrap());
        Classifier::new(rules, None)
    }

    fn verdict(title: &str, lead: &str) -> Verdict {
        classifier().classify(title, lead)
    }

    /// A profile whose model gives every article the same probability.
    fn constant_model(probability: f64) -> Classifier {
        let mut profile = builtin_profile(DEFAULT_PROFILE).unwrap();
        let model = profile.model.as_mut().unwrap();
        model.weights.clear();
        model.bias = (probability / (1.0 - probability)).ln();
        Classifier::new(profile, None)
    }

    #[test]
    fn the_score_a_verdict_shows_is_the_one_that_decides() {
        // 0.5998 shows as 0.600, the threshold: relevant, as `eval` and routes read it.
        let v = constant_model(0.5998).classify("Markets close higher", "");
        assert_eq!(v.score, 0.6);
        assert!(v.relevant, "{v:?}");
        // The rules linked nothing, so the event kind is a guess, and the reasons say so.
        assert_eq!(v.event, Some(Event::Talks));
        assert!(
            v.reasons.last().unwrap().contains("guessed"),
            "{:?}",
            v.reasons
        );
        let v = constant_model(0.5994).classify("Markets close higher", "");
        assert!(!v.relevant && v.event.is_none(), "{v:?}");
    }

    #[test]
    fn fixed_point_numbers_read_as_format_writes_them() {
        for (value, decimals, signed) in [
            (0.9984, 3, false),
            (0.6, 2, false),
            (5.0926, 2, true),
            (-0.8739, 2, true),
            (-0.004, 2, true),
            (0.0, 3, false),
        ] {
            let mut out = String::new();
            push_fixed(&mut out, value, decimals, signed);
            let expected = match (signed, decimals) {
                (true, 2) => format!("{value:+.2}"),
                (_, 2) => format!("{value:.2}"),
                _ => format!("{value:.3}"),
            };
            // `format!` keeps the sign of a negative zero ("-0.00"); a reason need not.
            assert_eq!(out, expected.replace("-0.00", "+0.00"), "{value}");
        }
    }

    #[test]
    fn a_party_after_a_topic_marker_is_the_subject_not_a_participant() {
        let v = verdict("Trump and Putin discuss Iran's nuclear programme", "");
        assert!(!v.relevant, "{v:?}");
        assert!(v.reasons[0].contains("not both parties"), "{v:?}");
        assert!(verdict("US discusses sanctions relief with Iran", "").relevant);
    }

    #[test]
    fn the_speaker_of_an_attribution_clause_takes_part() {
        let v = verdict("Talks with Washington were useful, Iran says", "");
        assert!(v.relevant, "{v:?}");
        assert!(verdict("Araghchi: next round with Witkoff set for Sunday", "").relevant);
    }

    #[test]
    fn negation_acts_within_its_clause() {
        assert!(
            verdict(
                "Iran ready for talks with US, but refuses to give up missiles",
                ""
            )
            .relevant
        );
        assert!(!verdict("Iran refuses talks with US", "").relevant);
    }

    #[test]
    fn a_refused_headline_is_not_rescued_by_its_lead() {
        let v = verdict(
            "Iran halts indirect talks",
            "Iran has suspended negotiations with the United States, adding there was no point talking under fire.",
        );
        assert!(!v.relevant, "{v:?}");
        assert!(v.reasons[0].contains("negated"), "{v:?}");
    }

    #[test]
    fn labelled_pieces_are_not_news() {
        let v = verdict("Analysis: US and Iran resume talks in Oman", "");
        assert!(!v.relevant);
        assert!(v.reasons[0].starts_with("not news"), "{v:?}");
    }

    #[test]
    fn contextual_words_need_context_and_respect_exclusions() {
        assert!(verdict("Next round of US-Iran talks set for Rome", "").relevant);
        assert!(!verdict("US imposes new round of sanctions on Iran", "").relevant);
        assert!(verdict("Iran says channel with US envoy remains open", "").relevant);
        assert!(!verdict("US bans Iranian TV channel", "").relevant);
    }

    #[test]
    fn party_names_in_other_roles_do_not_count() {
        assert!(!verdict("US holds talks with Iran-backed militias in Iraq", "").relevant);
        assert!(!verdict("Talks with us: our podcast returns", "").relevant);
        assert!(!verdict("US and Iran wrestlers meet in world championship final", "").relevant);
    }

    #[test]
    fn a_channel_headline_names_the_event_kind() {
        let v = verdict(
            "Despite strikes, a quiet line stays open",
            "Tehran and Washington have continued to exchange messages through Swiss intermediaries.",
        );
        assert!(v.relevant, "{v:?}");
        assert_eq!(v.event, Some(Event::Channel));
    }

    // The cases below are written by the team in its own words; each stands for a way real
    // outlets report (or only mention) talks.

    #[test]
    fn officials_of_any_year_stand_for_their_governments() {
        assert!(verdict("Kerry and Zarif meet again in Geneva", "").relevant);
        assert!(verdict("Rice says Washington will join talks with Tehran", "").relevant);
        assert!(
            verdict(
                "Rouhani tells Obama by phone he is ready to bargain",
                "The two presidents spoke by phone on Friday."
            )
            .relevant
        );
    }

    #[test]
    fn formats_with_the_us_count_and_formats_without_it_do_not() {
        assert!(
            verdict(
                "Iran and six world powers agree to meet again next month",
                ""
            )
            .relevant
        );
        assert!(verdict("Iran and the P5+1 resume talks in Almaty", "").relevant);
        assert!(!verdict("Iran and the E3 hold talks in Istanbul", "").relevant);
        assert!(
            !verdict(
                "Deal's joint commission meets in Vienna without the United States, Iran says",
                ""
            )
            .relevant
        );
    }

    #[test]
    fn nuclear_talks_imply_the_other_party_and_say_so() {
        let v = verdict("Iran nuclear talks set to resume in Vienna next week", "");
        assert!(v.relevant, "{v:?}");
        assert!(
            v.reasons[0].contains("implied by \"nuclear talks\""),
            "{v:?}"
        );
        // A third party named instead: someone else's talks.
        assert!(!verdict("Iran and the IAEA hold nuclear talks in Tehran", "").relevant);
    }

    #[test]
    fn talks_are_background_to_other_news() {
        let v = verdict(
            "Washington sanctions Iranian oil traders ahead of Oman talks",
            "",
        );
        assert!(!v.relevant, "{v:?}");
        let v = verdict(
            "Treasury sanctions Iranian shipping network",
            "Washington and Tehran have held three rounds of indirect talks this spring.",
        );
        assert!(!v.relevant, "{v:?}");
        assert!(v.reasons[0].contains("background"), "{v:?}");
        // No other news: the trip is for the talks.
        assert!(verdict("US envoy flies to Muscat ahead of talks with Iranians", "").relevant);
    }

    #[test]
    fn stalled_talks_are_no_news_unless_revived() {
        assert!(!verdict("US and Iran talks remain stalled, diplomats say", "").relevant);
        assert!(verdict("Envoys revive stalled US-Iran talks", "").relevant);
    }

    #[test]
    fn bans_refusals_and_conditions() {
        assert!(!verdict("Supreme leader forbids negotiations with America", "").relevant);
        assert!(!verdict("Iran cannot talk to US under sanctions, president says", "").relevant);
        // A condition is its own clause: the halt it names is not of the talks.
        assert!(verdict("US ready to join Iran talks if enrichment halts", "").relevant);
    }

    #[test]
    fn prisoner_swaps_letters_and_calls_are_contact() {
        assert!(
            verdict(
                "Iran frees American scholar in prisoner swap with Washington",
                ""
            )
            .relevant
        );
        assert!(
            verdict(
                "Detained Americans freed",
                "Tehran released two US citizens in exchange for three Iranians held in America."
            )
            .relevant
        );
        assert!(verdict("Obama wrote to Khamenei last month, officials say", "").relevant);
        assert!(verdict("Witkoff and Araghchi held several calls this week", "").relevant);
        assert!(!verdict("Trump calls for new sanctions on Iran", "").relevant);
    }

    #[test]
    fn a_listed_party_after_and_stays_in_the_clause() {
        assert!(
            verdict(
                "Nuclear fuel talks open",
                "Talks between Iranian, Russian, and American officials opened in Vienna."
            )
            .relevant
        );
    }

    #[test]
    fn a_trip_destination_is_not_a_participant() {
        assert!(
            !verdict(
                "Trump and Japan's leader confer before his trip to Iran",
                ""
            )
            .relevant
        );
    }

    #[test]
    fn a_headline_about_someone_elses_talks_is_the_news() {
        let v = verdict(
            "Iran and the E3 meet in Istanbul to revive nuclear diplomacy",
            "Washington and Tehran last held talks in Oman in the spring.",
        );
        assert!(!v.relevant, "{v:?}");
        assert!(v.reasons[0].contains("not both parties"), "{v:?}");
    }

    #[test]
    fn a_third_partys_capital_after_in_is_the_venue() {
        assert!(verdict("Iran nuclear talks to resume next month in Moscow", "").relevant);
        assert!(!verdict("Iran holds talks with Moscow on fuel swap", "").relevant);
    }

    #[test]
    fn rhetoric_opposition_and_other_americas_are_not_contact() {
        assert!(!verdict("Trump warns Tehran after Rouhani's war talk", "").relevant);
        assert!(
            !verdict(
                "Hardliners in Tehran speak out against Trump's offer of talks",
                ""
            )
            .relevant
        );
        assert!(!verdict("Khamenei writes a letter to students in North America", "").relevant);
    }

    #[test]
    fn calls_by_telephone_and_deals_between_the_parties_are_contact() {
        assert!(
            verdict(
                "Sailors freed after a day of calls",
                "The secretary of state spoke four times by telephone with his Iranian counterpart."
            )
            .relevant
        );
        assert!(
            verdict(
                "Detained Americans moved to house arrest",
                "The move is the first step of a deal between Washington and Tehran."
            )
            .relevant
        );
    }

    #[test]
    fn a_deal_negotiated_long_ago_is_background_to_a_vote() {
        let v = verdict(
            "Senate fails again to block measure on Iran deal",
            "The vote concerned the agreement negotiated by the Obama administration and world powers with Tehran.",
        );
        assert!(!v.relevant, "{v:?}");
        assert!(!verdict("Minister says the paper held up was talking points, not a message from Trump to Iran", "").relevant);
    }

    #[test]
    fn an_opinion_headline_is_not_news_but_a_condition_someone_set_is() {
        let v = verdict(
            "Why Washington should stop negotiating with Tehran",
            "The administration's talks with Iran reward bad behaviour, the author argues.",
        );
        assert!(!v.relevant, "{v:?}");
        assert!(v.reasons[0].contains("opinion"), "{v:?}");
        assert!(verdict("US must lift sanctions before any talks, Iran says", "").relevant);
    }

    #[test]
    fn a_market_story_is_other_news() {
        let v = verdict(
            "Oil prices slide on supply hopes",
            "Traders bet that talks between Washington and Tehran will bring Iranian barrels back.",
        );
        assert!(!v.relevant, "{v:?}");
    }

    #[test]
    fn talks_that_moved_a_market_are_market_news() {
        for (title, lead) in [
            (
                "Crude slips as traders weigh Washington-Tehran contacts",
                "",
            ),
            ("The rial rallies after the US and Iran meet in Muscat", ""),
            (
                "Tehran stock market climbs for a third day",
                "Investors cheered the news that US and Iranian envoys held indirect talks in Oman.",
            ),
        ] {
            let v = verdict(title, lead);
            assert!(!v.relevant, "{title}: {v:?}");
        }
        // Talks about a currency are talks, and a market in a later clause is the talks'
        // circumstance.
        assert!(
            verdict(
                "US and Iran open their first direct talks in years as oil prices fall",
                ""
            )
            .relevant
        );
        assert!(
            verdict(
                "US and Iran hold talks on frozen assets and the currency",
                ""
            )
            .relevant
        );
    }

    #[test]
    fn someone_elses_meeting_amid_talks_is_that_meeting_s_news() {
        let v = verdict("Netanyahu and Trump meet in Washington amid Iran talks", "");
        assert!(!v.relevant, "{v:?}");
        // Without another meeting in the headline, talks ahead are still the news.
        assert!(verdict("US envoy lands in Muscat ahead of talks with Iranians", "").relevant);
    }

    #[test]
    fn a_party_naming_the_topic_of_someone_elses_talks_is_not_taking_part() {
        for title in [
            "White House hosts Israeli officials for Iran nuclear discussions",
            "Trump and Netanyahu meet to weigh high-stakes Iran negotiations",
        ] {
            let v = verdict(title, "");
            assert!(!v.relevant, "{title}: {v:?}");
        }
        // Alone, or paired with the other party, the name is a participant.
        assert!(verdict("Iran nuclear talks resume in Vienna", "").relevant);
        assert!(verdict("Russia welcomes a new round of US-Iran talks", "").relevant);
        assert!(verdict("Russia backs Iran talks with the US in Oman", "").relevant);
        assert!(verdict("Trump talks to Iran's president by phone", "").relevant);
        assert!(
            verdict(
                "Trump announces direct Iran talks at a meeting with Netanyahu",
                ""
            )
            .relevant
        );
    }

    #[test]
    fn an_opinion_headline_makes_its_lead_an_argument() {
        let v = verdict(
            "Washington must hold firm on enrichment",
            "US and Iranian envoys resumed talks in Oman this week, and the old mistakes loom.",
        );
        assert!(!v.relevant, "{v:?}");
        assert!(v.reasons[0].contains("opinion"), "{v:?}");
        // A headline someone speaks keeps its lead as news.
        assert!(
            verdict(
                "Talks must respect our red lines, Iran says",
                "Iranian and US negotiators met in Muscat on Saturday for a second round.",
            )
            .relevant
        );
    }

    #[test]
    fn shutting_the_door_is_a_refusal_and_a_payment_channel_is_not_contact() {
        assert!(!verdict("Iran shuts the door on talks with Washington", "").relevant);
        assert!(
            !verdict(
                "Europe opens payment channel for trade with Iran despite US sanctions",
                ""
            )
            .relevant
        );
    }

    #[test]
    fn readiness_to_engage_counts_and_calling_talks_unwise_does_not() {
        assert!(
            verdict(
                "US prepared to engage with Iran without preconditions, Pompeo says",
                ""
            )
            .relevant
        );
        assert!(!verdict("Khamenei calls talks with the US unwise", "").relevant);
    }

    #[test]
    fn words_inside_a_name_are_not_news_words() {
        let v = verdict(
            "Bill Burns arrives in Oman",
            "US and Iranian negotiators will hold talks in Muscat on Saturday.",
        );
        assert!(v.relevant, "{v:?}");
        assert!(verdict("US and Iranian negotiators hold talks in Geneva", "").relevant);
    }

    #[test]
    fn reasons_name_parties_event_sentence_score_and_threshold() {
        let v = verdict("US and Iran resume indirect talks in Muscat", "");
        assert_eq!(
            v.reasons[0],
            "parties: United States (\"US\"), Iran (\"Iran\")"
        );
        assert_eq!(v.reasons[1], "event: talks (\"talks\")");
        assert_eq!(
            v.reasons[2],
            "sentence: \"US and Iran resume indirect talks in Muscat\""
        );
        assert!(
            v.reasons.last().unwrap().contains(">= threshold 0.60"),
            "{v:?}"
        );
    }
}

//! Measures story grouping on labelled real events: which reports would alert and which
//! would join a story, with publication time as the clock.

use super::Classifier;
use super::StoryKey;
use super::eval::Labelled;
use super::story::{STORY_JOIN_WINDOW, STORY_OPEN_FOR, StoryTimes};
use crate::model::Event;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// What grouping did with one real-world event's reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventStories {
    /// Reports of the event the classifier found relevant.
    pub reports: usize,
    /// Stories its reports opened: the alerts it would send.
    pub alerts: usize,
    /// The ids of the items that opened them, oldest first.
    pub opened_by: Vec<String>,
    /// Reports that joined a story another event opened, by that event (or the id of the
    /// unlabelled item that opened it).
    pub joined_others: BTreeMap<String, usize>,
}

/// The outcome of replaying labelled items as they were published.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoryReport {
    /// Per real-world event, by its id.
    pub events: BTreeMap<String, EventStories>,
    /// Relevant items with no event id (false positives, or unlabelled): the stories they
    /// open are alerts too.
    pub unlabelled_alerts: usize,
    /// Items left out for having no publication time.
    pub undated: usize,
}

impl StoryReport {
    /// Events with at least one relevant report (the classifier's misses are not counted).
    pub fn events_seen(&self) -> usize {
        self.events.len()
    }

    /// Events that raised at least one alert.
    pub fn events_alerted(&self) -> usize {
        self.events.values().filter(|e| e.alerts > 0).count()
    }

    /// Alerts beyond the first, per event that alerted: 0 is one alert per story.
    pub fn extra_per_alerted_event(&self) -> f64 {
        let alerted = self.events_alerted();
        let extra: usize = self
            .events
            .values()
            .map(|e| e.alerts.saturating_sub(1))
            .sum();
        if alerted == 0 {
            0.0
        } else {
            extra as f64 / alerted as f64
        }
    }

    /// Events all of whose relevant reports joined other events' stories: news a user
    /// never heard of.
    pub fn events_swallowed(&self) -> usize {
        self.events.values().filter(|e| e.alerts == 0).count()
    }
}

/// One story open during the replay.
struct OpenStory {
    key: StoryKey,
    /// When its first report was published: it takes reports for [`STORY_OPEN_FOR`].
    opened: DateTime<Utc>,
    /// The event kind of its first report: talks and a channel are two stories.
    kind: Option<Event>,
    latest: DateTime<Utc>,
    /// The event (or unlabelled item id) whose report opened it.
    opened_by: String,
}

/// Replays the items that are not ambiguous and carry a publication time, oldest first
/// (ties by id), through the classifier and the story rule the store uses
/// ([`StoryKey::joins`] at the default window, stories of one event kind, open for
/// [`STORY_OPEN_FOR`]): a relevant report joins the open story that shares most words with
/// it (the one with the latest report on a tie), or opens a story, which is an alert. Two
/// things the daemon has that a labelled file lacks are left out: joining by the same
/// canonical link, and a configured `story_window`; the daemon also times a story's
/// opening by its commit, the replay by publication.
pub fn replay_stories(classifier: &Classifier, items: &[Labelled]) -> StoryReport {
    let mut report = StoryReport::default();
    let mut dated: Vec<(&Labelled, DateTime<Utc>)> = Vec::new();
    for item in items.iter().filter(|i| !i.ambiguous) {
        match item.published {
            Some(at) => dated.push((item, at)),
            None => report.undated += 1,
        }
    }
    dated.sort_by(|a, b| {
        a.1.cmp(&b.1)
            .then_with(|| a.0.id_text().cmp(&b.0.id_text()))
    });
    let mut stories: Vec<OpenStory> = Vec::new();
    for (item, at) in dated {
        let verdict = classifier.classify(&item.title, &item.summary);
        if !verdict.relevant {
            continue;
        }
        let key = classifier.story_key(&item.title);
        let owner = item
            .group
            .clone()
            .unwrap_or_else(|| format!("item:{}", item.id_text()));
        let joined = best_story(&mut stories, &key, verdict.event, at);
        let stats = item
            .group
            .as_ref()
            .map(|event| report.events.entry(event.clone()).or_default());
        match joined {
            Some(story) => {
                story.latest = story.latest.max(at);
                story.key.absorb(&key);
                if let Some(stats) = stats {
                    stats.reports += 1;
                    if story.opened_by != owner {
                        *stats
                            .joined_others
                            .entry(story.opened_by.clone())
                            .or_default() += 1;
                    }
                }
            }
            None => {
                stories.push(OpenStory {
                    key,
                    opened: at,
                    kind: verdict.event,
                    latest: at,
                    opened_by: owner,
                });
                match stats {
                    Some(stats) => {
                        stats.reports += 1;
                        stats.alerts += 1;
                        stats.opened_by.push(item.id_text());
                    }
                    None => report.unlabelled_alerts += 1,
                }
            }
        }
    }
    report
}

/// The story a report joins: of the open ones of its event kind that [`StoryKey::joins`]
/// allows, the one sharing most words with it, the one with the latest report on a tie.
fn best_story<'s>(
    stories: &'s mut [OpenStory],
    key: &StoryKey,
    kind: Option<Event>,
    at: DateTime<Utc>,
) -> Option<&'s mut OpenStory> {
    stories
        .iter_mut()
        .enumerate()
        .filter(|(_, story)| {
            story.kind == kind
                && (at - story.opened).to_std().unwrap_or_default() <= STORY_OPEN_FOR
                && key.joins(
                    at,
                    &story.key,
                    StoryTimes {
                        opened: story.opened,
                        latest: story.latest,
                    },
                    STORY_JOIN_WINDOW,
                )
        })
        .max_by_key(|(index, story)| (key.shared_terms(&story.key), story.latest, *index))
        .map(|(_, story)| story)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{DEFAULT_PROFILE, builtin_profile};

    fn items(lines: &[(&str, &str, &str)]) -> Vec<Labelled> {
        lines
            .iter()
            .enumerate()
            .map(|(i, (event, published, title))| {
                serde_json::from_value(serde_json::json!({
                    "id": format!("i{i}"), "title": title, "label": "talks_or_channel",
                    "event": event, "published": published,
                }))
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn one_alert_per_event_however_the_outlets_word_it() {
        let classifier = Classifier::new(builtin_profile(DEFAULT_PROFILE).unwrap(), None);
        let set = items(&[
            (
                "muscat",
                "2026-03-07T09:00:00Z",
                "US and Iranian envoys meet in Muscat",
            ),
            (
                "muscat",
                "2026-03-07T11:30:00Z",
                "Rare contact between Washington and Tehran in Oman",
            ),
            (
                "muscat",
                "2026-03-08T06:00:00Z",
                "Iran calls talks with the Americans constructive",
            ),
            (
                "geneva",
                "2026-03-12T10:00:00Z",
                "US and Iran hold second round of talks in Geneva",
            ),
            (
                "geneva",
                "2026-03-12T12:00:00Z",
                "Iranian and American negotiators meet in Geneva",
            ),
            // No time: left out and counted.
            ("geneva", "", "Second US-Iran round opens in Geneva"),
        ]);
        let report = replay_stories(&classifier, &set);
        assert_eq!(report.undated, 1);
        assert_eq!(report.events_seen(), 2);
        assert_eq!(report.events_alerted(), 2);
        assert_eq!(report.extra_per_alerted_event(), 0.0);
        assert_eq!(report.events_swallowed(), 0);
        assert_eq!(report.events["muscat"].reports, 3);
        assert_eq!(report.events["muscat"].opened_by, ["i0"]);
    }

    #[test]
    fn an_event_that_only_joins_another_is_swallowed() {
        let classifier = Classifier::new(builtin_profile(DEFAULT_PROFILE).unwrap(), None);
        let set = items(&[
            (
                "meeting",
                "2026-03-07T09:00:00Z",
                "US and Iranian envoys meet in Muscat",
            ),
            // Another event hours later with nothing to tell it apart: it joins.
            (
                "letter",
                "2026-03-07T15:00:00Z",
                "Iran hands US envoy a written reply",
            ),
        ]);
        let report = replay_stories(&classifier, &set);
        assert_eq!(report.events_swallowed(), 1, "{report:?}");
        assert_eq!(report.events["letter"].joined_others["meeting"], 1);
    }
}

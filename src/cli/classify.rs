//! The classifier commands: `classify`, `preview` and `eval`.
//!
//! `classify` reads JSON Lines and writes one verdict a line, `preview` fetches one feed and
//! scores its items, `eval` scores the classifier against a labelled file.

use super::runtime;
use anyhow::{Context, Result};
use parleyd::classify::eval::{EvalReport, Labelled, evaluate};
use parleyd::classify::story_eval::{StoryReport, replay_stories};
use parleyd::classify::train::{Learn, cross_validate};
use parleyd::classify::{Classifier, DEFAULT_PROFILE, Profile, builtin_profile};
use parleyd::config::{Config, LogFormat};
use parleyd::telemetry;
use serde::Deserialize;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

/// One input line of `parleyd classify`.
#[derive(Debug, Deserialize)]
struct ClassifyInput {
    #[serde(default)]
    id: serde_json::Value,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
}

/// One output line of `parleyd classify`, fields in the documented order.
#[derive(Debug, serde::Serialize)]
struct ClassifyOutput {
    id: serde_json::Value,
    relevant: bool,
    event: Option<parleyd::Event>,
    score: f64,
    reasons: Vec<String>,
}

pub(super) fn load_classifier(profile: Option<&Path>) -> Result<Classifier> {
    let profile = match profile {
        Some(path) => Profile::load(path)?,
        None => builtin_profile(DEFAULT_PROFILE)?,
    };
    Ok(Classifier::new(profile, None))
}

pub(super) fn classify(profile: Option<&Path>) -> Result<ExitCode> {
    telemetry::init("warn", LogFormat::Human);
    let classifier = load_classifier(profile)?;
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut bad_lines = 0;
    for (index, line) in stdin.split(b'\n').enumerate() {
        let line = line.context("cannot read standard input")?;
        let text = String::from_utf8_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        let result = match serde_json::from_str::<ClassifyInput>(&text) {
            Ok(input) => {
                let verdict = classifier.classify(&input.title, &input.summary);
                serde_json::to_value(ClassifyOutput {
                    id: input.id,
                    relevant: verdict.relevant,
                    event: verdict.event,
                    score: verdict.score,
                    reasons: verdict.reasons,
                })?
            }
            Err(err) => {
                bad_lines += 1;
                serde_json::json!({
                    "id": null,
                    "error": format!("line {}: not an article object: {err}", index + 1),
                })
            }
        };
        serde_json::to_writer(&mut out, &result)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if bad_lines == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("parleyd: {bad_lines} input line(s) were not article objects");
        ExitCode::from(1)
    })
}

/// The config `preview` scores with (its sink secrets left unresolved: preview sends
/// nothing): the one given, or the one at the default path if there
/// is one; `None` when neither exists (then the built-in profile and default limits apply).
fn preview_config(path: &Path) -> Result<Option<Config>> {
    if path == Path::new(parleyd::config::DEFAULT_CONFIG_PATH) && !path.exists() {
        return Ok(None);
    }
    Ok(Some(Config::load_without_sink_secrets(path)?))
}

pub(super) fn preview(target: &str, profile: Option<&Path>, config: &Path) -> Result<ExitCode> {
    telemetry::init("warn", LogFormat::Human);
    let config = preview_config(config)?;
    let url = match url::Url::parse(target) {
        Ok(url) if matches!(url.scheme(), "http" | "https" | "file") => url,
        _ => {
            let path = std::fs::canonicalize(target)
                .with_context(|| format!("{target} is neither a feed URL nor a readable file"))?;
            url::Url::from_file_path(&path)
                .map_err(|()| anyhow::anyhow!("cannot make a file URL of {}", path.display()))?
        }
    };
    let feed = parleyd::config::FeedConfig {
        name: parleyd::redact::display_url(&url),
        url,
        interval: parleyd::config::DEFAULT_INTERVAL,
        alert_on_first_poll: false,
    };
    // The daemon's classifier is built from the config's profile and threshold; so is this.
    let (classifier, scored_with) = match (&config, profile) {
        (Some(config), None) => (
            Classifier::from_source(&config.classifier.profile, config.classifier.threshold)?,
            format!("the classifier of {}", config.source.display()),
        ),
        (_, Some(path)) => (load_classifier(Some(path))?, path.display().to_string()),
        (None, None) => (
            load_classifier(None)?,
            format!("builtin:{DEFAULT_PROFILE} (no config)"),
        ),
    };
    let poll_config = config.map(|c| c.poll).unwrap_or_default();
    let poller = parleyd::poll::Poller::new(&poll_config)?;
    let fetched =
        runtime()?.block_on(poller.fetch(&feed, &parleyd::poll::Validators::default()))?;
    let parleyd::poll::Fetched::Body(body) = fetched else {
        anyhow::bail!(
            "{}: the server answered 304 Not Modified to an unconditional request",
            feed.name
        );
    };
    let parsed = parleyd::parse::parse_feed(
        &body.bytes,
        body.content_type.as_deref(),
        parleyd::parse::Source {
            name: &feed.name,
            url: &feed.url,
        },
        chrono::Utc::now(),
    )?;
    eprintln!(
        "{}: {} item(s){}{}; scored with {scored_with}, threshold {:.2}",
        feed.name,
        parsed.articles.len(),
        parsed
            .title
            .as_deref()
            .map(|t| format!(", feed title \"{t}\""))
            .unwrap_or_default(),
        parsed
            .recovered
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        classifier.threshold()
    );
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for article in &parsed.articles {
        let verdict = classifier.classify_article(article);
        let line = serde_json::json!({
            "key": article.key,
            "title": article.title,
            "link": article.link,
            "published": article.published.map(|p| p.to_rfc3339()),
            "summary": article.summary,
            "verdict": {
                "relevant": verdict.relevant,
                "event": verdict.event,
                "score": verdict.score,
                "reasons": verdict.reasons,
            },
        });
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Minimum scores for `eval`.
pub(super) struct Floors {
    pub(super) precision: Option<f64>,
    pub(super) recall: Option<f64>,
    pub(super) f1: Option<f64>,
}

/// How `eval` scores: the profile as it is, or cross-validated.
pub(super) struct EvalMode {
    /// K folds, items of one real-world event in one fold (`--folds`).
    pub(super) folds: Option<usize>,
    /// Whether folds keep each `event` together (`--group-by event`) or split items freely.
    pub(super) group_by_event: bool,
    /// Leave the profile's model out and learn the rules' threshold (`--threshold-only`).
    pub(super) threshold_only: bool,
    /// Replay the items as published and report story grouping (`--stories`).
    pub(super) stories: bool,
}

/// Reads a labelled JSON Lines file, keeping the items of `split` when one is named.
pub(super) fn read_labelled(file: &Path, split: Option<&str>) -> Result<Vec<Labelled>> {
    let text = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut items = Vec::new();
    let mut splits = std::collections::BTreeSet::new();
    for (index, line) in String::from_utf8_lossy(&text).lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item: Labelled = serde_json::from_str(line).with_context(|| {
            format!(
                "{}: line {}: not a labelled item",
                file.display(),
                index + 1
            )
        })?;
        if let Some(name) = &item.split {
            splits.insert(name.clone());
        }
        if split.is_none_or(|wanted| item.split.as_deref() == Some(wanted)) {
            items.push(item);
        }
    }
    if let Some(wanted) = split
        && items.is_empty()
    {
        let known = if splits.is_empty() {
            "it has no `split` fields".to_string()
        } else {
            let quoted: Vec<String> = splits.iter().map(|s| format!("`{s}`")).collect();
            format!("its splits are {}", quoted.join(", "))
        };
        anyhow::bail!("{}: no items in split `{wanted}`; {known}", file.display());
    }
    anyhow::ensure!(
        !items.is_empty(),
        "{}: no items to evaluate",
        file.display()
    );
    Ok(items)
}

pub(super) fn eval(
    file: &Path,
    profile: Option<&Path>,
    split: Option<&str>,
    mode: EvalMode,
    floors: Floors,
) -> Result<ExitCode> {
    telemetry::init("warn", LogFormat::Human);
    let classifier = load_classifier(profile)?;
    let mut items = read_labelled(file, split)?;
    if mode.stories {
        return write_stories(&replay_stories(&classifier, &items));
    }
    let ambiguous = items.iter().filter(|i| i.ambiguous).count();
    let mut out = std::io::stdout().lock();
    let report = match mode.folds {
        None => evaluate(&classifier, &items),
        Some(k) => {
            if !mode.group_by_event {
                // Every item its own group: plain k-fold.
                items.iter_mut().for_each(|item| item.group = None);
            }
            let learn = if classifier.profile().model.is_some() && !mode.threshold_only {
                Learn::Model
            } else {
                Learn::Threshold
            };
            let (folds, pooled) = cross_validate(classifier.profile(), &items, k, learn);
            for (index, fold) in folds.iter().enumerate() {
                let r = &fold.report;
                let learned = match learn {
                    Learn::Model => format!(
                        "a model trained on the rest (threshold {:.3})",
                        fold.threshold
                    ),
                    Learn::Threshold => {
                        format!("threshold {:.3} learned on the rest", fold.threshold)
                    }
                };
                writeln!(
                    out,
                    "fold {}: {} items in {} groups, {learned}: \
                     precision {:.3}, recall {:.3} (TP {} FP {} FN {})",
                    index + 1,
                    fold.held_out,
                    fold.groups,
                    r.precision(),
                    r.recall(),
                    r.true_positives,
                    r.false_positives,
                    r.false_negatives
                )?;
            }
            writeln!(
                out,
                "pooled over {} folds{}:",
                folds.len(),
                if mode.group_by_event {
                    ", one real-world event never on both sides"
                } else {
                    ""
                }
            )?;
            pooled
        }
    };
    writeln!(
        out,
        "{} items{}{}: precision {:.3}, recall {:.3}, F1 {:.3}",
        report.items,
        split.map(|s| format!(" (split {s})")).unwrap_or_default(),
        if ambiguous > 0 {
            format!(", {ambiguous} ambiguous left out")
        } else {
            String::new()
        },
        report.precision(),
        report.recall(),
        report.f1()
    )?;
    write_details(&mut out, &report)?;
    check_floors(&report, floors)
}

fn write_stories(report: &StoryReport) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    for (event, stories) in &report.events {
        let joined: Vec<String> = stories
            .joined_others
            .iter()
            .map(|(other, n)| format!("{n} into {other}"))
            .collect();
        writeln!(
            out,
            "{event}: {} reports, {} alert{} ({}){}",
            stories.reports,
            stories.alerts,
            if stories.alerts == 1 { "" } else { "s" },
            stories.opened_by.join(", "),
            if joined.is_empty() {
                String::new()
            } else {
                format!(", joined another story: {}", joined.join(", "))
            }
        )?;
    }
    let seen = report.events_seen();
    let swallowed = report.events_swallowed();
    writeln!(
        out,
        "\n{seen} events with relevant reports: {} alerted, {:.2} extra alerts per alerted \
         event, {swallowed} swallowed by another story ({:.1}%); {} alerts from items with no \
         event; {} items without a date left out",
        report.events_alerted(),
        report.extra_per_alerted_event(),
        if seen == 0 {
            0.0
        } else {
            100.0 * swallowed as f64 / seen as f64
        },
        report.unlabelled_alerts,
        report.undated
    )?;
    Ok(ExitCode::SUCCESS)
}

fn write_details(out: &mut impl Write, report: &EvalReport) -> Result<()> {
    writeln!(
        out,
        "TP {}  FP {}  FN {}  TN {}  event kind right in {} of {}",
        report.true_positives,
        report.false_positives,
        report.false_negatives,
        report.true_negatives,
        report.event_correct,
        report.event_checked
    )?;
    if !report.false_positive_items.is_empty() {
        writeln!(out, "\nfalse positives by category:")?;
        for (category, count) in report.false_positives_by_category() {
            writeln!(out, "  {category:<16} {count}")?;
        }
        writeln!(out, "\nfalse positives:")?;
        for miss in &report.false_positive_items {
            writeln!(out, "  {miss}")?;
        }
    }
    if !report.missed_items.is_empty() {
        writeln!(out, "\nmisses:")?;
        for miss in &report.missed_items {
            writeln!(out, "  {miss}")?;
        }
    }
    Ok(())
}

fn check_floors(report: &EvalReport, floors: Floors) -> Result<ExitCode> {
    let mut failed = Vec::new();
    for (name, value, floor) in [
        ("precision", report.precision(), floors.precision),
        ("recall", report.recall(), floors.recall),
        ("F1", report.f1(), floors.f1),
    ] {
        if let Some(floor) = floor
            && value < floor
        {
            failed.push(format!("{name} {value:.3} is below the floor {floor:.3}"));
        }
    }
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("parleyd: {}", failed.join("; "));
        Ok(ExitCode::from(1))
    }
}

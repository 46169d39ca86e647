//! `parleyd classify` and `parleyd profile`, through the real binary.

use crate::support::*;
use parleyd::classify::{DEFAULT_PROFILE, Profile, builtin_profile, builtin_profile_text};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect()
}

#[tokio::test]
async fn classify_writes_one_verdict_per_line_in_order() {
    let input = concat!(
        r#"{"id": "a", "title": "US and Iran resume indirect talks in Oman", "summary": "Envoys exchanged messages through mediators."}"#,
        "\n",
        r#"{"id": 7, "title": "Stocks rise as inflation cools", "summary": ""}"#,
        "\n",
        r#"{"id": "c", "title": "Iran says channel with US envoy remains open", "summary": ""}"#,
        "\n"
    );
    let run = parleyd(&["classify"], &[], input.as_bytes()).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out = lines(&run.stdout);
    assert_eq!(out.len(), 3);
    assert_eq!(out[0]["id"], "a");
    assert_eq!(out[1]["id"], 7);
    assert_eq!(out[2]["id"], "c");
    assert_eq!(out[0]["relevant"], true);
    assert_eq!(out[0]["event"], "talks");
    assert_eq!(out[1]["relevant"], false);
    assert!(out[1]["event"].is_null());
    assert_eq!(out[2]["relevant"], true);
    assert_eq!(out[2]["event"], "channel");
    let keys: Vec<&String> = out[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "relevant", "event", "score", "reasons"]);
    let reasons = out[0]["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r.as_str().unwrap().contains("threshold"))
    );
}

#[tokio::test]
async fn bad_lines_are_reported_in_place_and_the_rest_still_classified() {
    let input = b"not json\n{\"id\": 1, \"title\": \"Caf\xe9 opens\"}\n";
    let run = parleyd(&["classify"], &[], input).await;
    assert_eq!(run.code, Some(1));
    let out = lines(&run.stdout);
    assert_eq!(out.len(), 2);
    assert!(out[0]["error"].as_str().unwrap().starts_with("line 1:"));
    assert_eq!(out[1]["id"], 1, "non-UTF-8 input is read, not rejected");
}

#[tokio::test]
async fn seeds_are_relevant_and_unrelated_news_is_not() {
    let mut input = String::new();
    let mut seed_ids = Vec::new();
    for entry in std::fs::read_dir(root().join("corpus/us-iran")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let title = lines.next().unwrap();
        let summary: String = lines.take(3).collect::<Vec<_>>().join(" ");
        let id = path.file_name().unwrap().to_string_lossy().into_owned();
        input.push_str(
            &serde_json::json!({"id": id, "title": title, "summary": summary}).to_string(),
        );
        input.push('\n');
        seed_ids.push(id);
    }
    assert_eq!(seed_ids.len(), 5);
    let unrelated = [
        "US imposes new sanctions on Iranian oil tankers",
        "US and China hold trade talks in Geneva",
        "Iran and European powers meet for nuclear talks in Istanbul",
        "Ferry services across the English Channel resume after storm",
        "Iran rejects US offer of direct talks",
        "Union negotiators reach a deal with carmaker after long talks",
        "Tourism in Oman reaches a record as cruise ships return",
    ];
    for (i, title) in unrelated.iter().enumerate() {
        input.push_str(
            &serde_json::json!({"id": format!("neg-{i}"), "title": title, "summary": ""})
                .to_string(),
        );
        input.push('\n');
    }
    let run = parleyd(&["classify"], &[], input.as_bytes()).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    for verdict in lines(&run.stdout) {
        let id = verdict["id"].as_str().unwrap();
        let expected = !id.starts_with("neg-");
        assert_eq!(verdict["relevant"], expected, "{verdict}");
    }
}

#[test]
fn the_builtin_profile_is_what_the_corpus_builds() {
    let built = Profile::build(&root().join("corpus/us-iran")).unwrap();
    assert_eq!(
        built.to_toml(),
        builtin_profile_text(DEFAULT_PROFILE).unwrap(),
        "profiles/us-iran.toml is stale: run `parleyd profile build corpus/us-iran -o profiles/us-iran.toml`"
    );
}

#[test]
fn the_builtin_model_was_trained_on_the_builtin_rules() {
    let builtin = builtin_profile(DEFAULT_PROFILE).unwrap();
    let model = builtin
        .model
        .as_ref()
        .expect("the built-in profile ships a model");
    assert_eq!(
        model.rules,
        builtin.rules_fingerprint(),
        "the rules (the lexicon, or RULES_VERSION for the scorer's code) changed since \
         corpus/us-iran/model.toml was trained: retrain it with `parleyd profile train \
         LABELLED.jsonl --profile profiles/us-iran.toml --model --model-only -o \
         corpus/us-iran/model.toml`, then rebuild the profile"
    );
}

/// Guarantees: `profile train --model` writes a model learned from the file (the same one
/// the library learns, every time), keeps the rules it started from, warns when the file
/// is small, and the model it writes with `--model-only` is what `profile build` puts in a
/// profile from a corpus folder; `classify` under the trained profile explains the
/// model's part of each verdict; plain `profile train` keeps a profile's model.
#[tokio::test]
async fn profile_train_learns_a_model_that_classify_and_build_use() {
    let dir = TestDir::new();
    let set = real_news_shaped(&dir);
    let out = dir.path().join("trained.toml");
    let train = |extra: &'static [&'static str], out: std::path::PathBuf| {
        let set = set.clone();
        async move {
            let mut args = vec!["profile", "train", set.to_str().unwrap()];
            args.extend_from_slice(&["-o", out.to_str().unwrap()]);
            args.extend_from_slice(extra);
            parleyd(&args, &[], b"").await
        }
    };
    let run = train(&["--model"], out.clone()).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("a model of"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("a model from 11 labelled items knows little"),
        "{}",
        run.stderr
    );
    let trained = Profile::load(&out).expect("the trained profile loads");
    let model = trained.model.clone().expect("a model was trained");
    let rules = parleyd::classify::train::rules_only(&builtin_profile(DEFAULT_PROFILE).unwrap());
    assert_eq!(parleyd::classify::train::rules_only(&trained), rules);
    assert_eq!(model.rules, rules.rules_fingerprint());
    assert_eq!(model.trained_on, 11, "ambiguous items are left out");
    assert!(model.weights.contains_key("rule linked"), "{model:?}");
    let items: Vec<parleyd::classify::eval::Labelled> = std::fs::read_to_string(&set)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parleyd::classify::train::train_model(&rules, &items), model);

    let input = "{\"id\": \"x\", \"title\": \"Envoys of Washington and Tehran meet in Doha\"}\n";
    let run = parleyd(
        &["classify", "--profile", out.to_str().unwrap()],
        &[],
        input.as_bytes(),
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // The model's reason: its probability against the trained model's threshold, and
    // what the rules added.
    assert!(run.stdout.contains("\"model "), "{}", run.stdout);
    assert!(run.stdout.contains(" 0.60; rules "), "{}", run.stdout);

    // A corpus folder with the model beside its lexicon builds the trained profile.
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    for entry in std::fs::read_dir(root().join("corpus/us-iran")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.file_name().unwrap() != "model.toml" {
            std::fs::copy(&path, corpus.join(path.file_name().unwrap())).unwrap();
        }
    }
    let run = train(&["--model", "--model-only"], corpus.join("model.toml")).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let built = Profile::build(&corpus).unwrap();
    assert_eq!(built.model, Some(model));

    // Without `--model`, training a profile that has a model learns only the model's
    // threshold and keeps its weights.
    let tuned = dir.path().join("tuned.toml");
    let run = train(&[], tuned.clone()).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("the model's threshold"),
        "{}",
        run.stderr
    );
    let tuned = Profile::load(&tuned).unwrap();
    let builtin = builtin_profile(DEFAULT_PROFILE).unwrap();
    let (tuned_model, builtin_model) = (tuned.model.unwrap(), builtin.model.unwrap());
    assert_eq!(tuned_model.weights, builtin_model.weights);
    assert_eq!(tuned.threshold, builtin.threshold);
}

#[tokio::test]
async fn profile_build_writes_a_profile_that_classify_reads() {
    let dir = TestDir::new();
    let output = dir.path().join("profile.toml");
    let corpus = root().join("corpus/us-iran");
    let run = parleyd(
        &[
            "profile",
            "build",
            corpus.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ],
        &[],
        b"",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let show = parleyd(&["profile", "show", output.to_str().unwrap()], &[], b"").await;
    assert_eq!(show.code, Some(0));
    assert!(show.stdout.contains("name = \"us-iran\""));
    assert!(show.stdout.contains("[learned.terms]"));
    let run = parleyd(
        &["classify", "--profile", output.to_str().unwrap()],
        &[],
        b"{\"id\": 1, \"title\": \"Washington and Tehran set up a hotline\"}\n",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(lines(&run.stdout)[0]["relevant"], true);
}

#[tokio::test]
async fn a_broken_profile_is_named() {
    let dir = TestDir::new();
    let bad = dir.write("bad.toml", "name = \"x\"\nthreshold = 0.5\n");
    let run = parleyd(&["classify", "--profile", bad.to_str().unwrap()], &[], b"").await;
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("bad.toml"), "{}", run.stderr);
}

/// The floors CI holds the classifier to, set from the held-out split of the team's set
/// (measured there: precision 1.000, recall 1.000 over 106 items). They sit below the
/// measurement so that one disputed item does not fail the build, and at the issue's targets
/// so that a real regression does.
const HELDOUT_MIN_PRECISION: &str = "0.97";
const HELDOUT_MIN_RECALL: &str = "0.95";

#[tokio::test]
async fn the_team_set_meets_the_floors_set_from_its_held_out_split() {
    let set = root().join("corpus/us-iran/labelled/team.jsonl");
    let set = set.to_str().unwrap();
    for split in ["heldout", "tune"] {
        let run = parleyd(
            &[
                "eval",
                set,
                "--split",
                split,
                "--min-precision",
                HELDOUT_MIN_PRECISION,
                "--min-recall",
                HELDOUT_MIN_RECALL,
            ],
            &[],
            b"",
        )
        .await;
        assert_eq!(run.code, Some(0), "{split}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains("precision"), "{}", run.stdout);
    }
}

#[tokio::test]
async fn eval_fails_below_a_floor_and_lists_errors() {
    let dir = TestDir::new();
    let set = dir.write(
        "set.jsonl",
        concat!(
            r#"{"id": "p1", "title": "US and Iran hold talks in Oman", "label": true, "event": "talks", "category": "talks"}"#,
            "\n",
            r#"{"id": "p2", "title": "Markets rise", "label": true, "category": "mislabelled"}"#,
            "\n",
            r#"{"id": "n1", "title": "US sanctions Iranian oil", "label": false, "category": "sanctions"}"#,
            "\n"
        ),
    );
    let run = parleyd(
        &["eval", set.to_str().unwrap(), "--min-recall", "0.9"],
        &[],
        b"",
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("3 items: precision 1.000, recall 0.500"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("misses:"), "{}", run.stdout);
    assert!(run.stdout.contains("p2 [mislabelled]"), "{}", run.stdout);
    assert!(
        run.stderr.contains("recall 0.500 is below the floor 0.900"),
        "{}",
        run.stderr
    );
}

#[test]
fn classification_is_deterministic() {
    let classifier = parleyd::Classifier::new(
        parleyd::classify::builtin_profile(DEFAULT_PROFILE).unwrap(),
        None,
    );
    let title = "Iran, US negotiators meet in Muscat as talks resume";
    let lead = "Omani mediators shuttled between the two delegations, officials said.";
    let first = classifier.classify(title, lead);
    for _ in 0..3 {
        assert_eq!(classifier.classify(title, lead), first);
    }
    let fresh = parleyd::Classifier::new(
        parleyd::classify::builtin_profile(DEFAULT_PROFILE).unwrap(),
        None,
    );
    assert_eq!(fresh.classify(title, lead), first);
}

/// A small real-news-shaped file in the team's words: class names as labels, real-world
/// event ids, one ambiguous item.
fn real_news_shaped(dir: &TestDir) -> std::path::PathBuf {
    let mut lines = Vec::new();
    let positives = [
        "Envoys of Washington and Tehran meet in Muscat",
        "US and Iranian negotiators end a round in Rome",
        "Iran and six world powers agree to meet again",
        "Kerry and Zarif confer by phone",
    ];
    for (event, title) in positives.iter().enumerate() {
        for outlet in 0..2 {
            lines.push(format!(
                r#"{{"id": "p{event}-{outlet}", "title": "{title}", "summary": "", "label": "talks_or_channel", "ambiguous": false, "event": "e{event}"}}"#
            ));
        }
    }
    for (index, title) in [
        "Treasury sanctions Iranian tanker owners",
        "Iran and the E3 hold talks in Istanbul",
        "Channel ferries cancelled in storm",
    ]
    .iter()
    .enumerate()
    {
        lines.push(format!(
            r#"{{"id": "n{index}", "title": "{title}", "summary": "", "label": "us_iran_other", "ambiguous": false, "event": null}}"#
        ));
    }
    lines.push(
        r#"{"id": "a1", "title": "Markets shrug", "summary": "", "label": "talks_or_channel", "ambiguous": true, "event": null}"#
            .to_string(),
    );
    dir.write("real.jsonl", &(lines.join("\n") + "\n"))
}

#[tokio::test]
async fn eval_cross_validates_by_event_and_pools_the_folds() {
    let dir = TestDir::new();
    let set = real_news_shaped(&dir);
    let cross_validate = |learn: &'static [&'static str]| {
        let set = set.clone();
        async move {
            let mut args = vec!["eval", set.to_str().unwrap(), "--folds", "3"];
            args.extend_from_slice(&["--group-by", "event"]);
            args.extend_from_slice(learn);
            parleyd(&args, &[], b"").await
        }
    };
    // Learning only the threshold: the rules separate this set in every fold.
    let run = cross_validate(&["--threshold-only"]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.matches(", threshold ").count(),
        3,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("pooled over 3 folds, one real-world event never on both sides"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("11 items, 1 ambiguous left out: precision 1.000, recall 1.000"),
        "{}",
        run.stdout
    );
    // The built-in profile has a model: each fold trains one anew on the other two.
    let run = cross_validate(&[]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout
            .matches("a model trained on the rest (threshold 0.600)")
            .count(),
        3,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("11 items, 1 ambiguous left out"),
        "{}",
        run.stdout
    );
    // Folds below two are refused with the range.
    let run = parleyd(&["eval", set.to_str().unwrap(), "--folds", "1"], &[], b"").await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("2..=50"), "{}", run.stderr);
}

#[tokio::test]
async fn profile_train_writes_a_profile_with_the_learned_threshold() {
    let dir = TestDir::new();
    let set = real_news_shaped(&dir);
    let out = dir.path().join("trained.toml");
    // A profile of rules alone learns the rules' threshold.
    let rules_file = dir.path().join("rules.toml");
    let rules = parleyd::classify::train::rules_only(&builtin_profile(DEFAULT_PROFILE).unwrap());
    std::fs::write(&rules_file, rules.to_toml()).unwrap();
    let run = parleyd(
        &[
            "profile",
            "train",
            set.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--profile",
            rules_file.to_str().unwrap(),
        ],
        &[],
        b"",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("threshold"), "{}", run.stderr);
    let trained = Profile::load(&out).expect("the trained profile loads");
    let builtin = rules;
    // The threshold is the one the library learns from the same file.
    let items: Vec<parleyd::classify::eval::Labelled> = std::fs::read_to_string(&set)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let scored = parleyd::classify::eval::score_items(&builtin, &items);
    let expected = parleyd::classify::train::train_threshold(&scored, builtin.threshold);
    assert_eq!(trained.threshold, expected);
    // Everything but the threshold is the profile it started from.
    let mut untrained = trained.clone();
    untrained.threshold = builtin.threshold;
    assert_eq!(untrained, builtin);
    let run = parleyd(
        &[
            "eval",
            set.to_str().unwrap(),
            "--profile",
            out.to_str().unwrap(),
        ],
        &[],
        b"",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("recall 1.000"), "{}", run.stdout);
}

#[tokio::test]
async fn eval_stories_replays_reports_as_published_and_counts_alerts_per_event() {
    let dir = TestDir::new();
    let lines = [
        r#"{"id": "a1", "title": "US and Iranian envoys meet in Muscat", "label": "talks_or_channel", "event": "muscat", "date": "2026-03-07", "source": "one.example"}"#,
        r#"{"id": "a2", "title": "Rare contact between Washington and Tehran in Oman", "label": "talks_or_channel", "event": "muscat", "date": "2026-03-07", "source": "two.example"}"#,
        r#"{"id": "b1", "title": "US and Iran hold second round of talks in Geneva", "label": "talks_or_channel", "event": "geneva", "date": "2026-03-12", "source": "one.example"}"#,
        r#"{"id": "b2", "title": "Second US-Iran round opens in Geneva", "label": "talks_or_channel", "event": "geneva", "date": null, "source": "three.example"}"#,
    ];
    let set = dir.write("stories.jsonl", &(lines.join("\n") + "\n"));
    let run = parleyd(&["eval", set.to_str().unwrap(), "--stories"], &[], b"").await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains("muscat: 2 reports, 1 alert (a1)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("geneva: 1 reports, 1 alert (b1)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "2 events with relevant reports: 2 alerted, 0.00 extra alerts per alerted event, \
             0 swallowed by another story (0.0%)"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("1 items without a date left out"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn eval_of_a_split_that_is_not_there_lists_the_splits() {
    let set = root().join("corpus/us-iran/labelled/team.jsonl");
    let run = parleyd(
        &["eval", set.to_str().unwrap(), "--split", "nosuch"],
        &[],
        b"",
    )
    .await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("no items in split `nosuch`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("`heldout`") && run.stderr.contains("`tune`"),
        "{}",
        run.stderr
    );
}

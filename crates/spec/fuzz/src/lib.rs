//! What the fuzz targets check of a spec, shared with the regression tests that replay the
//! inputs the fuzzer found (`tests/spec_fuzz_regressions.rs` includes this file).
//!
//! Parsing any text must return, not panic. An error must render (its spans point into the
//! text). An experiment must be usable: a safe name, distinct runs whose ids are the hashes of
//! their configurations, and configurations that survive the `config.toml` round trip a worker
//! makes.

use std::path::Path;

use hourglass_spec::{Backend, Catalog, Labels, RunConfig, RunId};

/// The data sets and backends the fuzzed specs are checked against.
pub fn catalog() -> Catalog {
    let labels = |classes, anomaly_label| Labels {
        classes: Some(classes),
        anomaly_label,
    };
    Catalog {
        datasets: [
            ("mnist".to_string(), vec![1, 28, 28]),
            ("shuttle".to_string(), vec![9]),
            ("series".to_string(), vec![64]),
        ]
        .into(),
        backends: vec![Backend::Flex],
        labels: [
            ("mnist".to_string(), labels(10, None)),
            ("shuttle".to_string(), labels(2, Some(1))),
        ]
        .into(),
    }
}

/// Parses `source` and checks what holds of any result; panics on a violation.
pub fn check(source: &str) {
    let experiment = match hourglass_spec::parse(Path::new("fuzz.toml"), source, &catalog()) {
        Ok(experiment) => experiment,
        Err(error) => {
            let rendered = error.to_string();
            assert!(!rendered.is_empty(), "an error renders as text");
            return;
        }
    };
    let name = &experiment.name;
    assert!(
        !name.is_empty()
            && !name.starts_with('.')
            && !name.contains(['/', '\\'])
            && Path::new(name).components().count() == 1,
        "unsafe experiment name {name:?} accepted"
    );
    assert!(!experiment.runs.is_empty(), "an experiment without runs");
    let mut ids: Vec<&RunId> = experiment.runs.iter().map(|run| &run.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), experiment.runs.len(), "two runs share an id");
    for run in &experiment.runs {
        assert_eq!(
            run.id,
            RunId::of(&run.config),
            "id is not the config's hash"
        );
        let written = toml::to_string(&run.config).expect("a run config serializes to TOML");
        let read: RunConfig = toml::from_str(&written)
            .unwrap_or_else(|e| panic!("config.toml does not read back: {e}\n{written}"));
        assert_eq!(read, run.config, "config.toml changes the run:\n{written}");
        assert_eq!(RunId::of(&read), run.id, "config.toml changes the run id");
    }
}

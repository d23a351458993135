//! What the fuzz targets check of a spec, shared with the regression tests that replay the
//! inputs the fuzzer found (`tests/spec_fuzz_regressions.rs` includes this file).
//!
//! Parsing any text must return, not panic. An error must render in the `error:` form (its
//! spans point into the text) at a size that does not grow with long values or lines. An
//! experiment must be usable: a safe name, distinct runs whose ids are the hashes of their
//! configurations, and configurations that survive the `config.toml` round trip a worker makes.

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
            assert!(rendered.starts_with("error: "), "an error renders as text");
            // Long values and lines are cut: what is printed does not grow with the input.
            let most = 8_000 * (error.diagnostics().len() + 1) + 2 * source.len().min(1_000);
            assert!(
                rendered.len() <= most,
                "{} bytes of error for {} diagnostics",
                rendered.len(),
                error.diagnostics().len()
            );
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

//! The anomaly task's classical detectors on the data of `experiments/anomaly-shuttle.toml`
//! and `experiments/anomaly-breast-cancer.toml` (the first run's split: its normal training
//! examples, standardised, and its test split), for `cargo xtask bench` to hold against PyOD
//! (`xtask/bench/pyod_detectors.py`).
//!
//! Writes each split as CSV into `reports/bench/detectors/<data set>/` (`train.csv`: the
//! features; `test.csv`: the features and `anomaly`, 1 for an anomaly), so that PyOD scores
//! exactly these rows, and prints one JSON object per detector: its AUROC here, the
//! Isolation Forest's as the mean over seeds 0–9.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hourglass_data::{Registry, Split};
use hourglass_metrics::auroc;
use hourglass_spec::{Backend, Catalog};
use hourglass_train::{Baseline, anomaly_data};

/// Seeds the Isolation Forest's AUROC is averaged over.
const FOREST_SEEDS: u64 = 10;

fn main() {
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let registry = Registry::discover(&root.join("datasets")).expect("the repository's data sets");
    let catalog = Catalog {
        datasets: registry.shapes(),
        labels: registry.labels(),
        backends: vec![Backend::Flex],
    };
    for spec in ["anomaly-shuttle.toml", "anomaly-breast-cancer.toml"] {
        let experiment = hourglass_spec::load(&root.join("experiments").join(spec), &catalog)
            .unwrap_or_else(|e| panic!("{e}"));
        let config = &experiment.runs[0].config;
        let data = anomaly_data(config, &registry)
            .expect("the data set loads")
            .expect("the experiment has the anomaly task");
        let dataset = &config.data.dataset;
        let dir = root.join("reports/bench/detectors").join(dataset);
        std::fs::create_dir_all(&dir).expect("a folder for the splits");
        write_csv(&dir.join("train.csv"), &data.train, None);
        write_csv(&dir.join("test.csv"), &data.test, Some(&data.anomalous));
        let latent = config.model.latent;
        for baseline in Baseline::ALL {
            let seeds = if baseline == Baseline::IsolationForest {
                FOREST_SEEDS
            } else {
                1
            };
            let mean = (0..seeds)
                .map(|seed| auroc(&baseline.scores(&data, latent, seed), &data.anomalous))
                .sum::<f64>()
                / seeds as f64;
            println!(
                "{}",
                serde_json::json!({
                    "dataset": dataset,
                    "detector": baseline.names().name,
                    "auroc": mean,
                    "pca_components": latent.min(data.test.features() - 1),
                    "train": data.train.len(),
                    "test": data.test.len(),
                    "anomalies": data.anomalous.iter().filter(|&&a| a).count(),
                    "dir": dir,
                })
            );
        }
    }
}

/// `split` as CSV, values as `f32` prints them (they read back exactly), with the anomaly
/// flags as a last column when given.
fn write_csv(path: &Path, split: &Split, anomalous: Option<&[bool]>) {
    let features = split.features();
    let mut csv: String = (0..features).map(|f| format!("x{f},")).collect();
    csv.pop();
    csv += if anomalous.is_some() {
        ",anomaly\n"
    } else {
        "\n"
    };
    for i in 0..split.len() {
        let row: Vec<String> = split.input(i).iter().map(f32::to_string).collect();
        csv += &row.join(",");
        if let Some(anomalous) = anomalous {
            let _ = write!(csv, ",{}", u8::from(anomalous[i]));
        }
        csv.push('\n');
    }
    std::fs::write(path, csv).unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
}

//! Time to rebuild the report of a 500-run sweep from its saved files: 50 latent sizes × 10
//! learning rates, 20 epochs each, every tenth run failed. `cargo bench -p hourglass-report`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use hourglass_spec::result::{EpochRecord, RecordedConfig, RunResult, RunStatus};
use hourglass_spec::{Backend, Catalog};

fn write_fixture(dir: &Path) {
    let latents: Vec<String> = (1..=50).map(|l| l.to_string()).collect();
    let source = format!(
        "[experiment]\nname = \"bench\"\n[data]\ndataset = \"mnist\"\n[train]\nepochs = 20\n\
         [sweep.parameters]\n\"model.latent\" = [{}]\n\
         \"train.learning_rate\" = {{ log_uniform = [1e-4, 1e-2], samples = 10 }}\n",
        latents.join(", ")
    );
    let catalog = Catalog {
        datasets: [("mnist".into(), vec![1, 28, 28])].into(),
        backends: vec![Backend::Flex],
        ..Default::default()
    };
    let experiment = hourglass_spec::parse(Path::new("bench.toml"), &source, &catalog).unwrap();
    assert_eq!(experiment.runs.len(), 500);
    hourglass_spec::sweep_record::SweepRecord::of(&experiment)
        .write(dir)
        .unwrap();
    for (i, run) in experiment.runs.iter().enumerate() {
        let run_dir = dir.join("runs").join(run.id.as_str());
        std::fs::create_dir_all(&run_dir).unwrap();
        let failed = i % 10 == 9;
        let scale = 1.0 / (1.0 + run.config.model.latent as f64).sqrt();
        let metrics = BTreeMap::from([
            ("test_mse".to_string(), 0.05 * scale),
            ("test_psnr_db".to_string(), 13.0 - 10.0 * scale.log10()),
            ("train_seconds".to_string(), 30.0),
            ("epochs_run".to_string(), 20.0),
        ]);
        let result = RunResult {
            id: run.id.clone(),
            status: if failed {
                RunStatus::Failed
            } else {
                RunStatus::Completed
            },
            error: failed.then(|| "diverged at epoch 3, step 12: training loss is NaN".into()),
            config: RecordedConfig::from(&run.config),
            metrics: if failed { BTreeMap::new() } else { metrics },
            not_measured: Default::default(),
        };
        hourglass_spec::result::write(&run_dir, &result).unwrap();
        let epochs: String = (1..=20)
            .map(|epoch| {
                let loss = 0.1 * scale / epoch as f64;
                let record = EpochRecord {
                    epoch,
                    train_loss: loss,
                    val_loss: Some(loss * 1.1),
                    val_mse: Some(loss * 1.1),
                    seconds: epoch as f64 * 1.5,
                };
                serde_json::to_string(&record).unwrap() + "\n"
            })
            .collect();
        std::fs::write(run_dir.join("metrics.jsonl"), epochs).unwrap();
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    let mut seconds: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            hourglass_report::write_report(
                dir.path(),
                &hourglass_report::References::default(),
                hourglass_report::Coverage::Current,
            )
            .unwrap();
            start.elapsed().as_secs_f64()
        })
        .collect();
    seconds.sort_by(f64::total_cmp);
    let html = std::fs::metadata(dir.path().join("index.html"))
        .unwrap()
        .len();
    println!(
        "report of 500 runs (20 epochs each): median {:.3} s, min {:.3} s, max {:.3} s over 5 builds; \
         index.html {} KiB",
        seconds[2],
        seconds[0],
        seconds[4],
        html / 1024
    );
}

//! `hourglass apply RUN_DIR INPUT --output DIR`: a run's saved model on new examples, without
//! the spec or any training: their codes, reconstructions and anomaly scores.
//!
//! The outputs are written into a folder beside DIR and renamed into place once complete, so
//! an error (a misfit input is refused before anything is written) leaves nothing behind.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use hourglass_data::{Examples, read_examples, write_pngs, write_table};
use hourglass_spec::{Backend, DeviceName};
use hourglass_train::Applied;

/// Applies the model saved in `run_dir` to the examples in `input`, writing into `output`.
pub fn apply(run_dir: &Path, input: &Path, output: &Path) -> Result<ExitCode> {
    if output.exists() {
        bail!(
            "{} exists: name a new folder for the outputs",
            output.display()
        );
    }
    let device = hourglass_train::backend::device(Backend::Flex, DeviceName::Cpu)?;
    let saved = hourglass_train::load(run_dir, &device)?;
    let shape = &saved.card.model.input_shape;
    let examples = read_examples(input, shape)?;
    let applied = saved.apply(examples.inputs.clone(), &device);

    let name = output
        .file_name()
        .with_context(|| format!("{} is not a folder name", output.display()))?;
    let parent = output.parent().filter(|p| !p.as_os_str().is_empty());
    let parent = parent.unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let staging = parent.join(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::create_dir(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;
    let written = write_outputs(
        &staging,
        &examples,
        &applied,
        saved.card.model.latent,
        shape,
    )
    .and_then(|()| {
        std::fs::rename(&staging, output).with_context(|| {
            format!(
                "cannot rename {} to {}",
                staging.display(),
                output.display()
            )
        })
    });
    if written.is_err() {
        // Best effort: the error that matters is the one returned.
        let _ = std::fs::remove_dir_all(&staging);
    }
    written?;
    out!(
        "{} examples of {}: codes, reconstructions and anomaly scores in {}",
        examples.names.len(),
        input.display(),
        output.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `codes`, `scores` and `reconstructions` (tables, or PNGs for images) into `folder`.
fn write_outputs(
    folder: &Path,
    examples: &Examples,
    applied: &Applied,
    latent: usize,
    shape: &[usize],
) -> Result<()> {
    let names = &examples.names;
    let codes: Vec<f64> = applied.codes.iter().map(|&v| f64::from(v)).collect();
    let code_columns: Vec<String> = (0..latent).map(|j| format!("z{j}")).collect();
    write_table(folder, "codes", names, &code_columns, &codes)?;
    write_table(
        folder,
        "scores",
        names,
        &["anomaly_score".to_string()],
        &applied.scores,
    )?;
    if !examples.images {
        let values: Vec<f64> = (applied.reconstructions.iter())
            .map(|&v| f64::from(v))
            .collect();
        return Ok(write_table(
            folder,
            "reconstructions",
            names,
            &examples.columns,
            &values,
        )?);
    }
    let [channels, height, width] = shape[..] else {
        bail!("images of shape {shape:?} are not [channels, height, width]");
    };
    write_pngs(
        &folder.join("reconstructions"),
        names,
        &applied.reconstructions,
        [channels, height, width],
    )?;
    Ok(())
}

//! Writing and reading a run's checkpoint (`hourglass_spec::checkpoint` is its contract): one
//! safetensors file holding the run's weights as a burn module record (which keeps each
//! parameter's id, so that burn's optimizer state, keyed by those ids, applies again), the
//! optimizer's state, and the [`TrainingState`] in its metadata.

use std::collections::HashMap;
use std::path::Path;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use hourglass_models::Autoencoder;
use hourglass_spec::checkpoint::{
    CHECKPOINT_FILE, CHECKPOINT_FORMAT_VERSION, OptimizerLayout, STATE_KEY, TrainingState,
};
use hourglass_spec::result::write_atomic;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::TrainError;

/// The tensor of the weights, a burnpack module record as bytes.
const MODEL_TENSOR: &str = "model";
/// The tensor of a lone run's optimizer, burn's optimizer record as bytes.
const OPTIMIZER_TENSOR: &str = "optimizer";

/// A run's training, as written at a step boundary.
pub(crate) struct Checkpoint {
    pub(crate) state: TrainingState,
    /// Word positions of the corruption and ε streams, read from `state`.
    pub(crate) streams: [u128; 2],
    pub(crate) model: ModuleRecord,
    pub(crate) optimizer: OptimizerState,
}

/// The optimizer's part of a checkpoint.
pub(crate) enum OptimizerState {
    /// burn's optimizer record of a run trained alone, as burnpack bytes.
    Module(Vec<u8>),
    /// The moments of a run trained in a pack: per parameter, per moment, the run's values
    /// in the parameter's layout; after `time` steps.
    Packed {
        time: i32,
        moments: Vec<Vec<Vec<f32>>>,
    },
}

impl OptimizerState {
    /// How the state is laid out in a checkpoint's tensors.
    pub(crate) fn layout(&self) -> OptimizerLayout {
        match self {
            OptimizerState::Module(_) => OptimizerLayout::Module,
            OptimizerState::Packed { time, .. } => OptimizerLayout::Packed { time: *time },
        }
    }
}

/// Writes the checkpoint of `model` and `optimizer` at `state` (whose layout is
/// `optimizer`'s) into `run_dir`, atomically.
pub(crate) fn write(
    run_dir: &Path,
    state: TrainingState,
    model: &Autoencoder,
    optimizer: &OptimizerState,
) -> Result<(), TrainError> {
    let path = run_dir.join(CHECKPOINT_FILE);
    let failed = |error: String| TrainError::Write {
        path: path.clone(),
        source: std::io::Error::other(error),
    };
    let model_bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|error| failed(error.to_string()))?;
    let mut tensors: Vec<(String, Vec<u8>)> = vec![(MODEL_TENSOR.into(), model_bytes.to_vec())];
    match optimizer {
        OptimizerState::Module(bytes) => tensors.push((OPTIMIZER_TENSOR.into(), bytes.clone())),
        OptimizerState::Packed { moments, .. } => {
            for (parameter, moments) in moments.iter().enumerate() {
                for (moment, values) in moments.iter().enumerate() {
                    let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                    tensors.push((moment_name(parameter, moment), bytes));
                }
            }
        }
    }
    let views = tensors
        .iter()
        .map(|(name, bytes)| {
            let dtype = if name.starts_with("moment.") {
                Dtype::F32
            } else {
                Dtype::U8
            };
            let elements = bytes.len() / (dtype.bitsize() / 8);
            TensorView::new(dtype, vec![elements], bytes).map(|view| (name.as_str(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| failed(error.to_string()))?;
    let state = serde_json::to_string(&state).expect("training states serialize");
    let metadata = HashMap::from([(STATE_KEY.to_string(), state)]);
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| failed(e.to_string()))?;
    write_atomic(&path, &bytes).map_err(|source| TrainError::Write { path, source })
}

/// The checkpoint of run `run_id` in `run_dir`, if there is one this hourglass can use. One it
/// cannot (another format version, another run's, a damaged file) is reported on standard
/// error and not used: the run then trains from the start, which costs time, not results.
pub(crate) fn read(run_dir: &Path, run_id: &str) -> Option<Checkpoint> {
    let path = run_dir.join(CHECKPOINT_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => return set_aside(&path, &error.to_string()),
    };
    match parse(&bytes, run_id) {
        Ok(checkpoint) => Some(checkpoint),
        Err(why) => set_aside(&path, &why),
    }
}

/// Removes the checkpoint in `run_dir`, if any: the run's result is recorded.
pub fn remove(run_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(run_dir.join(CHECKPOINT_FILE)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

fn set_aside(path: &Path, why: &str) -> Option<Checkpoint> {
    eprintln!(
        "the checkpoint {} cannot be used ({why}): training from the start",
        path.display()
    );
    None
}

/// The checkpoint in `bytes`, checked to be run `run_id`'s.
fn parse(bytes: &[u8], run_id: &str) -> Result<Checkpoint, String> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| e.to_string())?;
    let state = metadata
        .metadata()
        .as_ref()
        .and_then(|metadata| metadata.get(STATE_KEY))
        .ok_or_else(|| format!("no {STATE_KEY} in its metadata"))?;
    let state: TrainingState = serde_json::from_str(state).map_err(|e| e.to_string())?;
    if state.format_version != CHECKPOINT_FORMAT_VERSION {
        return Err(format!(
            "format version {}, this hourglass reads {CHECKPOINT_FORMAT_VERSION}",
            state.format_version
        ));
    }
    if state.run_id != run_id {
        return Err(format!("it is run {}'s", state.run_id));
    }
    let stream = |position: &str| {
        position
            .parse::<u128>()
            .map_err(|_| format!("{position:?} is not a stream position"))
    };
    let streams = [
        stream(&state.corruption_stream)?,
        stream(&state.sampling_stream)?,
    ];
    let tensor = |name: &str| {
        file.tensor(name)
            .map(|view| view.data().to_vec())
            .map_err(|e| format!("{name}: {e}"))
    };
    let model = ModuleRecord::from_bytes(Bytes::from_bytes_vec(tensor(MODEL_TENSOR)?))
        .map_err(|e| e.to_string())?;
    let optimizer = match state.optimizer {
        OptimizerLayout::Module => OptimizerState::Module(tensor(OPTIMIZER_TENSOR)?),
        OptimizerLayout::Packed { time } => {
            let mut moments: Vec<Vec<Vec<f32>>> = Vec::new();
            for parameter in 0.. {
                let mut of_parameter = Vec::new();
                while let Ok(view) = file.tensor(&moment_name(parameter, of_parameter.len())) {
                    let values = view.data().chunks_exact(4);
                    let values = values.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                    of_parameter.push(values.collect());
                }
                if of_parameter.is_empty() {
                    break;
                }
                moments.push(of_parameter);
            }
            OptimizerState::Packed { time, moments }
        }
    };
    Ok(Checkpoint {
        state,
        streams,
        model,
        optimizer,
    })
}

/// The tensor of moment `moment` of parameter `parameter` of a packed run.
fn moment_name(parameter: usize, moment: usize) -> String {
    format!("moment.{parameter}.{moment}")
}

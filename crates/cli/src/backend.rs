//! The one place that maps a spec's `train.backend` to a burn `Device`.
//!
//! Each backend other than `flex` is compiled in by a cargo feature of this crate; the spec
//! checks refuse a backend that is not in [`compiled`], naming the feature.

use anyhow::{Result, bail};
use burn::prelude::Device;
use hourglass_spec::{Backend, DeviceName};

/// Backends compiled into this build.
pub fn compiled() -> Vec<Backend> {
    vec![Backend::Flex]
}

/// The burn device that trains runs of `backend` on `device`.
pub fn device(backend: Backend, device: DeviceName) -> Result<Device> {
    match backend {
        Backend::Flex if backend.runs_on(device) => Ok(Device::flex()),
        Backend::Flex => bail!("backend `flex` cannot run on {device}"),
        other => bail!(
            "backend `{}` is not compiled in (rebuild with `--features {}`)",
            other.name(),
            other.cargo_feature()
        ),
    }
}

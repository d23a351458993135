//! The one place that maps a spec's `train.backend` to a burn `Device`.
//!
//! Each backend other than `flex` is compiled in by a cargo feature of this crate (`tch`,
//! `cuda`, `wgpu`, forwarding to burn's, and forwarded by `hourglass-cli`'s features of the
//! same names); the spec checks refuse a backend that is not in [`compiled`], naming the
//! feature.

use burn::prelude::Device;
use hourglass_spec::{Backend, DeviceName};

/// Why a backend cannot train on a device in this build.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend does not run on that kind of device (flex on a GPU).
    #[error("backend `{}` cannot run on {device}", backend.name())]
    WrongDevice {
        /// The backend asked for.
        backend: Backend,
        /// The device asked for.
        device: DeviceName,
    },
    /// The backend's cargo feature was not enabled.
    #[error(
        "backend `{}` is not compiled in (rebuild with `--features {}`)",
        backend.name(),
        backend.cargo_feature()
    )]
    NotCompiled {
        /// The backend asked for.
        backend: Backend,
    },
}

/// Backends compiled into this build.
pub fn compiled() -> Vec<Backend> {
    Backend::ALL
        .into_iter()
        .filter(|backend| match backend {
            Backend::Flex => true,
            Backend::Tch => cfg!(feature = "tch"),
            Backend::Cuda => cfg!(feature = "cuda"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
        })
        .collect()
}

/// The burn device that trains runs of `backend` on `device`.
pub fn device(backend: Backend, device: DeviceName) -> Result<Device, BackendError> {
    if !backend.runs_on(device) {
        return Err(BackendError::WrongDevice { backend, device });
    }
    Ok(match (backend, device) {
        (Backend::Flex, _) => Device::flex(),
        // burn 0.22 deprecates burn-tch in favour of its CubeCL backends; libtorch is still
        // the fastest CPU backend we measured, so it stays.
        #[cfg(feature = "tch")]
        #[allow(deprecated)]
        (Backend::Tch, DeviceName::Cpu) => Device::libtorch(),
        #[cfg(feature = "tch")]
        #[allow(deprecated)]
        (Backend::Tch, DeviceName::Cuda(index)) => Device::libtorch_cuda(index),
        #[cfg(feature = "cuda")]
        (Backend::Cuda, DeviceName::Cuda(index)) => Device::cuda(index),
        #[cfg(feature = "wgpu")]
        (Backend::Wgpu, DeviceName::Gpu(index)) => {
            Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(index))
        }
        _ => return Err(BackendError::NotCompiled { backend }),
    })
}

/// Whether `device` computes on this machine's CPU, so that host memory is its own.
pub(crate) fn is_cpu(device: &Device) -> bool {
    let device = device.clone().inner();
    #[cfg(feature = "tch")]
    #[allow(deprecated)]
    if device == Device::libtorch() {
        return true;
    }
    device == Device::flex()
}

/// The CPU devices compiled in: flex, and libtorch's CPU with the `tch` feature.
#[cfg(test)]
pub(crate) fn cpu_devices() -> Vec<Device> {
    vec![
        Device::flex(),
        #[cfg(feature = "tch")]
        #[allow(deprecated)]
        Device::libtorch(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flex_is_always_compiled_and_refuses_gpus() {
        assert!(compiled().contains(&Backend::Flex));
        let error = device(Backend::Flex, DeviceName::Cuda(0)).unwrap_err();
        assert_eq!(error.to_string(), "backend `flex` cannot run on cuda:0");
        assert!(is_cpu(&Device::flex().autodiff()));
        // Training compares the two to draw a flex run's weights on its own device.
        assert_eq!(
            Device::flex().autodiff(),
            device(Backend::Flex, DeviceName::Cpu).unwrap().autodiff()
        );
    }

    #[test]
    fn a_backend_not_compiled_in_names_its_feature() {
        for backend in [Backend::Tch, Backend::Cuda, Backend::Wgpu] {
            let gpu = if backend == Backend::Wgpu {
                DeviceName::Gpu(0)
            } else {
                DeviceName::Cuda(0)
            };
            match device(backend, gpu) {
                Ok(_) => assert!(compiled().contains(&backend)),
                Err(error) => assert_eq!(
                    error.to_string(),
                    format!(
                        "backend `{}` is not compiled in (rebuild with `--features {}`)",
                        backend.name(),
                        backend.cargo_feature()
                    )
                ),
            }
        }
    }
}

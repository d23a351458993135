//! The sweep lock: a file naming the orchestrator that owns a sweep folder, so that two
//! orchestrators never write one sweep. A lock left by a killed orchestrator (its process is
//! gone) is taken over, so resuming after `kill -9` needs nothing by hand.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::SweepError;

/// Name of the lock file in a sweep's folder.
pub(crate) const LOCK_FILE: &str = "sweep.lock";

/// Holds a sweep's lock until dropped.
#[derive(Debug)]
pub struct SweepLock {
    path: PathBuf,
}

impl SweepLock {
    /// Takes the lock of the sweep in `root`, or reports the live process that holds it.
    ///
    /// The lock file appears with its content in one step (a hard link to a file already
    /// holding the pid), so a reader never sees it empty. Two orchestrators starting in the
    /// same instant on a stale lock could both remove it; outside that window exactly one wins.
    pub fn acquire(root: &Path) -> Result<Self, SweepError> {
        let path = root.join(LOCK_FILE);
        let pid = std::process::id();
        let draft = root.join(format!(".{LOCK_FILE}.{pid}"));
        std::fs::File::create(&draft)
            .and_then(|mut file| writeln!(file, "{pid}"))
            .map_err(crate::io("cannot write", &draft))?;
        let outcome = loop {
            match std::fs::hard_link(&draft, &path) {
                Ok(()) => break Ok(Self { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|text| text.trim().parse::<u32>().ok());
                    match holder {
                        Some(holder) if is_alive(holder) => {
                            break Err(SweepError::Locked {
                                root: root.to_path_buf(),
                                pid: holder,
                            });
                        }
                        _ => match std::fs::remove_file(&path) {
                            Ok(()) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => break Err(crate::io("cannot remove stale lock", &path)(e)),
                        },
                    }
                }
                Err(e) => break Err(crate::io("cannot create", &path)(e)),
            }
        };
        // The draft has done its job whether or not the lock was taken.
        let _ = std::fs::remove_file(&draft);
        outcome
    }
}

impl Drop for SweepLock {
    fn drop(&mut self) {
        // Nothing to do if it is gone already; the next acquire also handles a stale file.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether process `pid` exists (Linux: its `/proc` entry; elsewhere every holder counts as
/// alive, so a stale lock must be removed by hand).
fn is_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

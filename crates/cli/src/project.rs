//! The project a command works in, found as cargo finds a workspace: the nearest folder at or
//! above the current one that holds both `datasets/` and `experiments/`. Its folders are the
//! defaults of `--datasets`, `--reports` and `--references`, so that every command works from
//! any folder inside the project.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use hourglass_report::References;

use crate::ReferenceArgs;

/// The project's root, looked up once.
#[derive(Debug, Default)]
pub struct Project {
    root: std::cell::OnceCell<Result<PathBuf, String>>,
}

/// Whether `folder` is a project's root.
fn is_root(folder: &Path) -> bool {
    folder.join("datasets").is_dir() && folder.join("experiments").is_dir()
}

/// The nearest project root at or above `start`.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|folder| is_root(folder))
        .map(Path::to_path_buf)
}

impl Project {
    fn root(&self) -> Result<&Path> {
        let root = self.root.get_or_init(|| {
            let here = std::env::current_dir()
                .map_err(|e| format!("cannot read the current folder: {e}"))?;
            find_root(&here).ok_or_else(|| {
                format!(
                    "no hourglass project in {} or above it (a folder holding datasets/ and \
                     experiments/)",
                    here.display()
                )
            })
        });
        root.as_deref()
            .map_err(|message| anyhow::anyhow!("{message}"))
    }

    /// `given`, else the project's `name` folder; without a project, an error naming `flag`.
    pub fn folder(&self, given: Option<PathBuf>, name: &str, flag: &str) -> Result<PathBuf> {
        if let Some(given) = given {
            return Ok(given);
        }
        match self.root() {
            Ok(root) => Ok(root.join(name)),
            Err(error) => bail!("{error} (hint: run from inside the project, or pass {flag} DIR)"),
        }
    }

    /// The data set folder `given`, else the project's.
    pub fn datasets(&self, given: Option<PathBuf>) -> Result<PathBuf> {
        let folder = self.folder(given, "datasets", "--datasets")?;
        if !folder.is_dir() {
            bail!(
                "the data set folder {} does not exist (hint: pass --datasets DIR)",
                folder.display()
            );
        }
        Ok(folder)
    }

    /// The references of `args`, else the project's, else none: a report goes without them,
    /// with a warning when a named file cannot be read.
    pub fn references(&self, args: ReferenceArgs) -> References {
        let path = match args.references {
            Some(path) => path,
            None => match self.root() {
                Ok(root) => root.join("experiments/references.toml"),
                Err(_) => return References::default(),
            },
        };
        References::read(&path).unwrap_or_else(|error| {
            eprintln!("warning: references not used: {error}");
            References::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_nearest_folder_with_datasets_and_experiments() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("outer/project");
        let deep = root.join("experiments/drafts/a b");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::create_dir_all(root.join("datasets")).unwrap();
        // A folder holding only one of the two is not a project.
        std::fs::create_dir_all(dir.path().join("outer/datasets")).unwrap();
        assert_eq!(find_root(&deep), Some(root.clone()));
        assert_eq!(find_root(&root), Some(root));
        assert_eq!(find_root(&dir.path().join("outer")), None);
    }
}

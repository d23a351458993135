//! Records the git commit hourglass is built from, for the provenance of the models it saves
//! (`HOURGLASS_GIT_COMMIT`; unset when not built from a git checkout).

use std::path::Path;
use std::process::Command;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let git = root.join(".git");
    // Rebuild when the checked-out commit changes: HEAD, and the branch it names. A path
    // that does not exist would rerun this script on every build: only existing ones.
    println!("cargo:rerun-if-changed=build.rs");
    let mut watched = vec![git.join("HEAD"), git.join("packed-refs")];
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD"))
        && let Some(branch) = head.trim().strip_prefix("ref: ")
    {
        watched.push(git.join(branch));
    }
    for path in watched.iter().filter(|path| path.is_file()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let commit = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&root)
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok());
    if let Some(commit) = commit {
        println!("cargo:rustc-env=HOURGLASS_GIT_COMMIT={}", commit.trim());
    }
}

//! Inputs that broke the spec parser (found with the fuzz target `crates/spec/fuzz`, or while
//! preparing it), replayed through the fuzz target's own checks: each must now be refused or
//! accepted cleanly, without a panic, a hang or exhausted memory.

#[path = "../crates/spec/fuzz/src/lib.rs"]
mod fuzz_checks;

use std::path::Path;

#[test]
fn every_input_that_once_broke_the_parser_is_handled() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fuzz-regressions");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fuzz-regressions is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 3, "{inputs:?}");
    for input in inputs {
        let bytes = std::fs::read(&input).expect("an input is readable");
        eprintln!("replaying {}", input.display());
        if let Ok(source) = std::str::from_utf8(&bytes) {
            fuzz_checks::check(source);
        }
    }
}

//! Any text given to the spec parser: it returns an experiment or an error, and never panics,
//! hangs or exhausts memory. See `hourglass_spec_fuzz::check` for what else is checked.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(source) = std::str::from_utf8(data) {
        hourglass_spec_fuzz::check(source);
    }
});

//! Any bytes as a user's data file, in each format a data set or `hourglass apply` reads: the
//! reader returns examples or an error, and never panics, hangs or exhausts memory. See
//! `hourglass_data_fuzz::check`.
//!
//! libfuzzer-sys aborts on every panic, even one the readers catch on purpose (the Parquet
//! reader turns polars-parquet's panics on malformed footers into errors), so its hook is
//! taken out: a panic that reaches the fuzzer still aborts in its `catch_unwind`.

#![no_main]

libfuzzer_sys::fuzz_target!(
    init: {
        drop(std::panic::take_hook());
    },
    |data: &[u8]| hourglass_data_fuzz::check(data)
);

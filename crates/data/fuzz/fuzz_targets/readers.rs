//! Any bytes as a user's data file, in each format a data set or `hourglass apply` reads: the
//! reader returns examples or an error, and never panics, hangs or exhausts memory. See
//! `hourglass_data_fuzz::check`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hourglass_data_fuzz::check(data));

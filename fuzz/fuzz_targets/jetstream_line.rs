//! libFuzzer entry point of `jetstream_line`; the harness is [`plyr_fuzz::jetstream`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    plyr_fuzz::jetstream::run(data);
});

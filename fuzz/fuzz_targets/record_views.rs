//! libFuzzer entry point of `record_views`; the harness is [`plyr_fuzz::views`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    plyr_fuzz::views::run(data);
});

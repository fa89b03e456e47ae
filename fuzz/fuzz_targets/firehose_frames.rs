//! libFuzzer entry point of `firehose_frames`; the harness is [`plyr_fuzz::firehose`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    plyr_fuzz::firehose::run(data);
});

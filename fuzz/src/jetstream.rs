//! Target `jetstream_line`: one Jetstream frame (v1 and v2 JSON, as the client hands it over
//! after decompression) through decoding, lexicon validation, row extraction and the fold.

use plyr_indexer::event::SourceItem;
use plyr_indexer::jetstream::Protocol;
use plyr_indexer::jetstream::message::{Frame, FrameDecoder};

/// Decodes `data` as a v1 frame and as a v2 frame; every event goes through the write path's
/// pure half. Returns what the v1 decoding led to (the `record_views` target presents it).
pub fn run(data: &[u8]) -> Vec<crate::record::Extracted> {
    let v2 = FrameDecoder::new(Protocol::V2, "wss://jetstream.fuzz.invalid");
    if let Ok(Frame::Event { event, cursor }) = v2.decode(data) {
        crate::record::write_path(vec![SourceItem::Event { event, cursor }]);
    }
    let v1 = FrameDecoder::new(Protocol::V1, "wss://jetstream.fuzz.invalid");
    match v1.decode(data) {
        Ok(Frame::Event { event, cursor }) => {
            crate::record::write_path(vec![SourceItem::Event { event, cursor }])
        }
        _ => Vec::new(),
    }
}

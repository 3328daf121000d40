//! Pack archives: read and verified as `pack verify` and `pack install` do.
//! The first byte picks the mode: even, the rest of the input is the
//! archive; odd, the rest is a list of (offset, byte) patches applied to a
//! valid signed archive built once, which keeps the fuzzer near the formats
//! it could not find from nothing (gzip, tar, manifest, digests, signature).

#![no_main]

use libfuzzer_sys::fuzz_target;
use stance_fuzz::{pack_options, sample_pack};
use stance_pack::{PackArchive, verify};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (archive, options) = if mode % 2 == 0 {
        (rest.to_vec(), pack_options())
    } else {
        let sample = sample_pack();
        let mut bytes = sample.archive.clone();
        for patch in rest.chunks_exact(3) {
            let offset = u16::from_le_bytes([patch[0], patch[1]]) as usize;
            if let Some(b) = bytes.get_mut(offset % sample.archive.len().max(1)) {
                *b = patch[2];
            }
        }
        (bytes, sample.options.clone())
    };
    if let Ok(pack) = PackArchive::from_bytes(&archive, "fuzz.stancepack") {
        let _ = (pack.label(), pack.entries().len(), pack.is_signed());
    }
    match verify(&archive, "fuzz.stancepack", &options) {
        Ok(verified) => {
            // Only the unpatched archive (or a patch that changed nothing
            // the signature covers) may verify.
            assert!(
                archive == sample_pack().archive || mode % 2 == 1,
                "a raw input verified against the sample key"
            );
            let _ = verified;
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});

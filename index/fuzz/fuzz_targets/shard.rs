//! Arbitrary bytes given to the shard reader give `Err`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(shard) = index::Shard::from_bytes(data.to_vec()) else {
        return;
    };
    for ordinal in 0..shard.len().min(64) as u32 {
        let _ = shard.record(ordinal);
    }
    for (key, _) in shard.keys().into_iter().take(64) {
        let _ = shard.ordinal(&key);
    }
    let _ = shard.verify();
});

//! Digests of the files a data directory holds: CRC-32 and length, as `crc32:<hex>:<bytes>`.
//! They guard against a file changed or replaced since it was written (an edit, a partial
//! copy, a restore from another backup), not against tampering.

use std::io::Read;
use std::path::Path;

/// The digest of a file's bytes.
pub fn of_bytes(bytes: &[u8]) -> String {
    format!("crc32:{:08x}:{}", crc32fast::hash(bytes), bytes.len())
}

/// The digest of a file, read in pieces.
pub fn of_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok(format!("crc32:{:08x}:{len}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_bytes_agree_and_any_change_shows() {
        let dir = std::env::temp_dir().join(format!("atlas-digest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bin");
        // Larger than the read buffer, so that the pieces are put together.
        let mut bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let d = of_file(&path).unwrap();
        assert_eq!(d, of_bytes(&bytes));
        assert!(d.starts_with("crc32:") && d.ends_with(":3000000"), "{d}");
        bytes[1_234_567] ^= 1;
        assert_ne!(of_bytes(&bytes), d);
        bytes.pop();
        assert_ne!(of_bytes(&bytes), d);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

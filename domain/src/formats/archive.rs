//! `.zip` archives: members read under caps (entries, total and per-member uncompressed size,
//! compression ratio) and with safe names, so a zip bomb or a path trick is refused before
//! anything is inflated past the caps.
//!
//! Invariants: a member's declared size is checked before reading and its real size while
//! reading (a lying header cannot get past a cap); names with `..`, absolute paths, drive
//! letters, backslashes or NUL are refused; directories and macOS resource forks are skipped.

use std::io::{Cursor, Read};

use crate::error::{DomainError, DomainResult};

/// Caps on what an archive may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    pub max_entries: usize,
    /// Sum of the members' uncompressed sizes.
    pub max_total_bytes: u64,
    /// Largest uncompressed member.
    pub max_member_bytes: u64,
    /// Largest uncompressed / compressed size of a member (members under 64 KiB are exempt).
    pub max_ratio: u64,
}

impl ZipLimits {
    /// Caps derived from the largest document accepted.
    pub fn for_document_bytes(max_document_bytes: usize) -> Self {
        let member = max_document_bytes as u64;
        Self { max_entries: 200, max_total_bytes: member.saturating_mul(4), max_member_bytes: member, max_ratio: 100 }
    }
}

/// One file of an archive.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The member's path inside the archive (`/`-separated, checked).
    pub name: String,
    pub bytes: Vec<u8>,
}

fn bad(message: impl Into<String>) -> DomainError {
    DomainError::invalid("file", message)
}

/// Whether the archive holds a member of that exact name (false for anything not a zip).
pub fn has_member(bytes: &[u8], name: &str) -> bool {
    zip::ZipArchive::new(Cursor::new(bytes)).map(|a| a.index_for_name(name).is_some()).unwrap_or(false)
}

/// The files of an archive, in archive order, under `limits`.
pub fn members(bytes: &[u8], limits: ZipLimits) -> DomainResult<Vec<Member>> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(format!("is not a readable .zip archive ({e})")))?;
    if archive.len() > limits.max_entries {
        return Err(bad(format!("holds {} entries; at most {} are accepted", archive.len(), limits.max_entries)));
    }
    let mut out = Vec::new();
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| bad(format!("has an unreadable entry ({e})")))?;
        let name = file.name().map_err(|e| bad(format!("has an entry with an unreadable name ({e})")))?.into_owned();
        if file.is_dir() {
            continue;
        }
        check_name(&name)?;
        if name.starts_with("__MACOSX/") || name.rsplit('/').next().is_some_and(|b| b.starts_with("._")) {
            continue;
        }
        let declared = file.size();
        if declared > limits.max_member_bytes {
            return Err(bad(format!("member {name} is larger than {} bytes uncompressed", limits.max_member_bytes)));
        }
        let compressed = file.compressed_size().max(1);
        if declared > 64 * 1024 && declared / compressed > limits.max_ratio {
            return Err(bad(format!(
                "member {name} expands more than {}-fold (a zip bomb is refused)",
                limits.max_ratio
            )));
        }
        let room = limits.max_member_bytes.min(limits.max_total_bytes.saturating_sub(total));
        let mut buf = Vec::new();
        (&mut file)
            .take(room + 1)
            .read_to_end(&mut buf)
            .map_err(|e| bad(format!("member {name} could not be read ({e})")))?;
        if buf.len() as u64 > room {
            return Err(bad(format!(
                "expands past its limits (at most {} bytes per member, {} in all)",
                limits.max_member_bytes, limits.max_total_bytes
            )));
        }
        total += buf.len() as u64;
        out.push(Member { name, bytes: buf });
    }
    Ok(out)
}

/// The bytes of one member (a .docx part), at most `max_bytes` inflated.
pub fn member(bytes: &[u8], name: &str, max_bytes: usize) -> DomainResult<Option<Vec<u8>>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(format!("is not readable ({e})")))?;
    let Ok(mut file) = archive.by_name(name) else { return Ok(None) };
    let mut buf = Vec::new();
    (&mut file)
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| bad(format!("part {name} could not be read ({e})")))?;
    if buf.len() > max_bytes {
        return Err(bad(format!("part {name} expands past {max_bytes} bytes")));
    }
    Ok(Some(buf))
}

fn check_name(name: &str) -> DomainResult<()> {
    let trick = name.is_empty()
        || name.starts_with('/')
        || name.contains('\\')
        || name.contains('\0')
        || name.split('/').any(|part| part == "..")
        || name.as_bytes().get(1) == Some(&b':');
    if trick {
        return Err(bad(format!("holds an entry with an unsafe path ({name:?})")));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;

    pub(crate) fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in files {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    const LIMITS: ZipLimits =
        ZipLimits { max_entries: 3, max_total_bytes: 1 << 20, max_member_bytes: 1 << 19, max_ratio: 100 };

    #[test]
    fn members_are_read_in_order_skipping_directories_and_resource_forks() {
        let z = zip_of(&[("a.txt", b"one"), ("__MACOSX/._a.txt", b"x"), ("d/b.md", b"two")]);
        let m = members(&z, LIMITS).unwrap();
        assert_eq!(m.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["a.txt", "d/b.md"]);
        assert_eq!(m[1].bytes, b"two");
    }

    #[test]
    fn path_tricks_are_refused() {
        for name in ["../evil.txt", "/etc/passwd", "a/../../b.txt", "C:/x.txt", "a\\..\\b.txt"] {
            let err = members(&zip_of(&[(name, b"x")]), LIMITS).unwrap_err().to_string();
            assert!(err.contains("unsafe path"), "{name}: {err}");
        }
    }

    #[test]
    fn bombs_and_too_many_entries_are_refused() {
        let zeros = vec![0u8; 4 << 20];
        let err = members(&zip_of(&[("z.txt", &zeros)]), LIMITS).unwrap_err().to_string();
        assert!(err.contains("larger than") || err.contains("zip bomb"), "{err}");
        let many: Vec<(String, Vec<u8>)> = (0..4).map(|i| (format!("{i}.txt"), b"x".to_vec())).collect();
        let refs: Vec<(&str, &[u8])> = many.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
        let err = members(&zip_of(&refs), LIMITS).unwrap_err().to_string();
        assert!(err.contains("4 entries"), "{err}");
        let ratio = vec![b'a'; 300 * 1024];
        let err = members(&zip_of(&[("r.txt", &ratio)]), LIMITS).unwrap_err().to_string();
        assert!(err.contains("zip bomb"), "{err}");
    }
}

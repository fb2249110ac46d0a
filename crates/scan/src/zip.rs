//! Zip archives read the two ways loaders read them: torch's miniz reader (central directory,
//! entry 0 names the archive, data offset from the local header) and a forward walk of local
//! headers (what other tools and polyglot tricks rely on). Every member either way is scanned;
//! where the two views disagree about a name, the bytes or a duplicate, the disagreement itself is
//! a finding, since a scanner and a loader could then be reading different bytes.

use std::io::Read;

use weighhouse_formats::sniff::{ZIP_END_RECORD, ZIP_LOCAL_HEADER};

use crate::error::ZipError;
use crate::report::{Report, Severity};

/// A member of the archive.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// Name as stored.
    pub name: String,
    /// Where its data starts.
    pub data_start: usize,
    /// Compressed size.
    pub compressed: u64,
    /// Uncompressed size.
    #[expect(
        dead_code,
        reason = "parsed with the record; no check reads the uncompressed size yet"
    )]
    pub size: u64,
    /// Compression method (0 stored, 8 deflate).
    pub method: u16,
    /// CRC-32 claimed.
    pub crc: u32,
    /// Index in the central directory (None for a member found only by walking local headers).
    pub central_index: Option<usize>,
}

fn u16le(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn u32le(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64le(d: &[u8], at: usize) -> Option<u64> {
    d.get(at..at + 8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// The central directory, found by searching backwards for the end record (zip64 aware).
pub(crate) fn central(d: &[u8], loc: &str, r: &mut Report) -> Option<Vec<Member>> {
    let min = d.len().saturating_sub(22 + 65535);
    let eocd = (min..d.len().saturating_sub(21))
        .rev()
        .find(|&i| d[i..].starts_with(ZIP_END_RECORD))?;
    let eocds = (0..d.len().saturating_sub(3))
        .filter(|&i| d[i..].starts_with(ZIP_END_RECORD))
        .count();
    if eocds > 1 {
        r.add(
            "zip.multiple_eocd",
            Severity::High,
            loc,
            format!("{eocds} end-of-central-directory records: tools may pick different ones"),
        );
    }
    let mut count = u16le(d, eocd + 10)? as u64;
    let mut cd_off = u32le(d, eocd + 16)? as u64;
    let comment_len = u16le(d, eocd + 20)? as usize;
    if eocd + 22 + comment_len != d.len() {
        r.add(
            "zip.trailing_data",
            Severity::Medium,
            loc,
            "bytes after the end-of-central-directory record",
        );
    }
    if (count == 0xffff || cd_off == 0xffff_ffff)
        && eocd >= 20
        && d[eocd - 20..].starts_with(b"PK\x06\x07")
    {
        let z64 = u64le(d, eocd - 12)? as usize;
        if d.get(z64..)?.starts_with(b"PK\x06\x06") {
            count = u64le(d, z64 + 32)?;
            cd_off = u64le(d, z64 + 48)?;
        }
    }
    let mut out = Vec::new();
    let mut p = usize::try_from(cd_off).ok()?;
    for i in 0..count.min(1_000_000) {
        if !d.get(p..)?.starts_with(b"PK\x01\x02") {
            r.incomplete(loc, format!("central directory entry {i} is damaged"));
            break;
        }
        let method = u16le(d, p + 10)?;
        let crc = u32le(d, p + 16)?;
        let mut compressed = u32le(d, p + 20)? as u64;
        let mut size = u32le(d, p + 24)? as u64;
        let n = u16le(d, p + 28)? as usize;
        let x = u16le(d, p + 30)? as usize;
        let c = u16le(d, p + 32)? as usize;
        let mut local = u32le(d, p + 42)? as u64;
        let name = String::from_utf8_lossy(d.get(p + 46..p + 46 + n)?).into_owned();
        // zip64 extra field
        let mut e = p + 46 + n;
        let extra_end = e + x;
        while e + 4 <= extra_end {
            let id = u16le(d, e)?;
            let len = u16le(d, e + 2)? as usize;
            if id == 1 {
                let mut q = e + 4;
                if size == 0xffff_ffff {
                    size = u64le(d, q)?;
                    q += 8;
                }
                if compressed == 0xffff_ffff {
                    compressed = u64le(d, q)?;
                    q += 8;
                }
                if local == 0xffff_ffff {
                    local = u64le(d, q)?;
                }
            }
            e += 4 + len;
        }
        let local = usize::try_from(local).ok()?;
        let data_start = match local_data_start(d, local) {
            Some((start, local_name)) => {
                if local_name != name {
                    r.add("zip.name_mismatch", Severity::Critical, loc, format!("central entry {i} is named {name:?} but its local header says {local_name:?}"));
                }
                start
            }
            None => {
                r.add(
                    "zip.bad_local_header",
                    Severity::High,
                    loc,
                    format!("central entry {i} ({name:?}) points to no local header"),
                );
                p += 46 + n + x + c;
                continue;
            }
        };
        out.push(Member {
            name,
            data_start,
            compressed,
            size,
            method,
            crc,
            central_index: Some(i as usize),
        });
        p += 46 + n + x + c;
    }
    Some(out)
}

/// Data offset and name of the local header at `at`.
fn local_data_start(d: &[u8], at: usize) -> Option<(usize, String)> {
    if !d.get(at..)?.starts_with(ZIP_LOCAL_HEADER) {
        return None;
    }
    let n = u16le(d, at + 26)? as usize;
    let x = u16le(d, at + 28)? as usize;
    let name = String::from_utf8_lossy(d.get(at + 30..at + 30 + n)?).into_owned();
    Some((at + 30 + n + x, name))
}

/// Members found by walking local headers from the start.
pub(crate) fn walk_local(d: &[u8]) -> Vec<Member> {
    let mut out = Vec::new();
    let mut p = 0usize;
    while let Some(rel) = d
        .get(p..)
        .and_then(|s| s.windows(4).position(|w| w == ZIP_LOCAL_HEADER))
    {
        let at = p + rel;
        let (Some(method), Some(crc), Some(compressed), Some(size), Some((start, name))) = (
            u16le(d, at + 8),
            u32le(d, at + 14),
            u32le(d, at + 18),
            u32le(d, at + 22),
            local_data_start(d, at),
        ) else {
            break;
        };
        out.push(Member {
            name,
            data_start: start,
            compressed: compressed as u64,
            size: size as u64,
            method,
            crc,
            central_index: None,
        });
        p = at + 4;
        if out.len() > 100_000 {
            break;
        }
    }
    out
}

/// The bytes of a member, inflated if needed (to at most `max_inflate` bytes).
pub(crate) fn read(d: &[u8], m: &Member, max_inflate: u64) -> Result<Vec<u8>, ZipError> {
    let len = usize::try_from(m.compressed).map_err(|_| ZipError::TooLarge)?;
    let raw = d
        .get(m.data_start..m.data_start.checked_add(len).ok_or(ZipError::TooLarge)?)
        .ok_or(ZipError::PastEnd)?;
    match m.method {
        0 => Ok(raw.to_vec()),
        8 => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(raw)
                .take(max_inflate.saturating_add(1))
                .read_to_end(&mut out)
                .map_err(ZipError::Deflate)?;
            if out.len() as u64 > max_inflate {
                return Err(ZipError::InflateLimit);
            }
            Ok(out)
        }
        other => Err(ZipError::Method(other)),
    }
}

/// CRC-32 (IEEE), for the mismatch check.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

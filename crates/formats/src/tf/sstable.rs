//! A reader for LevelDB-format sorted string tables, the container of TensorFlow `.index` files.
//!
//! Written here rather than taken from `rusty-leveldb` because that crate keeps its table reader
//! private. Only what TensorFlow writes is read: footer, index block, data blocks (uncompressed or
//! snappy), with every block's masked CRC-32C checked and every offset bounded by the file.

use std::borrow::Cow;

use weighhouse_tensor::Limits;

use crate::error::FormatError;
use crate::proto;

const FORMAT: &str = "tensorflow";

/// The table magic number, stored little-endian in the last 8 bytes of the file.
pub(crate) const MAGIC: u64 = 0xdb47_7524_8b80_fb57;
/// Footer: two block handles padded to 40 bytes, then the magic number.
pub(crate) const FOOTER_LEN: usize = 48;
/// After each block: one compression-type byte and a masked CRC-32C.
const TRAILER_LEN: usize = 5;

const NO_COMPRESSION: u8 = 0;
const SNAPPY: u8 = 1;

const CRC_MASK_DELTA: u32 = 0xa282_ead8;

/// LevelDB's CRC masking, which keeps a CRC stored next to the data it covers from looking like
/// data whose CRC is being computed.
pub(crate) fn mask_crc(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(CRC_MASK_DELTA)
}

fn malformed(msg: impl Into<String>) -> FormatError {
    FormatError::malformed(FORMAT, msg)
}

/// Read a varint of at most `max_bytes` bytes at `*pos`, advancing `*pos` (LevelDB's varints are
/// protobuf's: [`crate::proto::varint`]).
fn varint(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Result<u64, FormatError> {
    proto::varint(buf, pos, max_bytes).map_err(|e| malformed(e.to_string()))
}

fn varint32(buf: &[u8], pos: &mut usize) -> Result<usize, FormatError> {
    let v = varint(buf, pos, 5)?;
    let v = u32::try_from(v).map_err(|_| malformed("varint32 out of range"))?;
    usize::try_from(v).map_err(|_| malformed("varint32 out of range"))
}

/// Where a block lies in the file (its size excludes the trailer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockHandle {
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

impl BlockHandle {
    fn decode(buf: &[u8], pos: &mut usize) -> Result<Self, FormatError> {
        let offset = varint(buf, pos, 10)?;
        let size = varint(buf, pos, 10)?;
        Ok(Self { offset, size })
    }
}

/// Bounds what one table may make the reader do.
struct Budget {
    /// Bytes still allowed to be inflated from snappy blocks.
    inflate: u64,
    /// Key bytes still allowed to be assembled and compared (keys share prefixes, so a small
    /// table could otherwise make the reader rebuild very long keys many times).
    key_bytes: u64,
    max_key: u64,
}

/// Read and check the block at `h`, inflating it when it is snappy-compressed.
fn read_block<'a>(
    table: &'a [u8],
    h: BlockHandle,
    what: &str,
    budget: &mut Budget,
) -> Result<Cow<'a, [u8]>, FormatError> {
    let limit = (table.len() - FOOTER_LEN) as u64;
    let end = h
        .offset
        .checked_add(h.size)
        .and_then(|e| e.checked_add(TRAILER_LEN as u64))
        .filter(|&e| e <= limit)
        .ok_or_else(|| {
            malformed(format!(
                "{what} block {}+{} lies past the end of the table ({limit} bytes before the footer)",
                h.offset, h.size
            ))
        })?;
    // Both fit in usize: they are at most the table length.
    let start = h.offset as usize;
    let end = end as usize;
    let body_end = end - 4;
    let contents = &table[start..body_end - 1];
    let kind = table[body_end - 1];
    let stored = u32::from_le_bytes(table[body_end..end].try_into().unwrap_or([0; 4]));
    let actual = mask_crc(crc32c::crc32c(&table[start..body_end]));
    if stored != actual {
        return Err(malformed(format!(
            "{what} block at {}: checksum mismatch (stored {stored:#010x}, computed {actual:#010x})",
            h.offset
        )));
    }
    match kind {
        NO_COMPRESSION => Ok(Cow::Borrowed(contents)),
        SNAPPY => {
            let n = snap::raw::decompress_len(contents)
                .map_err(|e| malformed(format!("{what} block at {}: {e}", h.offset)))?;
            if n as u64 > budget.inflate {
                return Err(FormatError::limit(
                    format!("inflated table blocks ({n} more bytes)"),
                    budget.inflate,
                ));
            }
            budget.inflate -= n as u64;
            let out = snap::raw::Decoder::new()
                .decompress_vec(contents)
                .map_err(|e| malformed(format!("{what} block at {}: {e}", h.offset)))?;
            Ok(Cow::Owned(out))
        }
        other => Err(FormatError::unsupported(
            FORMAT,
            format!("{what} block at {}: compression type {other}", h.offset),
        )),
    }
}

/// Walk the entries of one block in order, checking prefix sharing and restart points.
/// `last` holds the previous key of the table (empty before the first) and is updated.
fn walk_block(
    block: &[u8],
    what: &str,
    first_in_table: &mut bool,
    last: &mut Vec<u8>,
    budget: &mut Budget,
    mut f: impl FnMut(&[u8], &[u8]) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let bad = |msg: String| malformed(format!("{what} block: {msg}"));
    let n = block.len();
    if n < 4 {
        return Err(bad(format!("{n} bytes is too short")));
    }
    let num_restarts = u32::from_le_bytes(block[n - 4..].try_into().unwrap_or([0; 4])) as usize;
    let restarts_start = num_restarts
        .checked_mul(4)
        .and_then(|r| (n - 4).checked_sub(r))
        .ok_or_else(|| {
            bad(format!(
                "{num_restarts} restart points do not fit in {n} bytes"
            ))
        })?;
    let restart = |i: usize| -> usize {
        let at = restarts_start + 4 * i;
        u32::from_le_bytes(block[at..at + 4].try_into().unwrap_or([0; 4])) as usize
    };
    let mut next_restart = 0usize;
    let mut key: Vec<u8> = Vec::new();
    let mut pos = 0usize;
    let mut first_in_block = true;
    while pos < restarts_start {
        let entry_start = pos;
        let data = &block[..restarts_start];
        let shared = varint32(data, &mut pos)?;
        let unshared = varint32(data, &mut pos)?;
        let value_len = varint32(data, &mut pos)?;
        if next_restart < num_restarts && restart(next_restart) == entry_start {
            if shared != 0 {
                return Err(bad(format!(
                    "entry at restart point {entry_start} shares {shared} key bytes"
                )));
            }
            next_restart += 1;
        } else if first_in_block {
            return Err(bad("first entry is not a restart point".into()));
        }
        if shared > key.len() {
            return Err(bad(format!(
                "entry at {entry_start} shares {shared} bytes of a {}-byte key",
                key.len()
            )));
        }
        let delta_end = pos
            .checked_add(unshared)
            .filter(|&e| e <= restarts_start)
            .ok_or_else(|| bad(format!("key of entry at {entry_start} runs past the block")))?;
        let value_end = delta_end
            .checked_add(value_len)
            .filter(|&e| e <= restarts_start)
            .ok_or_else(|| {
                bad(format!(
                    "value of entry at {entry_start} runs past the block"
                ))
            })?;
        let new_len = (shared + unshared) as u64;
        if new_len > budget.max_key {
            return Err(FormatError::limit(
                format!("table key length ({new_len} bytes)"),
                budget.max_key,
            ));
        }
        if new_len > budget.key_bytes {
            return Err(FormatError::limit(
                "total length of table keys",
                budget.key_bytes,
            ));
        }
        budget.key_bytes -= new_len;
        key.truncate(shared);
        key.extend_from_slice(&block[pos..delta_end]);
        if !*first_in_table && key.as_slice() <= last.as_slice() {
            return Err(bad(format!("keys out of order at entry {entry_start}")));
        }
        f(&key, &block[delta_end..value_end])?;
        last.clear();
        last.extend_from_slice(&key);
        *first_in_table = false;
        first_in_block = false;
        pos = value_end;
    }
    if next_restart != num_restarts {
        return Err(bad(format!(
            "restart point {} does not start an entry",
            restart(next_restart)
        )));
    }
    Ok(())
}

/// Call `f(key, value)` for every entry of the table in `table`, in key order.
pub(crate) fn for_each_entry(
    table: &[u8],
    limits: &Limits,
    mut f: impl FnMut(&[u8], &[u8]) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let n = table.len();
    if n < FOOTER_LEN {
        return Err(malformed(format!(
            "{n} bytes is too short for a table footer ({FOOTER_LEN} bytes)"
        )));
    }
    let footer = &table[n - FOOTER_LEN..];
    let magic = u64::from_le_bytes(footer[40..].try_into().unwrap_or([0; 8]));
    if magic != MAGIC {
        return Err(malformed(format!(
            "bad table magic {magic:#018x} (expected {MAGIC:#018x})"
        )));
    }
    let mut pos = 0;
    let handles = &footer[..40];
    let metaindex = BlockHandle::decode(handles, &mut pos)?;
    let index = BlockHandle::decode(handles, &mut pos)?;
    let mut budget = Budget {
        inflate: limits.max_inflated_bytes,
        key_bytes: limits.max_header_bytes,
        max_key: limits.max_string_bytes,
    };
    // The metaindex is empty in TensorFlow tables; it is still checked so that a damaged table
    // is reported as such.
    read_block(table, metaindex, "metaindex", &mut budget)?;
    let index_block = read_block(table, index, "index", &mut budget)?;
    let mut handles = Vec::new();
    let mut first = true;
    let mut last = Vec::new();
    walk_block(
        &index_block,
        "index",
        &mut first,
        &mut last,
        &mut budget,
        |_, value| {
            let mut p = 0;
            let h = BlockHandle::decode(value, &mut p)?;
            handles.push(h);
            Ok(())
        },
    )?;
    let mut first = true;
    let mut last = Vec::new();
    for h in handles {
        let block = read_block(table, h, "data", &mut budget)?;
        walk_block(&block, "data", &mut first, &mut last, &mut budget, &mut f)?;
    }
    Ok(())
}

/// A writer for small tables, to build test inputs (well-formed and damaged).
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::proto::put_varint;

    /// Encode one block of sorted `entries` with a restart every `interval` entries.
    pub(crate) fn block(entries: &[(Vec<u8>, Vec<u8>)], interval: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut restarts = Vec::new();
        let mut prev: &[u8] = &[];
        for (i, (k, v)) in entries.iter().enumerate() {
            let shared = if i % interval == 0 {
                restarts.push(out.len() as u32);
                0
            } else {
                prev.iter().zip(k).take_while(|(a, b)| a == b).count()
            };
            put_varint(&mut out, shared as u64);
            put_varint(&mut out, (k.len() - shared) as u64);
            put_varint(&mut out, v.len() as u64);
            out.extend_from_slice(&k[shared..]);
            out.extend_from_slice(v);
            prev = k;
        }
        if restarts.is_empty() {
            restarts.push(0);
        }
        for r in &restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(restarts.len() as u32).to_le_bytes());
        out
    }

    /// Append `contents` as a block with its trailer; return its handle.
    pub(crate) fn push_block(table: &mut Vec<u8>, contents: &[u8], kind: u8) -> BlockHandle {
        let h = BlockHandle {
            offset: table.len() as u64,
            size: contents.len() as u64,
        };
        table.extend_from_slice(contents);
        table.push(kind);
        let crc = crc32c::crc32c_append(crc32c::crc32c(contents), &[kind]);
        table.extend_from_slice(&mask_crc(crc).to_le_bytes());
        h
    }

    pub(crate) fn handle_bytes(h: BlockHandle) -> Vec<u8> {
        let mut v = Vec::new();
        put_varint(&mut v, h.offset);
        put_varint(&mut v, h.size);
        v
    }

    /// A whole table: `entries` (sorted) split into data blocks of `per_block` entries,
    /// snappy-compressed when `snappy` is set.
    pub(crate) fn table(entries: &[(Vec<u8>, Vec<u8>)], per_block: usize, snappy: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut index = Vec::new();
        for chunk in entries.chunks(per_block.max(1)) {
            let contents = block(chunk, 16);
            let h = if snappy {
                let packed = snap::raw::Encoder::new()
                    .compress_vec(&contents)
                    .expect("snappy");
                push_block(&mut out, &packed, SNAPPY)
            } else {
                push_block(&mut out, &contents, NO_COMPRESSION)
            };
            // The last key of the block is a valid separator.
            index.push((chunk[chunk.len() - 1].0.clone(), handle_bytes(h)));
        }
        let meta = push_block(&mut out, &block(&[], 16), NO_COMPRESSION);
        let idx = push_block(&mut out, &block(&index, 1), NO_COMPRESSION);
        let mut footer = handle_bytes(meta);
        footer.extend(handle_bytes(idx));
        footer.resize(40, 0);
        footer.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend(footer);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    type Entries = Vec<(Vec<u8>, Vec<u8>)>;

    fn entries(n: usize) -> Entries {
        (0..n)
            .map(|i| {
                (
                    format!("layer/{i:03}/kernel").into_bytes(),
                    vec![i as u8; i % 5],
                )
            })
            .collect()
    }

    fn collect(table: &[u8], limits: &Limits) -> Result<Entries, FormatError> {
        let mut got = Vec::new();
        for_each_entry(table, limits, |k, v| {
            got.push((k.to_vec(), v.to_vec()));
            Ok(())
        })?;
        Ok(got)
    }

    #[test]
    fn reads_entries_across_blocks_and_restarts() {
        let want = entries(70);
        let t = table(&want, 40, false);
        assert_eq!(collect(&t, &Limits::strict()).expect("table"), want);
    }

    #[test]
    fn reads_snappy_blocks_within_the_inflate_budget() {
        let want = entries(50);
        let t = table(&want, 20, true);
        assert_eq!(collect(&t, &Limits::strict()).expect("table"), want);
        let tight = Limits {
            max_inflated_bytes: 100,
            ..Limits::strict()
        };
        assert!(matches!(
            collect(&t, &tight),
            Err(FormatError::Limit { .. })
        ));
    }

    #[test]
    fn bad_magic_is_refused() {
        let mut t = table(&entries(3), 10, false);
        let n = t.len();
        t[n - 1] ^= 1;
        let e = collect(&t, &Limits::strict()).unwrap_err();
        assert!(e.to_string().contains("magic"), "{e}");
    }

    #[test]
    fn truncated_footer_is_refused() {
        let t = table(&entries(3), 10, false);
        for cut in [0, 1, 20, FOOTER_LEN - 1] {
            assert!(collect(&t[..cut], &Limits::strict()).is_err());
        }
        // Dropping the first bytes keeps the magic but leaves the handles pointing elsewhere.
        assert!(collect(&t[10..], &Limits::strict()).is_err());
    }

    #[test]
    fn block_crc_mismatch_is_refused() {
        let mut t = table(&entries(20), 10, false);
        t[5] ^= 0x40;
        let e = collect(&t, &Limits::strict()).unwrap_err();
        assert!(e.to_string().contains("checksum mismatch"), "{e}");
    }

    /// Replace the footer's index handle with `index` (varint bytes), keeping the metaindex.
    fn with_index_handle(t: &[u8], index: &[u8]) -> Vec<u8> {
        let n = t.len();
        let mut pos = 0;
        let footer = &t[n - FOOTER_LEN..n - 8];
        BlockHandle::decode(footer, &mut pos).expect("metaindex handle");
        let mut new = footer[..pos].to_vec();
        new.extend_from_slice(index);
        new.resize(40, 0);
        let mut out = t.to_vec();
        out[n - FOOTER_LEN..n - 8].copy_from_slice(&new);
        out
    }

    #[test]
    fn handle_past_end_is_refused() {
        let t = table(&entries(3), 10, false);
        let bad = with_index_handle(&t, &[0xff, 0xff, 0xff, 0xff, 0x0f, 0x10]);
        let e = collect(&bad, &Limits::strict()).unwrap_err();
        assert!(e.to_string().contains("past the end"), "{e}");
        // A huge size must not overflow.
        let mut huge = vec![0x01];
        huge.extend_from_slice(&[0xff; 9]);
        huge.push(0x01);
        let e = collect(&with_index_handle(&t, &huge), &Limits::strict()).unwrap_err();
        assert!(e.to_string().contains("past the end"), "{e}");
        // A data block handle in the index past the end.
        let body = block(&[(b"k".to_vec(), vec![0xff, 0xff, 0xff, 0x07, 0x7f])], 1);
        let mut with_block = t[..t.len() - FOOTER_LEN].to_vec();
        let h = push_block(&mut with_block, &body, 0);
        with_block.extend_from_slice(&t[t.len() - FOOTER_LEN..]);
        let index = with_index_handle(&with_block, &handle_bytes(h));
        let e = collect(&index, &Limits::strict()).unwrap_err();
        assert!(e.to_string().contains("past the end"), "{e}");
    }

    /// Walk one block on its own with generous budgets.
    fn walk_alone(contents: &[u8]) -> Result<(), FormatError> {
        let mut budget = Budget {
            inflate: 0,
            key_bytes: 1 << 20,
            max_key: 1 << 20,
        };
        walk_block(
            contents,
            "data",
            &mut true,
            &mut Vec::new(),
            &mut budget,
            |_, _| Ok(()),
        )
    }

    #[test]
    fn malformed_blocks_are_refused() {
        // Keys out of order.
        let mut e = entries(3);
        e.swap(0, 2);
        assert!(collect(&table(&e, 10, false), &Limits::strict()).is_err());
        // An entry sharing more bytes than the previous key has.
        let mut contents = vec![5, 1, 0, b'a'];
        contents.extend_from_slice(&0u32.to_le_bytes());
        contents.extend_from_slice(&1u32.to_le_bytes());
        assert!(walk_alone(&contents).is_err());
        // Absurd restart count.
        let mut contents = vec![0, 1, 0, b'a'];
        contents.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(walk_alone(&contents).is_err());
    }

    #[test]
    fn varints_are_bounded() {
        let mut pos = 0;
        assert!(varint(&[0xff; 11], &mut pos, 10).is_err());
        let mut pos = 0;
        assert!(varint(&[0x80], &mut pos, 10).is_err());
        let mut pos = 0;
        assert!(varint32(&[0xff, 0xff, 0xff, 0xff, 0x7f], &mut pos).is_err());
        let mut pos = 0;
        assert_eq!(
            varint(
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
                &mut pos,
                10
            )
            .expect("max"),
            u64::MAX
        );
    }
}

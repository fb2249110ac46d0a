//! Keras readers: legacy HDF5 `.h5` (`model.save` and `save_weights` of tf.keras 2, and Keras 3's
//! legacy writer), Keras 3 `.weights.h5`, and Keras 3 `.keras` archives. Tensors are named by
//! their HDF5 path, e.g. `model_weights/dense/dense/kernel:0` or `layers/dense/vars/0`.

mod h5;
mod store;

use std::io::{Cursor, Read};
use std::sync::Arc;

use hdf5_reader::RawAttribute;
use hdf5_reader::group::Group;
use hdf5_reader::storage::{BytesStorage, DynStorage};
use serde_json::{Map, Value};
use weighhouse_tensor::Limits;
use zip::CompressionMethod;
use zip::read::ZipArchive;

use crate::error::FormatError;
use crate::parsed::{Base, Format, Parsed};
use h5::{FORMAT, H5, Placement, join};

/// Root groups that mark Keras 3's native weights layout (`_layer_checkpoint_dependencies` is
/// how Keras 2.13 spelled `layers`).
const KERAS3_GROUPS: [&str; 4] = [
    "layers",
    "vars",
    "optimizer",
    "_layer_checkpoint_dependencies",
];

/// Parse an HDF5 Keras file held in `bytes`: a legacy `.h5` (full model or weights only) or a
/// Keras 3 `.weights.h5`. Contiguous datasets stay in `bytes`; chunked ones are decoded.
pub fn parse_h5(bytes: &[u8], limits: &Limits) -> Result<Parsed, FormatError> {
    store::with_borrowed(bytes, |storage| {
        read_h5(storage, Placement::File(0), limits)
    })
}

/// Parse a Keras 3 `.keras` archive held in `bytes`: `config.json` and `metadata.json` go to the
/// metadata, the tensors come from `model.weights.h5` (or `model.weights.npz`).
pub fn parse_keras_zip(bytes: &[u8], limits: &Limits) -> Result<Parsed, FormatError> {
    let mut zip = ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| FormatError::malformed(FORMAT, format!("zip archive: {e}")))?;
    if zip.len() as u64 > limits.max_zip_entries {
        return Err(FormatError::limit(
            format!("zip archive with {} entries", zip.len()),
            limits.max_zip_entries,
        ));
    }
    let mut metadata = Map::new();
    if let Some(i) = zip.index_for_name("metadata.json") {
        match read_json(&mut zip, i, limits)? {
            Value::Object(m) => metadata.extend(m),
            other => {
                metadata.insert("metadata".into(), other);
            }
        }
    }
    if let Some(i) = zip.index_for_name("config.json") {
        metadata.insert("config".into(), read_json(&mut zip, i, limits)?);
    }
    let mut parsed = if let Some(i) = zip.index_for_name("model.weights.h5") {
        match member(&mut zip, bytes, i, limits)? {
            Member::Stored { start, bytes } => store::with_borrowed(bytes, |storage| {
                read_h5(storage, Placement::File(start), limits)
            })?,
            Member::Inflated(buf) => {
                let storage: DynStorage = Arc::new(BytesStorage::from_shared(Arc::clone(&buf)));
                read_h5(storage, Placement::Owned(buf), limits)?
            }
        }
    } else if let Some(i) = zip.index_for_name("model.weights.npz") {
        let mut p = match member(&mut zip, bytes, i, limits)? {
            Member::Stored { start, bytes } => {
                let mut p = crate::npy::parse_npz(bytes, limits)?;
                for t in &mut p.tensors {
                    if let Base::File(_) = t.source.base {
                        t.source.offset = t.source.offset.checked_add(start).ok_or_else(|| {
                            FormatError::malformed(FORMAT, "tensor offset overflows")
                        })?;
                    }
                }
                p
            }
            Member::Inflated(buf) => {
                let mut p = crate::npy::parse_npz(&buf, limits)?;
                for t in &mut p.tensors {
                    if let Base::File(_) = t.source.base {
                        t.source.base = Base::Owned(Arc::clone(&buf));
                    }
                }
                p
            }
        };
        p.metadata.clear();
        p
    } else {
        // An archive of an architecture without weights.
        Parsed::new(Format::Keras)
    };
    parsed.format = Format::Keras;
    // The archive's own metadata first; the weights file adds what it records.
    for (k, v) in std::mem::take(&mut parsed.metadata) {
        metadata.entry(k).or_insert(v);
    }
    parsed.metadata = metadata;
    Ok(parsed)
}

/// One archive member's bytes: in place when STORED, inflated into memory when DEFLATED.
enum Member<'a> {
    Stored { start: u64, bytes: &'a [u8] },
    Inflated(Arc<[u8]>),
}

fn zip_err(e: zip::result::ZipError) -> FormatError {
    FormatError::malformed(FORMAT, format!("zip archive: {e}"))
}

fn member<'a>(
    zip: &mut ZipArchive<Cursor<&'a [u8]>>,
    bytes: &'a [u8],
    i: usize,
    limits: &Limits,
) -> Result<Member<'a>, FormatError> {
    let raw = zip.by_index_raw(i).map_err(zip_err)?;
    let name = raw.name().unwrap_or_default().into_owned();
    if raw.encrypted() {
        return Err(FormatError::unsupported(
            FORMAT,
            format!("encrypted member {name:?}"),
        ));
    }
    match raw.compression() {
        CompressionMethod::Stored => {
            let start = raw
                .data_start()
                .ok_or_else(|| FormatError::malformed(FORMAT, format!("{name:?}: no data")))?;
            let len = raw.compressed_size();
            if raw.size() != len {
                return Err(FormatError::malformed(
                    FORMAT,
                    format!(
                        "stored member {name:?} has {len} bytes but claims {}",
                        raw.size()
                    ),
                ));
            }
            let slice = usize::try_from(start)
                .ok()
                .zip(usize::try_from(len).ok())
                .and_then(|(s, l)| bytes.get(s..s.checked_add(l)?))
                .ok_or_else(|| {
                    FormatError::malformed(FORMAT, format!("member {name:?} lies past the end"))
                })?;
            Ok(Member::Stored {
                start,
                bytes: slice,
            })
        }
        CompressionMethod::Deflated => {
            drop(raw);
            let f = zip.by_index(i).map_err(zip_err)?;
            let buf = read_bounded(f, limits.max_inflated_bytes, "inflated model.weights")?;
            Ok(Member::Inflated(buf.into()))
        }
        other => Err(FormatError::unsupported(
            FORMAT,
            format!("member {name:?} compressed with {other:?}"),
        )),
    }
}

/// Read all of `r`, failing once more than `max` bytes come out.
fn read_bounded(r: impl Read, max: u64, what: &str) -> Result<Vec<u8>, FormatError> {
    let mut buf = Vec::new();
    r.take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| FormatError::malformed(FORMAT, format!("{what}: {e}")))?;
    if buf.len() as u64 > max {
        return Err(FormatError::limit(what, max));
    }
    Ok(buf)
}

fn read_json(
    zip: &mut ZipArchive<Cursor<&[u8]>>,
    i: usize,
    limits: &Limits,
) -> Result<Value, FormatError> {
    let f = zip.by_index(i).map_err(zip_err)?;
    let name = f.name().unwrap_or_default().into_owned();
    let buf = read_bounded(f, limits.max_header_bytes, &name)?;
    serde_json::from_slice(&buf).map_err(|e| FormatError::malformed(FORMAT, format!("{name}: {e}")))
}

/// Read an opened HDF5 file: recognise its Keras layout, then list its datasets.
fn read_h5(
    storage: DynStorage,
    placement: Placement,
    limits: &Limits,
) -> Result<Parsed, FormatError> {
    let mut h5 = H5::open(storage, placement, limits)?;
    let root = h5.file.root_group().map_err(|e| h5.err(e))?;
    let root_attrs = h5.raw_attributes(&root)?;
    let (groups, _) = root.member_names().map_err(|e| h5.err(e))?;
    let has_group = |n: &str| groups.iter().any(|g| g == n);

    // Legacy layout: `layer_names` on the root (save_weights) or on /model_weights (model.save).
    let legacy = if has_list(&root_attrs, "layer_names") {
        Some((String::new(), root.clone(), root_attrs.clone()))
    } else if has_group("model_weights") {
        let g = h5.file.group("model_weights").map_err(|e| h5.err(e))?;
        let attrs = h5.raw_attributes(&g)?;
        (has_list(&attrs, "layer_names") || root_attrs.iter().any(|a| a.name() == "model_config"))
            .then(|| ("model_weights".to_owned(), g, attrs))
    } else {
        None
    };
    let format = if legacy.is_some() {
        Format::KerasH5
    } else if KERAS3_GROUPS.iter().any(|g| has_group(g)) {
        Format::KerasWeightsH5
    } else {
        return Err(FormatError::unsupported(
            FORMAT,
            "an HDF5 file without a Keras layout (no layer_names, model_weights, layers or vars)",
        ));
    };

    let mut metadata = Map::new();
    attrs_to_metadata(&mut h5, &root, &root_attrs, &mut metadata)?;
    if let Some((prefix, group, attrs)) = &legacy {
        if !prefix.is_empty() {
            attrs_to_metadata(&mut h5, group, attrs, &mut metadata)?;
        }
        // The model's weights in model order, as Keras lists them.
        for layer in h5
            .name_list(group, attrs, "layer_names")?
            .unwrap_or_default()
        {
            let path = join(prefix, &layer);
            let lg = h5.file.group(&path).map_err(|e| {
                FormatError::malformed(
                    FORMAT,
                    format!("layer {layer:?} is listed but missing: {e}"),
                )
            })?;
            let la = h5.raw_attributes(&lg)?;
            for w in h5.name_list(&lg, &la, "weight_names")?.unwrap_or_default() {
                h5.add_path(&join(&path, &w))?;
            }
        }
        if has_group("optimizer_weights") {
            let g = h5.file.group("optimizer_weights").map_err(|e| h5.err(e))?;
            let attrs = h5.raw_attributes(&g)?;
            for w in h5
                .name_list(&g, &attrs, "weight_names")?
                .unwrap_or_default()
            {
                h5.add_path(&join("optimizer_weights", &w))?;
            }
        }
    }
    // Everything else (Keras 3 files entirely, and any dataset no list names).
    let mut names = Map::new();
    let collect = (format == Format::KerasWeightsH5).then_some(&mut names);
    h5.walk(&root, "", 0, collect)?;
    if !names.is_empty() {
        metadata.insert("object_names".into(), Value::Object(names));
    }
    Ok(Parsed {
        format,
        tensors: std::mem::take(&mut h5.tensors),
        metadata,
        other: std::mem::take(&mut h5.other),
    })
}

/// True when `attrs` has `name`, or its first chunk `name0`.
fn has_list(attrs: &[RawAttribute], name: &str) -> bool {
    let chunk = format!("{name}0");
    attrs.iter().any(|a| a.name() == name || a.name() == chunk)
}

/// Copy the string attributes of `group` (`keras_version`, `backend`, `model_config`, ...) into
/// `metadata`; `*_config` values are JSON documents and are parsed as such. The name lists that
/// describe the layout are left out: the tensor names carry them.
fn attrs_to_metadata(
    h5: &mut H5,
    group: &Group,
    attrs: &[RawAttribute],
    metadata: &mut Map<String, Value>,
) -> Result<(), FormatError> {
    for a in attrs {
        let name = a.name();
        if name.starts_with("layer_names") || name.starts_with("weight_names") {
            continue;
        }
        if metadata.contains_key(name) {
            continue;
        }
        if metadata.len() as u64 >= h5.limits().max_metadata_entries {
            return Err(FormatError::limit(
                "number of metadata entries",
                h5.limits().max_metadata_entries,
            ));
        }
        let Some(mut strings) = h5.strings(group, a.message())? else {
            continue;
        };
        let value = if a.message().dataspace.dims.is_empty() && strings.len() == 1 {
            let s = strings.remove(0);
            if name.ends_with("_config") {
                serde_json::from_str(&s).unwrap_or(Value::String(s))
            } else {
                Value::String(s)
            }
        } else {
            Value::Array(strings.into_iter().map(Value::String).collect())
        };
        metadata.insert(name.to_owned(), value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;

    const LEGACY: &[u8] = include_bytes!("../../../../tests/fixtures/keras/legacy_tfkeras2.h5");
    const KERAS3: &[u8] = include_bytes!("../../../../tests/fixtures/keras/keras3.weights.h5");
    const STORED: &[u8] = include_bytes!("../../../../tests/fixtures/keras/stored.keras");
    const DEFLATED: &[u8] = include_bytes!("../../../../tests/fixtures/keras/deflated.keras");

    /// Parse as the fuzz targets do: the reader, then the generic extent checks, then every
    /// tensor's bytes. Must never panic.
    fn exercise(bytes: &[u8], parse: fn(&[u8], &Limits) -> Result<Parsed, FormatError>) -> bool {
        match Checkpoint::from_bytes_with("t", bytes.to_vec(), &Limits::strict(), parse) {
            Ok(ck) => {
                for t in &ck.tensors {
                    let _ = ck.tensor_bytes(t);
                }
                true
            }
            Err(_) => false,
        }
    }

    /// A small deterministic generator for mutations.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn fixtures_parse() {
        assert!(exercise(LEGACY, parse_h5));
        assert!(exercise(KERAS3, parse_h5));
        assert!(exercise(STORED, parse_keras_zip));
        assert!(exercise(DEFLATED, parse_keras_zip));
    }

    #[test]
    fn truncated_hdf5_is_an_error() {
        for len in [0, 7, 8, 40, 96, 512, 2048, LEGACY.len() / 2] {
            assert!(
                parse_h5(&LEGACY[..len], &Limits::strict()).is_err(),
                "{len}"
            );
        }
        // Past the metadata, a cut can only remove tensor bytes: the extent checks catch it.
        for cut in 1..64 {
            exercise(&LEGACY[..LEGACY.len() - cut], parse_h5);
        }
        for len in [0, 100, KERAS3.len() / 2] {
            assert!(
                parse_h5(&KERAS3[..len], &Limits::strict()).is_err(),
                "{len}"
            );
        }
    }

    #[test]
    fn garbage_after_the_signature_is_an_error() {
        let mut bytes = b"\x89HDF\r\n\x1a\n".to_vec();
        bytes.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
        assert!(parse_h5(&bytes, &Limits::strict()).is_err());
        let mut ones = b"\x89HDF\r\n\x1a\n".to_vec();
        ones.resize(4096, 0xff);
        assert!(parse_h5(&ones, &Limits::strict()).is_err());
    }

    #[test]
    fn a_plain_hdf5_file_is_not_taken_for_keras() {
        // The superblock and root of a Keras 3 file, with its root groups renamed.
        let renamed = replace_all(KERAS3, b"layers", b"xayers");
        let renamed = replace_all(&renamed, b"optimizer", b"xptimizer");
        let renamed = replace_all(&renamed, b"vars", b"xars");
        match parse_h5(&renamed, &Limits::strict()) {
            Err(FormatError::Unsupported { .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    fn replace_all(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let mut i = 0;
        while i + from.len() <= out.len() {
            if &out[i..i + from.len()] == from {
                out[i..i + from.len()].copy_from_slice(to);
                i += from.len();
            } else {
                i += 1;
            }
        }
        out
    }

    #[test]
    fn limits_bound_decoding() {
        let tight = Limits {
            max_inflated_bytes: 100,
            ..Limits::strict()
        };
        // 256 + 48 + 48 + 12 bytes of chunked data.
        assert!(matches!(
            parse_h5(LEGACY, &tight),
            Err(FormatError::Limit { .. })
        ));
        let few = Limits {
            max_tensors: 3,
            ..Limits::strict()
        };
        assert!(matches!(
            parse_h5(LEGACY, &few),
            Err(FormatError::Limit { .. })
        ));
        let shallow = Limits {
            max_depth: 1,
            ..Limits::strict()
        };
        assert!(matches!(
            parse_h5(KERAS3, &shallow),
            Err(FormatError::Limit { .. })
        ));
        let short = Limits {
            max_header_bytes: 40,
            ..Limits::strict()
        };
        assert!(parse_h5(LEGACY, &short).is_err());
    }

    #[test]
    fn broken_archives_are_errors() {
        assert!(parse_keras_zip(&STORED[..STORED.len() / 2], &Limits::strict()).is_err());
        assert!(parse_keras_zip(b"PK\x03\x04garbage", &Limits::strict()).is_err());
        // config.json that is not JSON.
        let bad = replace_all(
            STORED,
            b"{\"class_name\": \"Sequential\"",
            b"{\"class_name\": \"Sequential\x00",
        );
        assert!(parse_keras_zip(&bad, &Limits::strict()).is_err());
        let tiny = Limits {
            max_inflated_bytes: 1000,
            ..Limits::strict()
        };
        assert!(matches!(
            parse_keras_zip(DEFLATED, &tiny),
            Err(FormatError::Limit { .. })
        ));
    }

    #[test]
    fn mutated_files_give_errors_not_panics() {
        let seed = std::env::var("WH_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        let mut rng = Rng(seed);
        for (seed, parse) in [
            (
                LEGACY,
                parse_h5 as fn(&[u8], &Limits) -> Result<Parsed, FormatError>,
            ),
            (KERAS3, parse_h5),
            (STORED, parse_keras_zip),
            (DEFLATED, parse_keras_zip),
        ] {
            let rounds = std::env::var("WH_MUTATIONS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(300);
            for _ in 0..rounds {
                let mut m = seed.to_vec();
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(m.len());
                    m[at] = match rng.below(3) {
                        0 => rng.next() as u8,
                        1 => 0xff,
                        _ => m[at] ^ (1 << rng.below(8)),
                    };
                }
                exercise(&m, parse);
            }
        }
    }
}

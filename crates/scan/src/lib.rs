//! Finds code-execution payloads in model files, without executing anything.
//!
//! Every file is recognised by its bytes, never its name, and read the way its real loader reads
//! it: pickles (all protocols) through a symbolic machine ([`pickle`]) checked against an
//! allowlist ([`policy`]); PyTorch zip checkpoints as torch's miniz reader sees them and as a
//! local-header walk sees them (the `zip` module), legacy streams and tar files; NumPy `.npy`/`.npz` object
//! arrays; joblib files with inline arrays; gzip and zlib wrappers; Keras H5 and `.keras`
//! configurations; TensorFlow SavedModels; GGUF chat templates; ONNX external data; safetensors
//! headers. A file that cannot be read completely is `incomplete`, never `safe`.
//!
//! What the scanner knows about the formats comes from the strict readers of
//! `weighhouse-formats`: their signatures (`sniff`), protobuf decoder (`proto`), pickle opcode
//! table (`pickle::op`), GGUF cursor (`gguf::Reader`) and [`Limits`]. Where the scanner must read
//! what a strict reader refuses (GGUF v1, duplicate keys, an HDF5 file hdf5-reader cannot open,
//! a pickle of any protocol), it keeps its own tolerant walk on top of those, and says so in the
//! module concerned. Why a part of a file could not be read is a typed error of that module's
//! reader; its text becomes the file's `incomplete` reason.

pub mod pickle;
pub mod policy;
pub mod report;

mod error;
mod gguf;
mod keras;
mod onnx;
mod safetensors;
mod savedmodel;
#[cfg(test)]
mod testutil;
mod zip;

use std::io::Read;
use std::path::Path;

use weighhouse_formats::pickle::op as pickle_op;
use weighhouse_formats::sniff::{self, Compression};

use error::LegacyStorageError;
pub use policy::Profile;
pub use report::{Finding, Report, Severity, Verdict};
pub use weighhouse_formats::Limits;

/// Scan settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Allowlist profile.
    pub profile: Profile,
    /// Resource limits: the workspace's one [`Limits`] type, which the format readers take too.
    /// The scanner reads [`Limits::max_inflated_bytes`] as the most a compressed stream, a zip
    /// member or a 7z archive may unpack to, and the pickle fields as
    /// [`pickle::Budget::from_limits`] describes (opcodes, values, memo entries, and the nesting
    /// of pickles inside archives and compressed streams).
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            profile: Profile::Compat,
            limits: Limits::default(),
        }
    }
}

/// The scan of one file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    /// The file.
    pub path: String,
    /// The outermost format recognised.
    pub format: String,
    /// Safe, unsafe or incomplete.
    pub verdict: Verdict,
    /// Whether `torch.load(weights_only=True)` would accept every pickle in it (files with pickles).
    pub weights_only_loadable: Option<bool>,
    /// Findings.
    pub findings: Vec<Finding>,
    /// What could not be read.
    pub incomplete: Vec<String>,
}

struct Scanner {
    opts: Options,
    /// The pickle machine's bounds, from `opts.limits`.
    budget: pickle::Budget,
    wo: Option<bool>,
}

impl Scanner {
    fn note_wo(&mut self, loadable: bool) {
        self.wo = Some(self.wo.unwrap_or(true) && loadable);
    }

    /// Scan any bytes: detect, dispatch, recurse.
    ///
    /// Detection uses the format readers' signatures ([`weighhouse_formats::sniff`]) in the
    /// scanner's own order, and differs from `sniff()` where a forensic scan must: a zip archive
    /// is also one that starts with `PK` and has an end-of-central-directory record anywhere
    /// (loaders find the directory from the end); gzip, zlib and 7z are unpacked and bz2, xz and
    /// zstd reported; a safetensors header of any length is checked (one too short for JSON is
    /// reported malformed rather than passed over); pickles of every protocol, and of none, are
    /// recognised (`pickle::looks_like`), as are SavedModel and GraphDef protobufs
    /// (`savedmodel::looks_like`). HDF5 is recognised at offset 0, and also after a user block
    /// (at 512, 1024, 2048, ... bytes, where h5py and Keras find it too): such a file is scanned as
    /// HDF5 as well as whatever its first bytes are, so a polyglot (a pickle whose "user block"
    /// is the pickle, an H5 model after it) cannot hide its Keras configuration.
    fn scan(&mut self, d: &[u8], loc: &str, depth: u32, r: &mut Report) {
        if depth > self.budget.depth() {
            r.incomplete(loc, "nested too deeply");
            return;
        }
        let hdf5_after_user_block = !d.starts_with(sniff::HDF5_MAGIC) && sniff::is_hdf5(d);
        if hdf5_after_user_block {
            r.format("hdf5");
            keras::scan(d, &format!("{loc}!hdf5"), r);
        }
        if d.starts_with(sniff::ZIP_LOCAL_HEADER)
            || (d.starts_with(b"PK") && d.windows(4).any(|w| w == sniff::ZIP_END_RECORD))
        {
            return self.scan_zip(d, loc, depth, r);
        }
        if d.starts_with(sniff::NPY_MAGIC) {
            return self.scan_npy(d, loc, depth, r);
        }
        if d.starts_with(sniff::HDF5_MAGIC) {
            r.format("hdf5");
            return keras::scan(d, loc, r);
        }
        if d.starts_with(sniff::GGUF_MAGIC) {
            r.format("gguf");
            return gguf::scan(d, loc, r);
        }
        let max = self.opts.limits.max_inflated_bytes;
        match sniff::compression(d) {
            Some(Compression::SevenZip) => return self.scan_7z(d, loc, depth, r),
            Some(Compression::Gzip) => {
                r.format("gzip");
                let mut out = Vec::new();
                let res = flate2::read::MultiGzDecoder::new(d)
                    .take(max.saturating_add(1))
                    .read_to_end(&mut out);
                return self.scan_decompressed(res.map(|_| out), &format!("{loc}!gzip"), depth, r);
            }
            Some(Compression::Zlib) => {
                let mut out = Vec::new();
                let res = flate2::read::ZlibDecoder::new(d)
                    .take(max.saturating_add(1))
                    .read_to_end(&mut out);
                if res.is_ok() {
                    r.format("zlib");
                    return self.scan_decompressed(
                        res.map(|_| out),
                        &format!("{loc}!zlib"),
                        depth,
                        r,
                    );
                }
            }
            Some(Compression::Bzip2 | Compression::Xz | Compression::Zstd) => {
                r.format("compressed");
                r.add(
                    "archive.unsupported",
                    Severity::Medium,
                    loc,
                    "bz2/xz/zstd stream: its content cannot be inspected here",
                );
                return r.incomplete(loc, "bz2, xz and zstd streams are not decompressed");
            }
            _ => {}
        }
        if sniff::is_tar(d) {
            return self.scan_tar(d, loc, depth, r);
        }
        if sniff::safetensors_header_len(d).is_some() {
            r.format("safetensors");
            return safetensors::scan(d, loc, r);
        }
        if pickle::looks_like(d) {
            return self.scan_pickles(d, loc, depth, r);
        }
        if onnx::looks_like(d) {
            r.format("onnx");
            return onnx::scan(d, loc, r);
        }
        if savedmodel::looks_like(d) {
            r.format("tensorflow");
            return savedmodel::scan(d, loc, r);
        }
        if !hdf5_after_user_block {
            r.format("other");
        }
    }

    fn scan_decompressed(
        &mut self,
        res: std::io::Result<Vec<u8>>,
        loc: &str,
        depth: u32,
        r: &mut Report,
    ) {
        match res {
            Ok(out) if out.len() as u64 <= self.opts.limits.max_inflated_bytes => {
                self.scan(&out, loc, depth + 1, r)
            }
            Ok(_) => r.incomplete(loc, "decompresses beyond the limit"),
            Err(e) => r.incomplete(loc, format!("cannot decompress: {e}")),
        }
    }

    /// A raw pickle stream or a torch legacy file: pickles one after another, as torch's legacy
    /// loader reads them (magic number, protocol, system info, the object, the storage keys,
    /// then raw storage bytes); any other trailing bytes are scanned by content.
    fn scan_pickles(&mut self, d: &[u8], loc: &str, depth: u32, r: &mut Report) {
        r.format("pickle");
        let (profile, budget) = (self.opts.profile, self.budget);
        let mut pos = 0usize;
        let mut index = 0usize;
        let mut first_magic = false;
        let mut storages: Vec<(String, String)> = Vec::new();
        let joblib = find(d, b"joblib.numpy_pickle").is_some();
        while pos < d.len() {
            let ploc = format!("{loc}!pickle#{index}");
            let mut nested_reports = Vec::new();
            let mut nested = |b: &[u8], l: &str, _: &mut Report| {
                nested_reports.push((b.to_vec(), l.to_string()))
            };
            let out = pickle::run(
                d,
                pos,
                &ploc,
                profile,
                budget,
                joblib,
                depth,
                r,
                &mut nested,
            );
            for (b, l) in nested_reports {
                self.scan_nested(&b, &l, depth + 1, r);
            }
            self.note_wo(out.weights_only_loadable);
            let Some(end) = out.end else { return };
            if index == 0 {
                first_magic = out.is_legacy_magic;
            }
            storages.extend(out.storages);
            pos = end;
            index += 1;
            if first_magic && index == 5 {
                // torch legacy: the raw storages follow, keyed by the list the fifth pickle holds.
                let keys = out.string_list.unwrap_or_default();
                pos = match legacy_storages(d, pos, &keys, &storages) {
                    Ok(p) => p,
                    Err(e) => {
                        r.incomplete(&format!("{loc}@{pos}"), format!("legacy storage data: {e}"));
                        return;
                    }
                };
                if pos < d.len() {
                    r.add(
                        "pickle.trailing_data",
                        Severity::Low,
                        &format!("{loc}@{pos}"),
                        format!("{} bytes after the last storage", d.len() - pos),
                    );
                    self.scan(&d[pos..], &format!("{loc}@{pos}"), depth + 1, r);
                }
                return;
            }
            if pos < d.len() && !pickle::looks_like(&d[pos..]) {
                r.add(
                    "pickle.trailing_data",
                    Severity::Low,
                    &format!("{loc}@{pos}"),
                    format!("{} bytes after the pickle", d.len() - pos),
                );
                self.scan(&d[pos..], &format!("{loc}@{pos}"), depth + 1, r);
                return;
            }
        }
    }

    /// Bytes found inside a pickle (a string or bytes argument, a BINBYTES blob): scanned when
    /// they look like a pickle or an archive, and searched for buried GLOBAL/INST opcodes (a
    /// blob a disassembler skips may still be executed by a loader that reads the stream
    /// differently).
    fn scan_nested(&mut self, b: &[u8], loc: &str, depth: u32, r: &mut Report) {
        let mut sub = Report::default();
        if b.starts_with(sniff::ZIP_LOCAL_HEADER)
            || b.starts_with(sniff::NPY_MAGIC)
            || sniff::compression(b) == Some(Compression::Gzip)
            || sniff::pickle_protocol(b).is_some_and(|p| (2..=5).contains(&p))
        {
            self.scan(b, loc, depth, &mut sub);
        }
        for at in buried_globals(b).into_iter().take(16) {
            let mut ignore = |_: &[u8], _: &str, _: &mut Report| {};
            let mut probe = Report::default();
            pickle::run(
                b,
                at,
                &format!("{loc}+{at}"),
                self.opts.profile,
                self.budget.flat(),
                false,
                depth,
                &mut probe,
                &mut ignore,
            );
            sub.findings.extend(probe.findings);
        }
        let serious: Vec<_> = sub
            .findings
            .into_iter()
            .filter(|f| f.severity >= Severity::High)
            .collect();
        if !serious.is_empty() {
            r.add(
                "pickle.nested_payload",
                Severity::Critical,
                loc,
                "bytes inside the pickle carry a payload of their own",
            );
            for f in serious {
                r.add(&f.rule, f.severity, &f.location, f.message);
            }
        }
    }

    fn scan_zip(&mut self, d: &[u8], loc: &str, depth: u32, r: &mut Report) {
        let zloc = format!("{loc}!zip");
        let central = zip::central(d, &zloc, r);
        let local = zip::walk_local(d);
        let torch = d.starts_with(sniff::ZIP_LOCAL_HEADER);
        let members: Vec<zip::Member> = match &central {
            Some(c) => c.clone(),
            None => {
                r.incomplete(&zloc, "no central directory");
                local.clone()
            }
        };
        // Names compared as torch's case-insensitive lookup compares them.
        let mut seen = std::collections::HashMap::new();
        for m in &members {
            if let Some(prev) = seen.insert(m.name.to_ascii_lowercase(), m.name.clone()) {
                r.add("zip.duplicate_name", Severity::Critical, &zloc, format!("{:?} and {prev:?} are the same name to torch's case-insensitive lookup: loaders disagree on which is read", m.name));
            }
        }
        let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        let is_torch = torch
            && names
                .iter()
                .any(|n| n.to_ascii_lowercase().ends_with("/data.pkl"));
        let is_keras3 = names.contains(&"config.json")
            && names
                .iter()
                .any(|n| n.ends_with(".h5") || *n == "metadata.json");
        r.format(if is_torch {
            "torch-zip"
        } else if is_keras3 {
            "keras"
        } else {
            "zip"
        });
        let mut all = members.clone();
        // Members only a forward walk finds (hidden from the central directory) are scanned too.
        for l in &local {
            if !members.iter().any(|m| m.data_start == l.data_start) {
                r.add(
                    "zip.hidden_member",
                    Severity::High,
                    &zloc,
                    format!("local header {:?} is not in the central directory", l.name),
                );
                all.push(l.clone());
            }
        }
        for m in &all {
            let mloc = format!("{zloc}:{}", m.name);
            let data = match zip::read(d, m, self.opts.limits.max_inflated_bytes) {
                Ok(b) => b,
                Err(e) => {
                    r.add(
                        "zip.unreadable_member",
                        Severity::Medium,
                        &mloc,
                        e.to_string(),
                    );
                    r.incomplete(&mloc, e.to_string());
                    continue;
                }
            };
            if m.central_index.is_some() && zip::crc32(&data) != m.crc {
                r.add("zip.crc_mismatch", Severity::High, &mloc, "CRC-32 does not match the content (torch does not check it; other tools refuse the member)");
            }
            if is_keras3 && (m.name == "config.json" || m.name == "metadata.json") {
                keras::scan_config(&String::from_utf8_lossy(&data), &mloc, r);
                continue;
            }
            let lower = m.name.to_ascii_lowercase();
            // torch never unpickles its raw tensor members.
            if !(is_torch && lower.contains("/data/")) {
                self.scan(&data, &mloc, depth + 1, r);
            }
        }
    }

    /// 7z: every member, unpacked with a size cap. Nothing loads 7z files directly, but a
    /// pickle packed in one is a pickle waiting to be unpacked and loaded.
    fn scan_7z(&mut self, d: &[u8], loc: &str, depth: u32, r: &mut Report) {
        r.format("7z");
        let mut members: Vec<(String, Vec<u8>)> = Vec::new();
        let max = self.opts.limits.max_inflated_bytes;
        let res = sevenz_rust2::ArchiveReader::new_with_memory_limit(
            std::io::Cursor::new(d),
            sevenz_rust2::Password::empty(),
            256 * 1024,
        )
        .and_then(|mut a| {
            let mut total = 0u64;
            a.for_each_entries(|entry, reader| {
                if entry.is_directory() {
                    return Ok(true);
                }
                let mut buf = Vec::new();
                reader.take(max.saturating_add(1)).read_to_end(&mut buf)?;
                total += buf.len() as u64;
                if total > max {
                    return Err(sevenz_rust2::Error::Other(
                        "the archive unpacks beyond the limit".into(),
                    ));
                }
                members.push((entry.name().to_string(), buf));
                Ok(true)
            })
        });
        if let Err(e) = res {
            r.add(
                "archive.unreadable",
                Severity::Medium,
                loc,
                format!("7z archive that cannot be unpacked: {e}"),
            );
            r.incomplete(loc, format!("7z: {e}"));
        }
        for (name, data) in members {
            self.scan(&data, &format!("{loc}!7z:{name}"), depth + 1, r);
        }
    }

    fn scan_npy(&mut self, d: &[u8], loc: &str, depth: u32, r: &mut Report) {
        r.format("numpy");
        let Some(&major) = d.get(6) else {
            return r.incomplete(loc, "truncated .npy header");
        };
        let (len, start) = match major {
            1 => (
                d.get(8..10)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize),
                10,
            ),
            2 | 3 => (
                d.get(8..12)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize),
                12,
            ),
            _ => (None, 0),
        };
        let Some(len) = len else {
            return r.incomplete(loc, "unsupported .npy version");
        };
        let Some(header) = d.get(start..start + len) else {
            return r.incomplete(loc, "truncated .npy header");
        };
        let header = String::from_utf8_lossy(header);
        let Some(descr) = npy_field(&header, "descr") else {
            return r.incomplete(loc, "the .npy header has no descr");
        };
        let body = start + len;
        if has_object(descr) {
            r.add(
                "numpy.object_array",
                Severity::Info,
                loc,
                "object array: its data is a pickle",
            );
            return self.scan_pickles(&d[body..], &format!("{loc}@{body}"), depth + 1, r);
        }
        let shape = npy_field(&header, "shape").map(|s| {
            s.trim_matches(|c| c == '(' || c == ')')
                .split(',')
                .filter(|x| !x.trim().is_empty())
                .map(|x| x.trim().parse::<u64>())
                .collect::<Result<Vec<_>, _>>()
        });
        let itemsize = pickle_itemsize(descr);
        if let (Some(Ok(shape)), Some(size)) = (shape, itemsize) {
            let need = shape.iter().try_fold(size, |a, &x| a.checked_mul(x));
            match need {
                Some(n) if (d.len() - body) as u64 > n => {
                    let at = body + n as usize;
                    r.add(
                        "numpy.trailing_data",
                        Severity::Medium,
                        &format!("{loc}@{at}"),
                        format!("{} bytes after the array", d.len() - at),
                    );
                    self.scan(&d[at..], &format!("{loc}@{at}"), depth + 1, r);
                }
                Some(n) if ((d.len() - body) as u64) < n => {
                    r.incomplete(loc, "the array is shorter than its shape says")
                }
                _ => {}
            }
        }
    }

    fn scan_tar(&mut self, d: &[u8], loc: &str, depth: u32, r: &mut Report) {
        r.format("tar");
        let mut p = 0usize;
        let mut names = Vec::new();
        while p + 512 <= d.len() {
            let h = &d[p..p + 512];
            if h.iter().all(|&b| b == 0) {
                break;
            }
            let name = String::from_utf8_lossy(&h[..100])
                .trim_end_matches('\0')
                .to_string();
            let size_field = String::from_utf8_lossy(&h[124..136])
                .trim_matches(|c: char| c == '\0' || c == ' ')
                .to_string();
            let Ok(size) = usize::from_str_radix(&size_field, 8) else {
                return r.incomplete(loc, format!("bad tar header at {p}"));
            };
            let start = p + 512;
            let Some(body) = d.get(start..start + size) else {
                return r.incomplete(loc, "truncated tar member");
            };
            if h[156] == b'0' || h[156] == 0 {
                names.push(name.clone());
                self.scan(body, &format!("{loc}!tar:{name}"), depth + 1, r);
            }
            p = start + size.div_ceil(512) * 512;
        }
        if names.iter().any(|n| n == "pickle" || n == "storages") {
            r.add(
                "torch.legacy_tar",
                Severity::Medium,
                loc,
                "legacy torch tar checkpoint: torch 2.6+ refuses it under weights_only",
            );
            self.note_wo(false);
        }
    }
}

/// Offsets of `GLOBAL`/`INST` opcodes (`c` or `i`, a module line, a name line) inside bytes.
fn buried_globals(b: &[u8]) -> Vec<usize> {
    let ident = |s: &[u8]| {
        !s.is_empty()
            && s.len() < 256
            && s.iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
            && !s[0].is_ascii_digit()
    };
    let mut out = Vec::new();
    for i in 0..b.len() {
        if b[i] != pickle_op::GLOBAL && b[i] != pickle_op::INST {
            continue;
        }
        let rest = &b[i + 1..];
        let Some(n1) = rest.iter().take(257).position(|&c| c == b'\n') else {
            continue;
        };
        let Some(n2) = rest[n1 + 1..].iter().take(257).position(|&c| c == b'\n') else {
            continue;
        };
        if ident(&rest[..n1]) && ident(&rest[n1 + 1..n1 + 1 + n2]) {
            out.push(i);
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value text of `'key': ...` in a numpy header dict.
fn npy_field<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    // The value ends at the comma that closes it at nesting depth 0.
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for (i, c) in rest.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') if depth == 0 => return Some(rest[..i].trim()),
            (None, ')' | ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => return Some(rest[..i].trim()),
            _ => {}
        }
    }
    None
}

/// Whether a numpy `descr` has objects anywhere (plain, structured or sub-array).
fn has_object(descr: &str) -> bool {
    descr.split(['\'', '"']).skip(1).step_by(2).any(|t| {
        let t = t.trim_start_matches(['<', '>', '|', '=']);
        t == "O" || t.starts_with('O') && t[1..].chars().all(|c| c.is_ascii_digit())
    })
}

fn pickle_itemsize(descr: &str) -> Option<u64> {
    let d = descr.trim().trim_matches('\'');
    let c = d.trim_start_matches(['<', '>', '|', '=']);
    let kind = c.chars().next()?;
    let size: u64 = c.get(1..)?.parse().ok()?;
    match kind {
        'f' | 'i' | 'u' | 'c' | 'b' | 'S' | 'V' | 'm' | 'M' => Some(size),
        'U' => size.checked_mul(4),
        _ => None,
    }
}

/// Skip torch legacy storages: per key, an int64 element count and that many elements.
fn legacy_storages(
    d: &[u8],
    mut pos: usize,
    keys: &[String],
    storages: &[(String, String)],
) -> Result<usize, LegacyStorageError> {
    for key in keys {
        let ty = storages
            .iter()
            .find(|(_, k)| k == key)
            .map(|(t, _)| t.as_str())
            .ok_or_else(|| LegacyStorageError::Untyped(key.clone()))?;
        let elem =
            storage_elem_size(ty).ok_or_else(|| LegacyStorageError::UnknownType(ty.to_string()))?;
        let n = d.get(pos..pos + 8).ok_or(LegacyStorageError::Truncated)?;
        let numel = u64::from_le_bytes(n.try_into().expect("8 bytes"));
        let bytes = numel
            .checked_mul(elem)
            .ok_or(LegacyStorageError::SizeOverflow)?;
        pos = pos
            .checked_add(8 + usize::try_from(bytes).map_err(|_| LegacyStorageError::TooLarge)?)
            .filter(|&e| e <= d.len())
            .ok_or(LegacyStorageError::Truncated)?;
    }
    Ok(pos)
}

fn storage_elem_size(ty: &str) -> Option<u64> {
    let kind = ty.rsplit('.').next()?.strip_suffix("Storage")?;
    Some(match kind {
        "Double" | "Long" | "ComplexFloat" => 8,
        "Float" | "Int" | "QInt32" => 4,
        "Half" | "Short" | "BFloat16" => 2,
        "Char" | "Byte" | "Bool" | "QInt8" | "QUInt8" | "QUInt4x2" | "QUInt2x4" => 1,
        "ComplexDouble" => 16,
        _ => return None,
    })
}

#[cfg(feature = "fuzzing")]
mod fuzz;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use fuzz::{Parser, exercise, fuzz_one};

/// Scan bytes held in memory.
pub fn scan_bytes(name: &str, data: &[u8], opts: &Options) -> FileReport {
    let mut r = Report::default();
    let mut s = Scanner {
        opts: opts.clone(),
        budget: pickle::Budget::from_limits(&opts.limits),
        wo: None,
    };
    s.scan(data, name, 0, &mut r);
    FileReport {
        path: name.to_string(),
        format: r.formats.first().cloned().unwrap_or_else(|| "other".into()),
        verdict: r.verdict(),
        weights_only_loadable: s.wo,
        findings: r.findings,
        incomplete: r.incomplete,
    }
}

/// Scan a file, or every file under a folder (by content, whatever their names).
pub fn scan_path(path: &Path, opts: &Options) -> Vec<FileReport> {
    let mut out = Vec::new();
    walk(path, opts, &mut out);
    out
}

fn walk(path: &Path, opts: &Options, out: &mut Vec<FileReport>) {
    let name = path.display().to_string();
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            out.push(error_report(&name, &e.to_string()));
            return;
        }
    };
    if meta.is_dir() {
        let mut entries: Vec<_> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(e) => {
                out.push(error_report(&name, &e.to_string()));
                return;
            }
        };
        entries.sort();
        for e in entries {
            walk(&e, opts, out);
        }
    } else if meta.is_file() {
        match std::fs::read(path) {
            Ok(data) => out.push(scan_bytes(&name, &data, opts)),
            Err(e) => out.push(error_report(&name, &e.to_string())),
        }
    }
}

fn error_report(name: &str, e: &str) -> FileReport {
    FileReport {
        path: name.to_string(),
        format: "unreadable".into(),
        verdict: Verdict::Incomplete,
        weights_only_loadable: None,
        findings: Vec::new(),
        incomplete: vec![format!("{name}: {e}")],
    }
}

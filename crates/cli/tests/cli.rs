//! End-to-end tests of the `wh` binary on fixtures written by the reference libraries; converted
//! output is read back with the `safetensors` crate (the reference implementation).

mod common;

use common::{hex, ok, wh};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

fn fixtures() -> PathBuf {
    common::fixtures("reference/formats")
}

fn truth() -> serde_json::Map<String, Value> {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("truth.json")).expect("truth"))
        .expect("json")
}

/// name -> (dtype, shape, sha256) of a safetensors file or sharded folder, read by the `safetensors` crate.
fn read_with_reference(dir: &Path) -> BTreeMap<String, (String, Vec<u64>, String)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let p = entry.expect("entry").path();
        if p.extension().is_some_and(|e| e == "safetensors") {
            let bytes = std::fs::read(&p).expect("read");
            let st = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors");
            for (name, view) in st.tensors() {
                let shape = view.shape().iter().map(|&d| d as u64).collect();
                out.insert(
                    name,
                    (
                        format!("{:?}", view.dtype()),
                        shape,
                        hex(&Sha256::digest(view.data())),
                    ),
                );
            }
        }
    }
    out
}

fn expected(entry: &Value) -> BTreeMap<String, (String, Vec<u64>, String)> {
    entry
        .as_object()
        .expect("object")
        .iter()
        .map(|(k, v)| {
            let shape = v["shape"]
                .as_array()
                .expect("shape")
                .iter()
                .map(|d| d.as_u64().expect("dim"))
                .collect();
            (
                k.clone(),
                (
                    v["dtype"].as_str().expect("dtype").into(),
                    shape,
                    v["sha256"].as_str().expect("sha").into(),
                ),
            )
        })
        .collect()
}

#[test]
fn inspect_json_lists_every_tensor_with_digests() {
    let path = fixtures().join("mixed.safetensors");
    let out = ok(&[
        "inspect",
        "--json",
        "--digests",
        path.to_str().expect("path"),
    ]);
    let doc: Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(doc["format"], "safetensors");
    assert_eq!(doc["path"], path.to_str().expect("path"));
    let want = expected(&truth()["mixed.safetensors"]);
    let tensors = doc["tensors"].as_array().expect("tensors");
    assert_eq!(tensors.len(), want.len());
    let mut params = 0;
    for t in tensors {
        let (dtype, shape, sha) = &want[t["name"].as_str().expect("name")];
        assert_eq!(t["dtype"], dtype.as_str());
        assert_eq!(
            &t["shape"]
                .as_array()
                .expect("shape")
                .iter()
                .map(|d| d.as_u64().expect("dim"))
                .collect::<Vec<_>>(),
            shape
        );
        assert_eq!(t["sha256"], sha.as_str());
        assert!(t["bytes"].is_u64() && t["file"].is_string());
        params += shape.iter().product::<u64>();
    }
    assert_eq!(doc["parameters"], params);
}

#[test]
fn inspect_prints_one_object_per_path_and_a_table_for_people() {
    let a = fixtures().join("mixed.safetensors");
    let b = fixtures().join("gpt2_st");
    let out = ok(&[
        "inspect",
        "--json",
        a.to_str().expect("a"),
        b.to_str().expect("b"),
    ]);
    let docs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1]["tensors"].as_array().expect("tensors").len(), 28);
    let table = ok(&["inspect", a.to_str().expect("a")]);
    assert!(table.contains("layer.weight") && table.contains("[16, 8]") && table.contains("total"));
}

#[test]
fn bad_input_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases: &[(&str, &[u8])] = &[
        ("garbage.bin", b"this is not a checkpoint"),
        (
            "truncated.safetensors",
            b"\x40\x00\x00\x00\x00\x00\x00\x00{\"a\":",
        ),
        ("empty", b""),
    ];
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).expect("write");
        let out = wh(&["inspect", p.to_str().expect("p")]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name), "{name}: {err}");
    }
    let out = wh(&["inspect", "/no/such/file"]);
    assert_eq!(out.status.code(), Some(2));
    let dst = dir.path().join("out");
    let out = wh(&["convert", "/no/such/file", dst.to_str().expect("dst")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file"));
}

#[test]
fn convert_preserves_bytes_for_every_fixture() {
    let truth = truth();
    for (key, entry) in &truth {
        let dir = tempfile::tempdir().expect("tmp");
        let src = fixtures().join(key);
        let out = wh(&[
            "-q",
            "convert",
            src.to_str().expect("src"),
            dir.path().to_str().expect("dst"),
        ]);
        let want = expected(entry);
        if want.values().any(|(d, _, _)| d.starts_with('Q')) {
            // Quantised GGUF blocks need --dtype; a clear error, and nothing written.
            assert_eq!(out.status.code(), Some(2), "{key}");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("--dtype"),
                "{key}"
            );
            assert_eq!(
                std::fs::read_dir(dir.path()).expect("dir").count(),
                0,
                "{key}: partial output left"
            );
            continue;
        }
        assert!(
            out.status.success(),
            "{key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(read_with_reference(dir.path()), want, "{key}");
    }
}

#[test]
fn convert_shards_like_transformers() {
    let dir = tempfile::tempdir().expect("tmp");
    let src = fixtures().join("gpt2_st");
    ok(&[
        "-q",
        "convert",
        "--max-shard-size",
        "40KB",
        src.to_str().expect("src"),
        dir.path().to_str().expect("dst"),
    ]);
    let index: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("model.safetensors.index.json")).expect("index"),
    )
    .expect("json");
    let map = index["weight_map"].as_object().expect("weight_map");
    assert_eq!(map.len(), 28);
    let shards: std::collections::BTreeSet<&str> =
        map.values().map(|v| v.as_str().expect("name")).collect();
    assert!(shards.len() >= 3, "{shards:?}");
    let n = shards.len();
    for (k, s) in shards.iter().enumerate() {
        assert_eq!(*s, format!("model-{:05}-of-{n:05}.safetensors", k + 1));
    }
    let total: u64 = read_with_reference(dir.path())
        .values()
        .map(|(_, shape, _)| shape.iter().product::<u64>() * 4)
        .sum();
    assert_eq!(index["metadata"]["total_size"], total);
    // The sharded output reads back as the same checkpoint.
    assert_eq!(
        read_with_reference(dir.path()),
        expected(&truth()["gpt2_st"])
    );
    for (name, shard) in map {
        let bytes = std::fs::read(dir.path().join(shard.as_str().expect("shard"))).expect("shard");
        let st = safetensors::SafeTensors::deserialize(&bytes).expect("shard");
        assert!(st.tensor(name).is_ok(), "{name} not in {shard}");
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).expect("header");
        let meta = meta.metadata().clone().unwrap_or_default();
        assert_eq!(meta.get("format").map(String::as_str), Some("pt"));
    }
}

#[test]
fn convert_dtype_rounds_to_nearest_even() {
    let dir = tempfile::tempdir().expect("tmp");
    let src = fixtures().join("mixed.safetensors");
    let src_bytes = std::fs::read(&src).expect("src");
    let original = safetensors::SafeTensors::deserialize(&src_bytes).expect("src");
    for (flag, dtype) in [
        ("bf16", safetensors::Dtype::BF16),
        ("f16", safetensors::Dtype::F16),
    ] {
        let dst = dir.path().join(format!("{flag}.safetensors"));
        ok(&[
            "-q",
            "convert",
            "--dtype",
            flag,
            src.to_str().expect("src"),
            dst.to_str().expect("dst"),
        ]);
        let bytes = std::fs::read(&dst).expect("dst");
        let st = safetensors::SafeTensors::deserialize(&bytes).expect("converted");
        for (name, view) in original.tensors() {
            let got = st.tensor(&name).expect("tensor");
            let floats = matches!(
                view.dtype(),
                safetensors::Dtype::F32
                    | safetensors::Dtype::F64
                    | safetensors::Dtype::F16
                    | safetensors::Dtype::BF16
                    | safetensors::Dtype::F8_E4M3
            );
            if !floats {
                assert_eq!(
                    got.dtype(),
                    view.dtype(),
                    "{name}: non-float tensors keep their dtype"
                );
                assert_eq!(got.data(), view.data(), "{name}");
                continue;
            }
            assert_eq!(got.dtype(), dtype, "{name}");
            if view.dtype() != safetensors::Dtype::F32 {
                continue;
            }
            let want: Vec<u8> = view
                .data()
                .chunks_exact(4)
                .flat_map(|c| {
                    let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    if flag == "bf16" {
                        half::bf16::from_f32(x).to_le_bytes()
                    } else {
                        half::f16::from_f32(x).to_le_bytes()
                    }
                })
                .collect();
            assert_eq!(got.data(), want.as_slice(), "{name}");
        }
    }
}

#[test]
fn convert_refuses_to_overwrite_and_leaves_nothing_on_failure() {
    let dir = tempfile::tempdir().expect("tmp");
    let src = fixtures().join("mixed.safetensors");
    let dst = dir.path().join("out.safetensors");
    ok(&[
        "-q",
        "convert",
        src.to_str().expect("src"),
        dst.to_str().expect("dst"),
    ]);
    let out = wh(&[
        "-q",
        "convert",
        src.to_str().expect("src"),
        dst.to_str().expect("dst"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    ok(&[
        "-q",
        "convert",
        "--force",
        src.to_str().expect("src"),
        dst.to_str().expect("dst"),
    ]);

    let bad = dir.path().join("bad.safetensors");
    let mut bytes = std::fs::read(&src).expect("src");
    bytes.truncate(bytes.len() - 10);
    std::fs::write(&bad, bytes).expect("write");
    let out_dir = dir.path().join("out");
    let out = wh(&[
        "-q",
        "convert",
        bad.to_str().expect("bad"),
        out_dir.to_str().expect("dst"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!out_dir.exists() || std::fs::read_dir(&out_dir).expect("dir").count() == 0);
}

fn repo_fixtures() -> PathBuf {
    common::fixtures("")
}

/// Quantised GGUF tensors, read by our GGUF reader and dequantised, match gguf-py's
/// `gguf.quants.dequantize` (the digests its generator recorded).
#[test]
fn gguf_dequantisation_matches_gguf_py() {
    let dir = repo_fixtures().join("gguf");
    let truth: Value =
        serde_json::from_slice(&std::fs::read(dir.join("truth.json")).expect("truth"))
            .expect("json");
    let ck = weighhouse_formats::Checkpoint::open(dir.join("types.gguf")).expect("types.gguf");
    let mut checked = 0;
    for (name, t) in truth["types.gguf"]["tensors"].as_object().expect("tensors") {
        let Some(want) = t.get("dequant_sha256").and_then(Value::as_str) else {
            continue;
        };
        let view = ck.get(name).expect("tensor");
        if !weighhouse_ops::dequant::is_supported(view.dtype) {
            continue;
        }
        let mut values = Vec::new();
        weighhouse_ops::dequant::dequantize(
            view.dtype,
            &ck.tensor_bytes(view).expect("bytes"),
            &mut values,
        )
        .expect("dequantize");
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            hex(&Sha256::digest(&bytes)),
            want,
            "{name} ({})",
            view.dtype
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} quantised tensors checked");
}

#[test]
fn convert_dequantises_gguf_with_dtype_and_names_what_it_cannot() {
    let dir = tempfile::tempdir().expect("tmp");
    let src = fixtures().join("tiny.gguf");
    let dst = dir.path().join("out.safetensors");
    ok(&[
        "-q",
        "convert",
        "--dtype",
        "f32",
        src.to_str().expect("src"),
        dst.to_str().expect("dst"),
    ]);
    let bytes = std::fs::read(&dst).expect("dst");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("output");
    let ck = weighhouse_formats::Checkpoint::open(&src).expect("src");
    for t in &ck.tensors {
        let got = st.tensor(&t.name).expect("tensor");
        assert_eq!(got.dtype(), safetensors::Dtype::F32, "{}", t.name);
        assert_eq!(
            got.shape().iter().map(|&d| d as u64).collect::<Vec<_>>(),
            t.shape,
            "{}",
            t.name
        );
    }
    // Types without a dequantiser are refused by name, and nothing is written.
    let out = dir.path().join("refused");
    let res = wh(&[
        "-q",
        "convert",
        "--dtype",
        "f16",
        repo_fixtures()
            .join("gguf/types.gguf")
            .to_str()
            .expect("src"),
        out.to_str().expect("dst"),
    ]);
    assert_eq!(res.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&res.stderr).contains("IQ"),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(!out.exists() || std::fs::read_dir(&out).expect("dir").count() == 0);
}

#[test]
fn convert_preserves_tensorflow_and_keras_weights() {
    let truth: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("truth_tf.json")).expect("truth"),
    )
    .expect("json");
    let dir = tempfile::tempdir().expect("tmp");
    let tf = dir.path().join("tf");
    ok(&[
        "-q",
        "convert",
        fixtures().join("tfckpt/ckpt").to_str().expect("src"),
        tf.to_str().expect("dst"),
    ]);
    assert_eq!(read_with_reference(&tf), expected(&truth["tfckpt/ckpt"]));
    let want = expected(&truth["keras_weights"]);
    for (k, src) in ["model.keras", "model.weights.h5", "legacy_model.h5"]
        .iter()
        .enumerate()
    {
        let out = dir.path().join(format!("keras{k}"));
        ok(&[
            "-q",
            "convert",
            fixtures().join(src).to_str().expect("src"),
            out.to_str().expect("dst"),
        ]);
        let mut pool: Vec<_> = read_with_reference(&out).into_values().collect();
        for (name, w) in &want {
            let at = pool
                .iter()
                .position(|g| g == w)
                .unwrap_or_else(|| panic!("{src}: {name} missing"));
            pool.remove(at);
        }
    }
}

#[test]
fn scan_exit_codes_json_and_sarif() {
    // The scan corpus sits beside the format fixtures.
    let scan = fixtures()
        .parent()
        .expect("fixtures have a parent")
        .join("scan");
    let bad = scan.join("malicious/m01_p0_global_posix_system.pkl");
    let good = scan.join("benign/b17_pt_zip_state_dict.pt");
    let (bad, good) = (bad.to_str().unwrap(), good.to_str().unwrap());

    // Clean file: exit 0; unsafe file: exit 1; missing file or bad flag: exit 2.
    assert_eq!(wh(&["scan", good]).status.code(), Some(0));
    assert_eq!(wh(&["scan", bad]).status.code(), Some(1));
    assert_eq!(
        wh(&["scan", "/nonexistent/model.bin"]).status.code(),
        Some(2)
    );
    assert_eq!(
        wh(&["scan", "--fail-on", "severe", good]).status.code(),
        Some(2)
    );
    // The payload is critical, so a `--fail-on critical` run still fails; info findings do not.
    assert_eq!(
        wh(&["scan", "--fail-on", "critical", bad]).status.code(),
        Some(1)
    );

    let out = wh(&["scan", "--json", bad, good]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["verdict"], "unsafe");
    assert_eq!(files[1]["verdict"], "safe");
    assert_eq!(files[1]["weights_only_loadable"], true);
    let f = &files[0]["findings"][0];
    for key in ["rule", "severity", "message", "location"] {
        assert!(f[key].is_string(), "finding lacks {key}: {f}");
    }
    assert!(f["message"].as_str().unwrap().contains("posix.system"));

    let out = wh(&["scan", "--sarif", bad]);
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let result = &s["runs"][0]["results"][0];
    assert_eq!(result["level"], "error");
    assert!(
        s["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == result["ruleId"])
    );
    assert!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with(".pkl")
    );
}

//! The non-pickle format scanners (Keras, SavedModel, GGUF, ONNX, safetensors) through the
//! public entry points: the corpus files of these formats, and synthetic files built here.

use std::path::PathBuf;

use weighhouse_scan::{FileReport, Options, Severity, Verdict, scan_bytes, scan_path};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/reference/scan")
}

fn verdict(reports: &[FileReport]) -> Verdict {
    if reports.iter().any(|r| r.verdict == Verdict::Unsafe) {
        Verdict::Unsafe
    } else if reports.iter().any(|r| r.verdict == Verdict::Incomplete) {
        Verdict::Incomplete
    } else {
        Verdict::Safe
    }
}

fn serious_rules(reports: &[FileReport]) -> Vec<String> {
    reports
        .iter()
        .flat_map(|r| r.findings.iter())
        .filter(|f| f.severity >= Severity::High)
        .map(|f| f.rule.clone())
        .collect()
}

#[test]
fn corpus_files_of_these_formats() {
    let root = corpus();
    let cases: &[(&str, Option<&str>)] = &[
        ("malicious/m51_h5_lambda_toplevel.h5", Some("keras.lambda")),
        (
            "malicious/m52_h5_lambda_nested_submodel.h5",
            Some("keras.lambda"),
        ),
        ("malicious/m53_hdf5_ext_lambda.hdf5", Some("keras.lambda")),
        ("malicious/m54_keras3_lambda.keras", Some("keras.lambda")),
        (
            "malicious/m55_keras3_lambda_in_timedistributed.keras",
            Some("keras.lambda"),
        ),
        (
            "malicious/m56_keras3_module_function_ref.keras",
            Some("keras.module_reference"),
        ),
        (
            "malicious/m57_savedmodel_readfile_in_function",
            Some("tf.dangerous_op"),
        ),
        (
            "malicious/m58_savedmodel_printv2_file_write",
            Some("tf.dangerous_op"),
        ),
        (
            "malicious/m59_gguf_chat_template_ssti.gguf",
            Some("gguf.template_injection"),
        ),
        (
            "malicious/m60_onnx_external_data_traversal.onnx",
            Some("onnx.external_data_escape"),
        ),
        ("benign/b34_h5_keras_dense.h5", None),
        ("benign/b35_h5_weights_only.h5", None),
        ("benign/b36_keras3_dense.keras", None),
        ("benign/b37_savedmodel_matmul", None),
        ("benign/b38_gguf_chatml.gguf", None),
        ("benign/b39_onnx_matmul.onnx", None),
        ("benign/b40_safetensors.safetensors", None),
        ("benign/b52_gguf_no_template.gguf", None),
    ];
    let mut failures = Vec::new();
    for (path, rule) in cases {
        let reports = scan_path(&root.join(path), &Options::default());
        let v = verdict(&reports);
        let rules = serious_rules(&reports);
        match rule {
            Some(rule) => {
                if v != Verdict::Unsafe || !rules.iter().any(|r| r == rule) {
                    failures.push(format!("{path}: {v:?}, rules {rules:?}, expected {rule}"));
                }
            }
            None => {
                let findings: Vec<_> = reports.iter().flat_map(|r| &r.findings).collect();
                if v != Verdict::Safe || !rules.is_empty() {
                    failures.push(format!("{path}: {v:?}: {findings:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Builders.

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip archive of STORED members.
fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let len = data.len() as u32;
        let mut common = Vec::new();
        common.extend(20u16.to_le_bytes()); // version needed
        common.extend(0u16.to_le_bytes()); // flags
        common.extend(0u16.to_le_bytes()); // stored
        common.extend(0u32.to_le_bytes()); // time, date
        common.extend(crc.to_le_bytes());
        common.extend(len.to_le_bytes());
        common.extend(len.to_le_bytes());
        common.extend((name.len() as u16).to_le_bytes());
        common.extend(0u16.to_le_bytes()); // extra
        out.extend(b"PK\x03\x04");
        out.extend(&common);
        out.extend(name.as_bytes());
        out.extend(*data);
        central.extend(b"PK\x01\x02");
        central.extend(20u16.to_le_bytes()); // version made by
        central.extend(&common);
        central.extend(0u16.to_le_bytes()); // comment
        central.extend(0u16.to_le_bytes()); // disk
        central.extend(0u16.to_le_bytes()); // internal attributes
        central.extend(0u32.to_le_bytes()); // external attributes
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend(&central);
    out.extend(b"PK\x05\x06");
    out.extend(0u16.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

fn keras3(config: &str) -> Vec<u8> {
    zip(&[
        (
            "metadata.json",
            br#"{"keras_version": "3.8.0", "date_saved": "2025-01-01@00:00:00"}"#,
        ),
        ("config.json", config.as_bytes()),
    ])
}

fn gguf(kvs: &[(&str, &str)]) -> Vec<u8> {
    let mut v = b"GGUF".to_vec();
    v.extend(3u32.to_le_bytes());
    v.extend(0u64.to_le_bytes());
    v.extend((kvs.len() as u64).to_le_bytes());
    for (k, s) in kvs {
        v.extend((k.len() as u64).to_le_bytes());
        v.extend(k.as_bytes());
        v.extend(8u32.to_le_bytes());
        v.extend((s.len() as u64).to_le_bytes());
        v.extend(s.as_bytes());
    }
    v
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn fv(n: u32, v: u64) -> Vec<u8> {
    let mut o = Vec::new();
    varint(u64::from(n) << 3, &mut o);
    varint(v, &mut o);
    o
}

fn fl(n: u32, body: &[u8]) -> Vec<u8> {
    let mut o = Vec::new();
    varint((u64::from(n) << 3) | 2, &mut o);
    varint(body.len() as u64, &mut o);
    o.extend_from_slice(body);
    o
}

fn scan(name: &str, data: &[u8]) -> FileReport {
    scan_bytes(name, data, &Options::default())
}

fn has_rule(r: &FileReport, rule: &str) -> bool {
    r.findings
        .iter()
        .any(|f| f.rule == rule && f.severity >= Severity::High)
}

// ---------------------------------------------------------------------------------------------
// Synthetic files.

#[test]
fn keras3_lambda_three_levels_deep() {
    let cfg = r#"{"module": "keras", "class_name": "Functional", "config": {"name": "outer", "layers": [
        {"module": "keras.layers", "class_name": "Bidirectional", "config": {"name": "bi", "forward_layer":
          {"module": "keras", "class_name": "Sequential", "config": {"name": "mid", "layers": [
            {"module": "keras.layers", "class_name": "TimeDistributed", "config": {"name": "td", "layer":
              {"module": "keras.layers", "class_name": "Lambda", "config": {"name": "deep", "function":
                {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA", "defaults": null, "closure": null}}}}}}]}}}}]}}"#;
    let r = scan("nested.keras", &keras3(cfg));
    assert_eq!(r.verdict, Verdict::Unsafe, "{r:?}");
    assert!(has_rule(&r, "keras.lambda"), "{r:?}");
    assert!(
        r.findings
            .iter()
            .any(|f| f.location.contains("!layer:deep")),
        "{r:?}"
    );
}

#[test]
fn keras3_module_reference_and_benign_dense() {
    let evil = r#"{"module": "keras", "class_name": "Sequential", "config": {"name": "m", "layers": [{"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "units": 1, "activation": {"module": "subprocess", "class_name": "function", "config": "check_output", "registered_name": null}}, "registered_name": null}]}, "registered_name": null}"#;
    let r = scan("evil.keras", &keras3(evil));
    assert_eq!(r.verdict, Verdict::Unsafe, "{r:?}");
    assert!(has_rule(&r, "keras.module_reference"), "{r:?}");

    let benign = r#"{"module": "keras", "class_name": "Sequential", "config": {"name": "m", "layers": [{"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "units": 1, "activation": {"module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": "relu"}}, "registered_name": null}]}, "registered_name": null}"#;
    let r = scan("ok.keras", &keras3(benign));
    assert_eq!(r.verdict, Verdict::Safe, "{r:?}");
}

#[test]
fn gguf_chat_templates() {
    let r = scan(
        "t.gguf",
        &gguf(&[("tokenizer.chat_template", "{{ ''.__class__.__mro__ }}")]),
    );
    assert_eq!(r.verdict, Verdict::Unsafe, "{r:?}");
    assert!(has_rule(&r, "gguf.template_injection"));

    let r = scan(
        "t.gguf",
        &gguf(&[("tokenizer.chat_template", "{{ x[('__cla' ~ 'ss__')] }}")]),
    );
    assert_eq!(r.verdict, Verdict::Unsafe, "{r:?}");

    let chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    let r = scan("t.gguf", &gguf(&[("tokenizer.chat_template", chatml)]));
    assert_eq!(r.verdict, Verdict::Safe, "{r:?}");
    assert!(r.findings.is_empty(), "{r:?}");
}

fn onnx_with_location(location: &str) -> Vec<u8> {
    let entry = [fl(1, b"location"), fl(2, location.as_bytes())].concat();
    let tensor = [fv(1, 2), fv(2, 1), fl(8, b"W"), fl(13, &entry), fv(14, 1)].concat();
    let node = [fl(1, b"X"), fl(1, b"W"), fl(2, b"Y"), fl(4, b"MatMul")].concat();
    let graph = [fl(1, &node), fl(2, b"g"), fl(5, &tensor)].concat();
    [
        fv(1, 8),
        fl(7, &graph),
        fl(8, &[fl(1, b""), fv(2, 17)].concat()),
    ]
    .concat()
}

#[test]
fn onnx_external_data() {
    let r = scan("m.onnx", &onnx_with_location("../../etc/passwd"));
    assert_eq!(r.verdict, Verdict::Unsafe, "{r:?}");
    assert!(has_rule(&r, "onnx.external_data_escape"), "{r:?}");

    let r = scan("m.onnx", &onnx_with_location("weights/W.bin"));
    assert_eq!(r.verdict, Verdict::Safe, "{r:?}");
}

fn node(name: &str, op: &str, inputs: &[&str], attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut n = [fl(1, name.as_bytes()), fl(2, op.as_bytes())].concat();
    for i in inputs {
        n.extend(fl(3, i.as_bytes()));
    }
    for a in attrs {
        n.extend(a);
    }
    n
}

fn attr_f(key: &str, f: &str) -> Vec<u8> {
    fl(
        5,
        &[fl(1, key.as_bytes()), fl(2, &fl(10, &fl(1, f.as_bytes())))].concat(),
    )
}

fn function(name: &str, args: &[&str], nodes: &[Vec<u8>]) -> Vec<u8> {
    let mut sig = fl(1, name.as_bytes());
    for a in args {
        sig.extend(fl(2, &fl(1, a.as_bytes())));
    }
    let mut f = fl(1, &sig);
    for n in nodes {
        f.extend(fl(3, n));
    }
    f
}

/// A TF 2-style SavedModel: a Relu serving graph and the saver (graph call nodes plus the traced
/// restore function), with `extra` added to the restore function.
fn savedmodel(extra: &[Vec<u8>]) -> Vec<u8> {
    let nodes = [
        node("x", "Placeholder", &[], &[]),
        node("y", "Relu", &["x"], &[]),
        node("saver_filename", "Placeholder", &[], &[]),
        node(
            "StatefulPartitionedCall_2",
            "StatefulPartitionedCall",
            &["saver_filename"],
            &[attr_f("f", "__inference__traced_restore_7")],
        ),
    ];
    let mut restore_nodes = vec![
        node(
            "RestoreV2",
            "RestoreV2",
            &["file_prefix", "names", "slices"],
            &[],
        ),
        node("Identity", "Identity", &["RestoreV2:tensors:0"], &[]),
    ];
    restore_nodes.extend_from_slice(extra);
    let restore = function(
        "__inference__traced_restore_7",
        &["file_prefix"],
        &restore_nodes,
    );
    let mut graph = Vec::new();
    for n in &nodes {
        graph.extend(fl(1, n));
    }
    graph.extend(fl(2, &fl(1, &restore)));
    let saver = [
        fl(1, b"saver_filename:0"),
        fl(2, b"StatefulPartitionedCall_1:0"),
        fl(3, b"StatefulPartitionedCall_2"),
    ]
    .concat();
    let outputs = fl(2, &[fl(1, b"y"), fl(2, &fl(1, b"y:0"))].concat());
    let sig = fl(5, &[fl(1, b"serving_default"), fl(2, &outputs)].concat());
    let mg = [fl(1, &fl(4, b"serve")), fl(2, &graph), fl(3, &saver), sig].concat();
    [fv(1, 1), fl(2, &mg)].concat()
}

#[test]
fn savedmodel_saver_and_file_ops() {
    let r = scan("saved_model.pb", &savedmodel(&[]));
    assert_eq!(r.verdict, Verdict::Safe, "{r:?}");
    assert!(r.findings.is_empty(), "{r:?}");

    let r = scan(
        "saved_model.pb",
        &savedmodel(&[node("leak", "ReadFile", &["file_prefix"], &[])]),
    );
    assert_eq!(r.verdict, Verdict::Unsafe, "{r:?}");
    assert!(has_rule(&r, "tf.dangerous_op"), "{r:?}");

    // The same restore op fed a constant path instead of the saver's filename.
    let r = scan(
        "saved_model.pb",
        &savedmodel(&[node("again", "RestoreV2", &["const_path", "n", "s"], &[])]),
    );
    assert_eq!(r.verdict, Verdict::Unsafe, "{r:?}");
}

#[test]
fn safetensors_polyglot_tail() {
    let header = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend(header.as_bytes());
    f.extend([0u8; 8]);
    let r = scan("m.safetensors", &f);
    assert_eq!(r.verdict, Verdict::Safe, "{r:?}");
    f.extend(b"\x80\x02cos\nsystem\n.");
    let r = scan("m.safetensors", &f);
    assert_eq!(r.verdict, Verdict::Unsafe, "{r:?}");
}

/// HDF5 may start after a user block (512, 1024, ... bytes), where h5py and Keras find it: such a
/// file is scanned as HDF5 too, even when its first bytes are something else (here a pickle), so
/// a polyglot cannot hide a Lambda layer behind a harmless first format.
#[test]
fn hdf5_after_a_user_block_is_scanned_as_hdf5() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let benign = std::fs::read(fixtures.join("keras/userblock.weights.h5")).expect("fixture");
    let r = scan_bytes("userblock.weights.h5", &benign, &Options::default());
    assert_eq!(r.verdict, Verdict::Safe, "{r:?}");
    assert!(r.format.contains("hdf5"), "{}", r.format);

    let model =
        std::fs::read(corpus().join("malicious/m51_h5_lambda_toplevel.h5")).expect("corpus");
    let mut polyglot = b"\x80\x02}q\x00.".to_vec();
    polyglot.resize(512, 0);
    polyglot.extend_from_slice(&model);
    let r = scan_bytes("polyglot.pkl", &polyglot, &Options::default());
    assert_eq!(r.verdict, Verdict::Unsafe, "{r:?}");
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule == "keras.lambda" && f.severity == Severity::Critical),
        "{:?}",
        r.findings
    );
}

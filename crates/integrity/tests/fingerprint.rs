//! Fingerprints: format-, sharding- and order-independent, sensitive to every element.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, serialize_to_file, tensor::TensorView};
use weighhouse_integrity::fingerprint;

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn bf16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| half::bf16::from_f32(*x).to_le_bytes())
        .collect()
}

fn save(
    path: &Path,
    tensors: &[(&str, Dtype, Vec<usize>, &[u8])],
    meta: Option<HashMap<String, String>>,
) {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    serialize_to_file(views, meta, path).unwrap();
}

#[test]
fn same_weights_same_fingerprint_whatever_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    // Values exactly representable in bf16.
    let a: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 2.0).collect();
    let b: Vec<f32> = (0..6).map(|i| (i as f32) * 4.0).collect();
    let (ab, bb) = (f32_bytes(&a), f32_bytes(&b));

    let one = dir.path().join("one.safetensors");
    save(
        &one,
        &[
            ("w.a", Dtype::F32, vec![3, 4], &ab),
            ("w.b", Dtype::F32, vec![6], &bb),
        ],
        None,
    );

    // The same tensors in another order, split over two shards with an index and metadata.
    let sharded = dir.path().join("sharded");
    std::fs::create_dir(&sharded).unwrap();
    save(
        &sharded.join("model-00001-of-00002.safetensors"),
        &[("w.b", Dtype::F32, vec![6], &bb)],
        Some(HashMap::from([("format".into(), "pt".into())])),
    );
    save(
        &sharded.join("model-00002-of-00002.safetensors"),
        &[("w.a", Dtype::F32, vec![3, 4], &ab)],
        None,
    );
    std::fs::write(
        sharded.join("model.safetensors.index.json"),
        r#"{"metadata": {"total_size": 72}, "weight_map": {"w.a": "model-00002-of-00002.safetensors", "w.b": "model-00001-of-00002.safetensors"}}"#,
    )
    .unwrap();

    let f1 = fingerprint::of_path(&one, 2).unwrap();
    let f2 = fingerprint::of_path(&sharded, 2).unwrap();
    assert!(f1.exact.starts_with("wfp1:") && f1.f32.starts_with("wfp1-f32:"));
    assert_eq!(f1.exact, f2.exact);
    assert_eq!(f1.f32, f2.f32);
    assert_eq!((f1.tensors, f1.parameters), (2, 18));

    // One element changed.
    let mut a2 = a.clone();
    a2[7] += 0.5;
    let changed = dir.path().join("changed.safetensors");
    save(
        &changed,
        &[
            ("w.a", Dtype::F32, vec![3, 4], &f32_bytes(&a2)),
            ("w.b", Dtype::F32, vec![6], &bb),
        ],
        None,
    );
    assert_ne!(fingerprint::of_path(&changed, 1).unwrap().exact, f1.exact);

    // Same values, other shape.
    let reshaped = dir.path().join("reshaped.safetensors");
    save(
        &reshaped,
        &[
            ("w.a", Dtype::F32, vec![4, 3], &ab),
            ("w.b", Dtype::F32, vec![6], &bb),
        ],
        None,
    );
    assert_ne!(fingerprint::of_path(&reshaped, 1).unwrap().exact, f1.exact);

    // A bf16 copy: another exact fingerprint, the same f32 variant.
    let bf = dir.path().join("bf16.safetensors");
    let (abf, bbf) = (bf16_bytes(&a), bf16_bytes(&b));
    save(
        &bf,
        &[
            ("w.a", Dtype::BF16, vec![3, 4], &abf),
            ("w.b", Dtype::BF16, vec![6], &bbf),
        ],
        None,
    );
    let fb = fingerprint::of_path(&bf, 2).unwrap();
    assert_ne!(fb.exact, f1.exact);
    assert_eq!(fb.f32, f1.f32);
}

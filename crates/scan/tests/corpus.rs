//! `wh scan` on the scan corpus: every malicious file (each confirmed to run its payload under
//! CPython's real unpickler or its real loader) is unsafe, every benign file safe, and the
//! finding names what the manifest says the payload uses.

use std::path::PathBuf;

use serde_json::Value;
use weighhouse_scan::{Options, Severity, Verdict, scan_path};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/reference/scan")
}

#[test]
fn every_malicious_file_is_unsafe_and_every_benign_file_safe() {
    let root = corpus();
    let manifest: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(root.join("manifest.json")).expect("the corpus manifest exists"),
    )
    .unwrap();
    assert!(
        manifest.len() >= 100,
        "corpus has {} entries",
        manifest.len()
    );
    let mut failures = Vec::new();
    for e in &manifest {
        let path = root.join(e["path"].as_str().unwrap());
        let reports = scan_path(&path, &Options::default());
        let malicious = e["label"] == "malicious";
        let verdict = if reports.iter().any(|r| r.verdict == Verdict::Unsafe) {
            Verdict::Unsafe
        } else if reports.iter().any(|r| r.verdict == Verdict::Incomplete) {
            Verdict::Incomplete
        } else {
            Verdict::Safe
        };
        let want = if malicious {
            Verdict::Unsafe
        } else {
            Verdict::Safe
        };
        if verdict != want {
            failures.push(format!(
                "{}: {verdict:?}, expected {want:?}: {:?}",
                e["id"],
                reports
                    .iter()
                    .flat_map(|r| r
                        .findings
                        .iter()
                        .filter(|f| f.severity >= Severity::Medium)
                        .map(|f| &f.message))
                    .collect::<Vec<_>>()
            ));
            continue;
        }
        if malicious {
            // The serious findings name the payload's parts (module and callable, op, template...).
            let text: String = reports
                .iter()
                .flat_map(|r| {
                    r.findings
                        .iter()
                        .filter(|f| f.severity >= Severity::High)
                        .map(|f| format!("{} {}", f.message, f.location))
                })
                .collect::<Vec<_>>()
                .join("\n")
                .to_lowercase();
            for part in e["expect"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                let part = part.as_str().unwrap().to_lowercase();
                if !["keras", "tf", "jinja", "onnx"].contains(&part.as_str())
                    && !text.contains(&part)
                {
                    failures.push(format!(
                        "{}: no high finding mentions {part:?}: {text}",
                        e["id"]
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files wrong:\n{}",
        failures.len(),
        manifest.len(),
        failures.join("\n")
    );
}

#[test]
fn strict_profile_refuses_what_weights_only_refuses() {
    let root = corpus();
    let strict = Options {
        profile: weighhouse_scan::Profile::Strict,
        ..Options::default()
    };
    // numpy arrays need weights_only=False: fine in the default profile, not in the strict one.
    let f = root.join("benign/b11_numpy_arrays_p4.pkl");
    assert_eq!(scan_path(&f, &Options::default())[0].verdict, Verdict::Safe);
    assert_eq!(scan_path(&f, &strict)[0].verdict, Verdict::Unsafe);
    // A plain state dict loads with weights_only=True.
    let sd = root.join("benign/b17_pt_zip_state_dict.pt");
    let r = &scan_path(&sd, &strict)[0];
    assert_eq!(r.verdict, Verdict::Safe);
    assert_eq!(r.weights_only_loadable, Some(true));
}

//! OMS manifests and bundles: the reference tool's test vector, round trips on every curve, and
//! every way a model can fail to match its signature.

use std::path::Path;

use base64::Engine;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::Value;
use weighhouse_integrity::keys::{SigningKey, VerifyingKey};
use weighhouse_integrity::manifest::{self, Options};
use weighhouse_integrity::oms::{self, Signer, Trust, VerifyError, VerifyOptions};

/// The model tree of the OMS reference's worked example (specs/oms-signing.md §3.2).
fn example_tree(root: &Path) {
    let w = |p: &str, c: &[u8]| {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, c).unwrap();
    };
    w("config.json", b"hello world\n");
    w("empty.bin", b"");
    w(
        "weights.bin",
        &(0..=255u8).cycle().take(4096).collect::<Vec<_>>(),
    );
    w("B.txt", b"B\n");
    w("a/z.txt", b"z\n");
    w("a-b.txt", b"ab\n");
    w("a.b/c.txt", b"dot dir file\n");
    w("caf\u{e9}.txt", b"unicode name\n");
    w("sub/tokenizer.txt", b"nested\n");
    w("sub/deeper/x.safetensors", b"deep\n");
    w("sub/.gitignore", b"sub gitignore\n");
    w(".git/HEAD", b"ref: refs/heads/main\n");
    w(".gitattributes", b"*.bin filter=lfs\n");
    w("README.md", b"ignored by flag\n");
}

fn opts(ignore: &[&str]) -> Options {
    Options {
        ignore: ignore.iter().map(|s| s.to_string()).collect(),
        ignore_git: true,
        allow_symlinks: false,
    }
}

#[test]
fn manifest_matches_the_reference_test_vector() {
    let dir = tempfile::tempdir().unwrap();
    example_tree(dir.path());
    let entries = manifest::enumerate(dir.path(), &opts(&["README.md"])).unwrap();
    let m = manifest::hash_entries(&entries, 2, &|_| {}).unwrap();
    let names: Vec<&str> = m.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "B.txt",
            "a/z.txt",
            "a-b.txt",
            "a.b/c.txt",
            "caf\u{e9}.txt",
            "config.json",
            "empty.bin",
            "sub/.gitignore",
            "sub/deeper/x.safetensors",
            "sub/tokenizer.txt",
            "weights.bin"
        ]
    );
    // Root digest published with the reference implementation's worked example.
    assert_eq!(
        hex::encode(m.root()),
        "d871896ffd162069b7251bcf4539b6ff6a4738b03ae57a694f71831c84aa3aec"
    );
    assert_eq!(
        hex::encode(m.resources[10].digest),
        "c8f5d0341d54d951a71b136e6e2afcb14d11ed8489a7ae126a8fee0df6ecf193"
    );
}

fn keys() -> Vec<(SigningKey, VerifyingKey)> {
    let pems = [
        p256::SecretKey::from_slice(&[0x11; 32])
            .unwrap()
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap()
            .to_string(),
        p384::SecretKey::from_slice(&[0x22; 48])
            .unwrap()
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap()
            .to_string(),
        p521::SecretKey::from_slice(&[0x01; 66])
            .unwrap()
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap()
            .to_string(),
    ];
    pems.iter()
        .map(|pem| {
            // A text preamble before the PEM block is tolerated, as by the reference tool.
            let k = SigningKey::from_pem(&format!("Generated for a test\n{pem}"), None).unwrap();
            let v = VerifyingKey::from_pem(&k.verifying_key().to_pem()).unwrap();
            (k, v)
        })
        .collect()
}

fn sign(model: &Path, key: &SigningKey) -> (std::path::PathBuf, String) {
    let sig = model.join("model.sig");
    let signed = oms::sign(
        model,
        &sig,
        &Signer::Key(key.clone()),
        &opts(&["README.md"]),
        2,
        &|_| {},
    )
    .unwrap();
    std::fs::write(&sig, &signed.bundle).unwrap();
    (sig, signed.bundle)
}

fn verify(model: &Path, sig: &Path, key: &VerifyingKey) -> Result<oms::Verified, VerifyError> {
    let bundle = std::fs::read_to_string(sig).unwrap();
    oms::verify(
        model,
        &bundle,
        sig,
        &Trust::Key(key.clone()),
        &VerifyOptions::default(),
        2,
        &|_| {},
    )
}

#[test]
fn sign_and_verify_on_every_curve() {
    for (sk, vk) in keys() {
        let dir = tempfile::tempdir().unwrap();
        example_tree(dir.path());
        let (sig, bundle) = sign(dir.path(), &sk);
        let v: Value = serde_json::from_str(&bundle).unwrap();
        assert_eq!(v["mediaType"], oms::MEDIA_TYPE);
        assert_eq!(v["verificationMaterial"]["publicKey"]["hint"], vk.hint());
        assert!(!bundle.ends_with('\n'));
        let ok = verify(dir.path(), &sig, &vk).unwrap_or_else(|e| panic!("{}: {e}", vk.curve()));
        assert_eq!(
            ok.root,
            "d871896ffd162069b7251bcf4539b6ff6a4738b03ae57a694f71831c84aa3aec"
        );
        // The signed ignore list lets a verifier without flags skip README.md and the signature.
        let payload = base64::engine::general_purpose::STANDARD
            .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let st: Value = serde_json::from_slice(&payload).unwrap();
        let ignored: Vec<&str> = st["predicate"]["serialization"]["ignore_paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert!(
            ignored.contains(&"README.md")
                && ignored.contains(&"model.sig")
                && ignored.contains(&".git")
        );
        assert!(
            std::str::from_utf8(&payload)
                .unwrap()
                .contains("caf\\u00e9.txt"),
            "non-ASCII escaped as Python does"
        );
    }
}

#[test]
fn every_mismatch_is_named() {
    let (sk, vk) = keys().remove(0);
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path();
    example_tree(m);
    let (sig, _) = sign(m, &sk);

    std::fs::write(m.join("config.json"), b"hello world!\n").unwrap();
    std::fs::write(m.join("new.bin"), b"extra").unwrap();
    std::fs::remove_file(m.join("a/z.txt")).unwrap();
    match verify(m, &sig, &vk) {
        Err(VerifyError::Files {
            changed,
            missing,
            extra,
        }) => {
            assert_eq!(changed.len(), 1);
            assert_eq!(changed[0].0, "config.json");
            assert_eq!(
                changed[0].1,
                "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"
            );
            assert_eq!(missing, ["a/z.txt"]);
            assert_eq!(extra, ["new.bin"]);
        }
        other => panic!("{other:?}"),
    }
    // With --ignore-unsigned-files the extra file is fine, the others are not.
    let bundle = std::fs::read_to_string(&sig).unwrap();
    let o = VerifyOptions {
        manifest: Options::default(),
        ignore_unsigned: true,
    };
    match oms::verify(m, &bundle, &sig, &Trust::Key(vk.clone()), &o, 1, &|_| {}) {
        Err(VerifyError::Files { extra, .. }) => assert!(extra.is_empty()),
        other => panic!("{other:?}"),
    }

    // Another key.
    let (_, other_vk) = keys().remove(1);
    assert!(matches!(
        verify(m, &sig, &other_vk),
        Err(VerifyError::KeyMismatch { .. })
    ));
    // Same hint, broken signature: flip a byte of the payload.
    let mut v: Value = serde_json::from_str(&bundle).unwrap();
    let p = v["dsseEnvelope"]["payload"].as_str().unwrap().to_string();
    let mut raw = base64::engine::general_purpose::STANDARD.decode(p).unwrap();
    raw[40] ^= 1;
    v["dsseEnvelope"]["payload"] = base64::engine::general_purpose::STANDARD
        .encode(&raw)
        .into();
    let r = oms::verify(
        m,
        &v.to_string(),
        &sig,
        &Trust::Key(vk.clone()),
        &VerifyOptions::default(),
        1,
        &|_| {},
    );
    assert!(matches!(r, Err(VerifyError::BadSignature(_))), "{r:?}");
    // Not a bundle.
    let r = oms::verify(
        m,
        "{\"mediaType\": 1}",
        &sig,
        &Trust::Key(vk),
        &VerifyOptions::default(),
        1,
        &|_| {},
    );
    assert!(matches!(r, Err(VerifyError::Malformed(_))), "{r:?}");
}

#[test]
fn unsafe_resource_names_are_refused_even_when_signed() {
    let (sk, vk) = keys().remove(0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w.bin"), b"w").unwrap();
    for name in ["../outside.txt", "/etc/passwd", "a/../../b"] {
        let m = manifest::Manifest {
            resources: vec![manifest::Resource {
                name: name.into(),
                digest: [0; 32],
                size: 0,
            }],
        };
        let payload = oms::statement("m", &m, &[], false);
        let sig = sk.sign_der(&oms::pae(&payload));
        let bundle = oms::bundle(&Signer::Key(sk.clone()), &payload, &sig);
        let r = oms::verify(
            dir.path(),
            &bundle,
            &dir.path().join("model.sig"),
            &Trust::Key(vk.clone()),
            &VerifyOptions::default(),
            1,
            &|_| {},
        );
        assert!(
            matches!(&r, Err(VerifyError::UnsafeName(n)) if n == name),
            "{name}: {r:?}"
        );
    }
}

#[test]
fn single_file_models_and_symlinks() {
    let (sk, vk) = keys().remove(1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("weights.bin");
    std::fs::write(&file, b"weights").unwrap();
    let sig = dir.path().join("weights.bin.sig");
    let signed = oms::sign(
        &file,
        &sig,
        &Signer::Key(sk),
        &Options::default(),
        1,
        &|_| {},
    )
    .unwrap();
    assert_eq!(signed.manifest.resources[0].name, ".");
    std::fs::write(&sig, &signed.bundle).unwrap();
    verify(&file, &sig, &vk).unwrap();

    let model = dir.path().join("m");
    std::fs::create_dir(&model).unwrap();
    std::fs::write(model.join("a.bin"), b"a").unwrap();
    std::os::unix::fs::symlink(model.join("a.bin"), model.join("link.bin")).unwrap();
    assert!(matches!(
        manifest::enumerate(&model, &Options::default()),
        Err(weighhouse_integrity::Error::Symlink(_))
    ));
    let allowed = Options {
        allow_symlinks: true,
        ..Options::default()
    };
    let names: Vec<String> = manifest::enumerate(&model, &allowed)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["a.bin", "link.bin"]);
}

#[test]
fn only_ec_keys_are_accepted() {
    let ed = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
    let e = SigningKey::from_pem(ed, None).unwrap_err();
    assert!(e.to_string().contains("EC key"), "{e}");
    assert!(SigningKey::from_pem("no key here", None).is_err());
}

//! OpenSSF Model Signing bundles, compatible with `model_signing` 1.1.1 both ways.
//!
//! A signature is a Sigstore bundle (media type v0.3) holding a DSSE envelope whose payload is an
//! in-toto statement: one subject (the model's name and root digest) and a predicate listing every
//! resource (name, `sha256`, digest) plus the serialization settings (`files` method, ignored
//! paths). The envelope is signed with ECDSA over its pre-authentication encoding
//! (`DSSEv1 <len> <type> <len> <payload>`) with the curve's hash. The verification material is the
//! key's hint (SHA-256 of its canonical PEM) or an X.509 chain `[leaf, intermediates...]`.
//!
//! Verification follows the reference tool: check the media type, the key (hint) or the
//! certificate chain, the signature, the statement's types, the root digest against the listed
//! resources, then hash the local files and compare names and digests, reporting every changed,
//! missing and extra file. Resource names that are absolute, contain `..` or repeat are refused.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use der::{Decode, Encode};
use serde_json::{Value, json};
use sha2::Digest;
use x509_cert::Certificate;

use crate::Error;
use crate::keys::{SigningKey, VerifyingKey, pem_blocks};
use crate::manifest::{self, Entry, Manifest, Options};

/// The bundle media type `model_signing` 1.1.1 writes and requires.
pub const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The DSSE payload type.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The OMS predicate type.
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";

/// DSSE pre-authentication encoding.
pub fn pae(payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        PAYLOAD_TYPE.len(),
        PAYLOAD_TYPE,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// JSON with every non-ASCII character escaped, as Python's `json.dumps(ensure_ascii=True)`.
fn ascii_json(v: &Value) -> String {
    let text = serde_json::to_string_pretty(v).expect("JSON values serialise");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// The in-toto statement of a manifest.
pub fn statement(
    model_name: &str,
    manifest: &Manifest,
    ignore_paths: &[String],
    allow_symlinks: bool,
) -> Vec<u8> {
    let resources: Vec<Value> = manifest
        .resources
        .iter()
        .map(|r| json!({"name": r.name, "algorithm": "sha256", "digest": hex::encode(r.digest)}))
        .collect();
    let mut serialization =
        json!({"method": "files", "hash_type": "sha256", "allow_symlinks": allow_symlinks});
    if !ignore_paths.is_empty() {
        serialization["ignore_paths"] = json!(ignore_paths);
    }
    let v = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model_name, "digest": {"sha256": hex::encode(manifest.root())}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {"serialization": serialization, "resources": resources},
    });
    ascii_json(&v).into_bytes()
}

/// How to sign.
#[derive(Debug, Clone)]
pub enum Signer {
    /// A private key; the bundle carries its hint.
    Key(SigningKey),
    /// A private key and its certificate chain (leaf first, as DER); the bundle carries the chain.
    Certificate {
        /// The leaf's private key.
        key: SigningKey,
        /// `[leaf, intermediates...]`, DER.
        chain: Vec<Vec<u8>>,
    },
}

impl Signer {
    fn key(&self) -> &SigningKey {
        match self {
            Signer::Key(k) | Signer::Certificate { key: k, .. } => k,
        }
    }
}

/// Read certificates from PEM text (every `CERTIFICATE` block), as DER.
pub fn certificates_from_pem(text: &str) -> Result<Vec<Vec<u8>>, Error> {
    let mut out = Vec::new();
    for (label, block) in pem_blocks(text) {
        if label != "CERTIFICATE" {
            continue;
        }
        let body: String = block
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::trim)
            .collect();
        let der = B64
            .decode(body)
            .map_err(|e| Error::Certificate(format!("bad PEM base64: {e}")))?;
        Certificate::from_der(&der)
            .map_err(|e| Error::Certificate(format!("not an X.509 certificate: {e}")))?;
        out.push(der);
    }
    if out.is_empty() {
        return Err(Error::Certificate(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) found".into(),
        ));
    }
    Ok(out)
}

/// The public key of a DER certificate.
fn certificate_key(der: &[u8]) -> Result<VerifyingKey, Error> {
    let cert = Certificate::from_der(der).map_err(|e| Error::Certificate(e.to_string()))?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| Error::Certificate(e.to_string()))?;
    VerifyingKey::from_spki_der(&spki)
}

/// Check that a certificate's key is the signing key's.
pub fn check_certificate_matches(key: &SigningKey, leaf_der: &[u8]) -> Result<(), Error> {
    if certificate_key(leaf_der)? != key.verifying_key() {
        return Err(Error::Certificate(
            "the signing certificate's public key is not the private key's".into(),
        ));
    }
    Ok(())
}

/// The bundle for a payload and its signature.
pub fn bundle(signer: &Signer, payload: &[u8], signature_der: &[u8]) -> String {
    let material = match signer {
        Signer::Key(k) => {
            json!({"publicKey": {"hint": k.verifying_key().hint()}, "tlogEntries": []})
        }
        Signer::Certificate { chain, .. } => json!({
            "x509CertificateChain": {"certificates": chain.iter().map(|c| json!({"rawBytes": B64.encode(c)})).collect::<Vec<_>>()},
            "tlogEntries": [],
        }),
    };
    let v = json!({
        "mediaType": MEDIA_TYPE,
        "verificationMaterial": material,
        "dsseEnvelope": {
            "payload": B64.encode(payload),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": B64.encode(signature_der), "keyid": ""}],
        },
    });
    v.to_string()
}

/// The model's name in the statement: its last path component.
fn model_name(model: &Path) -> String {
    let direct = model
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "..");
    match direct {
        Some(n) => n.to_string(),
        None => model
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .unwrap_or_else(|| "model".into()),
    }
}

/// A signed model.
#[derive(Debug)]
pub struct Signed {
    /// The manifest that was signed.
    pub manifest: Manifest,
    /// The bundle text (no trailing newline).
    pub bundle: String,
}

/// The ignore list recorded in a signature: the user's paths, the git paths, and the signature
/// file when it lies inside the model.
pub fn signed_ignores(model: &Path, signature: &Path, opts: &Options) -> Vec<String> {
    let mut opts = opts.clone();
    if model.is_dir()
        && let Some(rel) = manifest::relative_to_model(model, signature)
        && !rel.is_empty()
    {
        opts.ignore.push(rel);
    }
    manifest::ignore_list(&opts)
}

/// Hash `model` and sign its manifest. `signature` is where the bundle will be written (it is
/// left out of the manifest when inside the model).
pub fn sign(
    model: &Path,
    signature: &Path,
    signer: &Signer,
    opts: &Options,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Signed, Error> {
    let ignores = signed_ignores(model, signature, opts);
    let entries = manifest::enumerate(
        model,
        &Options {
            ignore: ignores.clone(),
            ignore_git: false,
            allow_symlinks: opts.allow_symlinks,
        },
    )?;
    let manifest = manifest::hash_entries(&entries, threads, progress)?;
    let recorded = if model.is_dir() { ignores } else { Vec::new() };
    let payload = statement(
        &model_name(model),
        &manifest,
        &recorded,
        opts.allow_symlinks,
    );
    let sig = signer.key().sign_der(&pae(&payload));
    Ok(Signed {
        bundle: bundle(signer, &payload, &sig),
        manifest,
    })
}

/// What verification trusts.
#[derive(Debug, Clone)]
pub enum Trust {
    /// A public key.
    Key(VerifyingKey),
    /// Trusted certificates (DER): the chain in the bundle must lead to one of them.
    Roots(Vec<Vec<u8>>),
}

/// Settings of a verification.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Ignores as when hashing (the signed `ignore_paths` are added).
    pub manifest: Options,
    /// Only check the files the signature names; other local files are fine.
    pub ignore_unsigned: bool,
}

/// Why a signature does not hold.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The bundle cannot be read.
    #[error("malformed signature bundle: {0}")]
    Malformed(String),
    /// The key is not the one that signed.
    #[error(
        "key mismatch: the bundle was signed by another key (its hint is {bundle}, the given key's is {given})"
    )]
    KeyMismatch {
        /// Hint in the bundle.
        bundle: String,
        /// Hint of the given key.
        given: String,
    },
    /// The signature does not verify.
    #[error("the signature does not verify with the given {0}")]
    BadSignature(&'static str),
    /// The certificate chain does not lead to a trusted certificate, or the leaf may not sign.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A resource name that could point outside the model.
    #[error(
        "the signature names an unsafe path {0:?} (absolute, or containing '..' or an empty component)"
    )]
    UnsafeName(String),
    /// The root digest does not match the listed resources.
    #[error(
        "the manifest is inconsistent: its root digest {expected} does not match its resources ({actual})"
    )]
    Inconsistent {
        /// Root in the statement.
        expected: String,
        /// Root of the listed resources.
        actual: String,
    },
    /// Files differ from the signed manifest.
    #[error("{}", files_message(.changed, .missing, .extra))]
    Files {
        /// `(name, expected digest, actual digest)`.
        changed: Vec<(String, String, String)>,
        /// Signed but not found.
        missing: Vec<String>,
        /// Found but not signed.
        extra: Vec<String>,
    },
    /// Reading the model failed.
    #[error(transparent)]
    Local(#[from] Error),
}

fn files_message(
    changed: &[(String, String, String)],
    missing: &[String],
    extra: &[String],
) -> String {
    let mut parts = Vec::new();
    for (name, expected, actual) in changed {
        parts.push(format!(
            "changed: {name} (signed sha256 {expected}, now {actual})"
        ));
    }
    for name in missing {
        parts.push(format!("missing: {name} (signed, not found)"));
    }
    for name in extra {
        parts.push(format!("extra: {name} (not in the signature)"));
    }
    format!(
        "the model does not match its signature:\n  {}",
        parts.join("\n  ")
    )
}

/// A successful verification.
#[derive(Debug)]
pub struct Verified {
    /// The signed manifest (as listed in the signature).
    pub manifest: Manifest,
    /// Root digest.
    pub root: String,
    /// How the signer was identified (key hint, or the leaf certificate's subject).
    pub signer: String,
}

fn malformed(m: impl Into<String>) -> VerifyError {
    VerifyError::Malformed(m.into())
}

fn b64(v: &Value, what: &str) -> Result<Vec<u8>, VerifyError> {
    let s = v
        .as_str()
        .ok_or_else(|| malformed(format!("{what} is not a string")))?;
    B64.decode(s)
        .map_err(|e| malformed(format!("{what} is not base64: {e}")))
}

/// A resource name is safe if it is `.` or a relative path of normal components.
pub fn safe_name(name: &str) -> bool {
    name == "."
        || (!name.is_empty()
            && !name.starts_with('/')
            && !name.contains('\\')
            && name
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".."))
}

/// Verify `model` against the bundle text.
pub fn verify(
    model: &Path,
    bundle_text: &str,
    signature_path: &Path,
    trust: &Trust,
    opts: &VerifyOptions,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Verified, VerifyError> {
    let b: Value =
        serde_json::from_str(bundle_text).map_err(|e| malformed(format!("not JSON: {e}")))?;
    if b.get("mediaType").and_then(Value::as_str) != Some(MEDIA_TYPE) {
        return Err(malformed(format!("mediaType must be {MEDIA_TYPE}")));
    }
    let material = b
        .get("verificationMaterial")
        .ok_or_else(|| malformed("no verificationMaterial"))?;
    let env = b
        .get("dsseEnvelope")
        .ok_or_else(|| malformed("no dsseEnvelope"))?;
    if env.get("payloadType").and_then(Value::as_str) != Some(PAYLOAD_TYPE) {
        return Err(malformed(format!("payloadType must be {PAYLOAD_TYPE}")));
    }
    let payload = b64(env.get("payload").unwrap_or(&Value::Null), "payload")?;
    let sig = b64(
        env.get("signatures")
            .and_then(|s| s.get(0))
            .and_then(|s| s.get("sig"))
            .unwrap_or(&Value::Null),
        "signatures[0].sig",
    )?;

    // Who signed.
    let (key, signer, what) = match trust {
        Trust::Key(key) => {
            let given = key.hint();
            let pk = material
                .get("publicKey")
                .ok_or_else(|| malformed("a key signature needs verificationMaterial.publicKey"))?;
            if let Some(hint) = pk
                .get("hint")
                .and_then(Value::as_str)
                .filter(|h| !h.is_empty())
                && hint != given
            {
                return Err(VerifyError::KeyMismatch {
                    bundle: hint.to_string(),
                    given,
                });
            }
            (
                key.clone(),
                format!("key {} (hint {given})", key.curve()),
                "key",
            )
        }
        Trust::Roots(roots) => {
            let chain = material
                .get("x509CertificateChain")
                .and_then(|c| c.get("certificates"))
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    malformed(
                        "a certificate signature needs verificationMaterial.x509CertificateChain",
                    )
                })?;
            let chain: Vec<Vec<u8>> = chain
                .iter()
                .map(|c| {
                    b64(
                        c.get("rawBytes").unwrap_or(&Value::Null),
                        "certificate rawBytes",
                    )
                })
                .collect::<Result<_, _>>()?;
            let leaf = check_chain(&chain, roots).map_err(VerifyError::Certificate)?;
            let key =
                certificate_key(&chain[0]).map_err(|e| VerifyError::Certificate(e.to_string()))?;
            (key, format!("certificate {leaf}"), "certificate")
        }
    };
    let signed = pae(&payload);
    let ok = key.verify_der(&signed, &sig)
        || (matches!(trust, Trust::Roots(_)) && key.verify_der_sha256(&signed, &sig));
    if !ok {
        return Err(VerifyError::BadSignature(what));
    }

    // What was signed.
    let st: Value = serde_json::from_slice(&payload)
        .map_err(|e| malformed(format!("payload is not JSON: {e}")))?;
    if st.get("_type").and_then(Value::as_str) != Some(STATEMENT_TYPE) {
        return Err(malformed(format!(
            "statement _type must be {STATEMENT_TYPE}"
        )));
    }
    if st.get("predicateType").and_then(Value::as_str) != Some(PREDICATE_TYPE) {
        return Err(malformed(format!(
            "unsupported predicateType (this verifier reads {PREDICATE_TYPE})"
        )));
    }
    let subjects = st
        .get("subject")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no subject"))?;
    if subjects.len() != 1 {
        return Err(malformed("the statement must have exactly one subject"));
    }
    let root = subjects[0]
        .get("digest")
        .and_then(|d| d.get("sha256"))
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("subject without a sha256 digest"))?
        .to_ascii_lowercase();
    let predicate = st
        .get("predicate")
        .ok_or_else(|| malformed("no predicate"))?;
    let ser = predicate
        .get("serialization")
        .cloned()
        .unwrap_or(Value::Null);
    let method = ser.get("method").and_then(Value::as_str).unwrap_or("files");
    if method != "files" {
        return Err(malformed(format!(
            "unsupported serialization method {method:?} (only \"files\")"
        )));
    }
    let resources = predicate
        .get("resources")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no resources"))?;
    let mut listed = Vec::with_capacity(resources.len());
    let mut names = BTreeSet::new();
    for r in resources {
        let name = r
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("resource without a name"))?;
        if !safe_name(name) {
            return Err(VerifyError::UnsafeName(name.to_string()));
        }
        if !names.insert(name.to_string()) {
            return Err(malformed(format!("resource {name:?} is listed twice")));
        }
        let algorithm = r.get("algorithm").and_then(Value::as_str).unwrap_or("");
        if algorithm != "sha256" {
            return Err(malformed(format!(
                "resource {name:?} uses the unsupported algorithm {algorithm:?}"
            )));
        }
        let digest = r.get("digest").and_then(Value::as_str).unwrap_or("");
        let mut d = [0u8; 32];
        hex::decode_to_slice(digest, &mut d)
            .map_err(|_| malformed(format!("resource {name:?} has a bad digest")))?;
        listed.push(manifest::Resource {
            name: name.to_string(),
            digest: d,
            size: 0,
        });
    }
    let actual_root = hex::encode(manifest::root_of(listed.iter().map(|r| &r.digest)));
    if actual_root != root {
        return Err(VerifyError::Inconsistent {
            expected: root,
            actual: actual_root,
        });
    }

    // The files on disk.
    let mut ignores = signed_ignores(model, signature_path, &opts.manifest);
    if let Some(paths) = ser.get("ignore_paths").and_then(Value::as_array) {
        ignores.extend(paths.iter().filter_map(Value::as_str).map(str::to_string));
    }
    let local_opts = Options {
        ignore: ignores,
        ignore_git: false,
        allow_symlinks: opts.manifest.allow_symlinks,
    };
    let mut entries = manifest::enumerate(model, &local_opts)?;
    let expected: BTreeMap<&str, &[u8; 32]> = listed
        .iter()
        .map(|r| (r.name.as_str(), &r.digest))
        .collect();
    let mut extra = Vec::new();
    if opts.ignore_unsigned {
        entries.retain(|e| expected.contains_key(e.name.as_str()));
    } else {
        extra = entries
            .iter()
            .filter(|e| !expected.contains_key(e.name.as_str()))
            .map(|e| e.name.clone())
            .collect();
        entries.retain(|e: &Entry| expected.contains_key(e.name.as_str()));
    }
    let local = manifest::hash_entries(&entries, threads, progress)?;
    let found: BTreeMap<&str, &[u8; 32]> = local
        .resources
        .iter()
        .map(|r| (r.name.as_str(), &r.digest))
        .collect();
    let mut changed = Vec::new();
    let mut missing = Vec::new();
    for r in &listed {
        match found.get(r.name.as_str()) {
            None => missing.push(r.name.clone()),
            Some(d) if **d != r.digest => {
                changed.push((r.name.clone(), hex::encode(r.digest), hex::encode(d)))
            }
            Some(_) => {}
        }
    }
    if !changed.is_empty() || !missing.is_empty() || !extra.is_empty() {
        return Err(VerifyError::Files {
            changed,
            missing,
            extra,
        });
    }
    let sizes: BTreeMap<&str, u64> = local
        .resources
        .iter()
        .map(|r| (r.name.as_str(), r.size))
        .collect();
    for r in &mut listed {
        r.size = sizes.get(r.name.as_str()).copied().unwrap_or(0);
    }
    Ok(Verified {
        manifest: Manifest { resources: listed },
        root,
        signer,
    })
}

const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
const CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";

/// Whether `issuer` signed `cert` (ECDSA issuers only).
fn signed_by(cert: &Certificate, issuer: &Certificate) -> Result<bool, String> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    if cert.tbs_certificate.issuer != issuer.tbs_certificate.subject {
        return Ok(false);
    }
    let tbs = cert.tbs_certificate.to_der().map_err(|e| e.to_string())?;
    let oid = cert.signature_algorithm.oid.to_string();
    let digest: Vec<u8> = match oid.as_str() {
        ECDSA_SHA256 => sha2::Sha256::digest(&tbs).to_vec(),
        ECDSA_SHA384 => sha2::Sha384::digest(&tbs).to_vec(),
        ECDSA_SHA512 => sha2::Sha512::digest(&tbs).to_vec(),
        other => {
            return Err(format!(
                "certificate signature algorithm {other} is not supported (ECDSA with SHA-256/384/512 only)"
            ));
        }
    };
    let sig = cert
        .signature
        .as_bytes()
        .ok_or("certificate signature is not a whole number of bytes")?;
    let spki = issuer
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| e.to_string())?;
    let key = VerifyingKey::from_spki_der(&spki).map_err(|e| format!("issuer key: {e}"))?;
    Ok(match key {
        VerifyingKey::P256(k) => p256::ecdsa::Signature::from_der(sig)
            .is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok()),
        VerifyingKey::P384(k) => p384::ecdsa::Signature::from_der(sig)
            .is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok()),
        VerifyingKey::P521(k) => {
            use p521::elliptic_curve::sec1::ToEncodedPoint;
            let v = p521::ecdsa::VerifyingKey::from_encoded_point(&k.to_encoded_point(false))
                .map_err(|e| e.to_string())?;
            p521::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| v.verify_prehash(&digest, &s).is_ok())
        }
    })
}

fn is_ca(cert: &Certificate) -> bool {
    use x509_cert::ext::pkix::BasicConstraints;
    cert.tbs_certificate
        .get::<BasicConstraints>()
        .ok()
        .flatten()
        .is_some_and(|(_, bc)| bc.ca)
}

/// Check that `chain[0]` (the leaf) may sign code and leads, through the other certificates of
/// the chain, to one of `roots`. Returns the leaf's subject. Validity dates are not checked, as
/// in `model_signing` 1.1.1 (which verifies at the leaf's notBefore).
fn check_chain(chain: &[Vec<u8>], roots: &[Vec<u8>]) -> Result<String, String> {
    use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage};
    let certs: Vec<Certificate> = chain
        .iter()
        .map(|d| {
            Certificate::from_der(d).map_err(|e| format!("bad certificate in the bundle: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let roots: Vec<Certificate> = roots
        .iter()
        .map(|d| Certificate::from_der(d).map_err(|e| format!("bad trusted certificate: {e}")))
        .collect::<Result<_, _>>()?;
    let leaf = certs
        .first()
        .ok_or("the bundle's certificate chain is empty")?;
    let ku = leaf
        .tbs_certificate
        .get::<KeyUsage>()
        .map_err(|e| e.to_string())?;
    let eku = leaf
        .tbs_certificate
        .get::<ExtendedKeyUsage>()
        .map_err(|e| e.to_string())?;
    let may_sign = ku.is_some_and(|(_, k)| k.digital_signature())
        || eku.is_some_and(|(_, e)| e.0.iter().any(|o| o.to_string() == CODE_SIGNING));
    if !may_sign {
        return Err("the signing certificate has neither the digitalSignature key usage nor the codeSigning extended key usage".into());
    }
    // Walk up: at each step the current certificate is trusted, or issued by a trusted root, or
    // issued by a CA certificate of the bundle, which becomes the current one.
    let mut current = leaf;
    let mut used = vec![false; certs.len()];
    used[0] = true;
    for _ in 0..certs.len() + 1 {
        if roots.iter().any(|r| r == current) {
            return Ok(leaf.tbs_certificate.subject.to_string());
        }
        for r in &roots {
            if signed_by(current, r)? {
                return Ok(leaf.tbs_certificate.subject.to_string());
            }
        }
        let next = certs.iter().enumerate().find_map(|(i, c)| {
            (!used[i] && is_ca(c) && signed_by(current, c).unwrap_or(false)).then_some(i)
        });
        match next {
            Some(i) => {
                used[i] = true;
                current = &certs[i];
            }
            None => break,
        }
    }
    Err(format!(
        "the certificate of {} does not chain to a trusted certificate",
        leaf.tbs_certificate.subject
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_layout() {
        assert_eq!(
            pae(b"{}"),
            b"DSSEv1 28 application/vnd.in-toto+json 2 {}".to_vec()
        );
    }

    #[test]
    fn unsafe_names() {
        for bad in ["", "/etc/passwd", "../x", "a/../b", "a//b", "./a", "a\\b"] {
            assert!(!safe_name(bad), "{bad:?}");
        }
        for good in [".", "a", "a/b.txt", "café.txt", ".gitignore"] {
            assert!(safe_name(good), "{good:?}");
        }
    }

    #[test]
    fn non_ascii_is_escaped_like_python() {
        assert_eq!(
            ascii_json(&json!("café 😀")),
            "\"caf\\u00e9 \\ud83d\\ude00\""
        );
    }
}

//! EC keys for OMS signatures: P-256 with SHA-256, P-384 with SHA-384, P-521 with SHA-512, as
//! `model_signing` uses them. Private keys are PEM (PKCS#8, SEC1, or password-protected PKCS#8);
//! public keys are PEM SubjectPublicKeyInfo. Text before a PEM block is tolerated.

use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256};

use crate::Error;

/// A private signing key.
#[derive(Clone)]
pub enum SigningKey {
    /// P-256.
    P256(p256::ecdsa::SigningKey),
    /// P-384.
    P384(p384::ecdsa::SigningKey),
    /// P-521.
    P521(Box<p521::ecdsa::SigningKey>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.verifying_key().curve())
    }
}

/// A public verifying key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    /// P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// P-521.
    P521(p521::PublicKey),
}

fn p521_verifier(k: &p521::PublicKey) -> Option<p521::ecdsa::VerifyingKey> {
    use p521::elliptic_curve::sec1::ToEncodedPoint;
    p521::ecdsa::VerifyingKey::from_encoded_point(&k.to_encoded_point(false)).ok()
}

/// The PEM blocks of a file: `(label, whole block text)`.
pub(crate) fn pem_blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = after[..label_end].to_string();
        let end_marker = format!("-----END {label}-----");
        let Some(end) = rest[start..].find(&end_marker) else {
            break;
        };
        let block_end = start + end + end_marker.len();
        out.push((label, format!("{}\n", &rest[start..block_end])));
        rest = &rest[block_end..];
    }
    out
}

impl SigningKey {
    /// Read a PEM private key; `password` for encrypted PKCS#8.
    pub fn from_pem(text: &str, password: Option<&str>) -> Result<Self, Error> {
        let bad = |why: String| Error::Key(why);
        let blocks = pem_blocks(text);
        let Some((label, block)) = blocks.into_iter().find(|(l, _)| l.ends_with("PRIVATE KEY"))
        else {
            return Err(bad("no PEM private key block found".into()));
        };
        match label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&pem_der(&block)?),
            "ENCRYPTED PRIVATE KEY" => {
                let password = password
                    .ok_or_else(|| bad("the private key is encrypted: give its password".into()))?;
                let der = pem_der(&block)?;
                let enc = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
                    .map_err(|e| bad(format!("bad encrypted key: {e}")))?;
                let doc = enc.decrypt(password.as_bytes()).map_err(|_| {
                    bad("wrong password for the private key, or an unsupported encryption".into())
                })?;
                Self::from_pkcs8_der(doc.as_bytes())
            }
            "EC PRIVATE KEY" => {
                if block.contains("Proc-Type: 4,ENCRYPTED") {
                    return Err(bad("legacy OpenSSL-encrypted EC keys are not supported; convert with `openssl pkcs8 -topk8`".into()));
                }
                let der = pem_der(&block)?;
                let sk = sec1::EcPrivateKey::try_from(der.as_slice())
                    .map_err(|e| bad(format!("bad EC private key: {e}")))?;
                let oid = sk
                    .parameters
                    .and_then(|p| p.named_curve())
                    .ok_or_else(|| bad("EC key without a named curve".into()))?;
                Self::from_scalar(&oid.to_string(), sk.private_key)
            }
            other => Err(bad(format!(
                "unsupported private key type {other:?}: OMS needs an EC key (P-256, P-384 or P-521)"
            ))),
        }
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(Self::P256(k));
        }
        if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(Self::P384(k));
        }
        if let Ok(k) = p521::SecretKey::from_pkcs8_der(der) {
            return Ok(Self::P521(Box::new(
                p521::ecdsa::SigningKey::from_bytes(&k.to_bytes())
                    .map_err(|e| Error::Key(e.to_string()))?,
            )));
        }
        Err(Error::Key("unsupported private key: OMS needs an EC key on P-256, P-384 or P-521 (Ed25519 and RSA keys are not accepted)".into()))
    }

    fn from_scalar(curve_oid: &str, scalar: &[u8]) -> Result<Self, Error> {
        let bad = |e: p256::elliptic_curve::Error| Error::Key(e.to_string());
        match curve_oid {
            "1.2.840.10045.3.1.7" => Ok(Self::P256(
                p256::ecdsa::SigningKey::from_slice(scalar)
                    .map_err(|e| Error::Key(e.to_string()))?,
            )),
            "1.3.132.0.34" => Ok(Self::P384(
                p384::ecdsa::SigningKey::from_slice(scalar)
                    .map_err(|e| Error::Key(e.to_string()))?,
            )),
            "1.3.132.0.35" => {
                let sk = p521::SecretKey::from_slice(scalar).map_err(bad)?;
                Ok(Self::P521(Box::new(
                    p521::ecdsa::SigningKey::from_bytes(&sk.to_bytes())
                        .map_err(|e| Error::Key(e.to_string()))?,
                )))
            }
            other => Err(Error::Key(format!(
                "unsupported curve {other}: OMS needs P-256, P-384 or P-521"
            ))),
        }
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        match self {
            Self::P256(k) => VerifyingKey::P256(*k.verifying_key()),
            Self::P384(k) => VerifyingKey::P384(*k.verifying_key()),
            Self::P521(k) => {
                let point = p521::ecdsa::VerifyingKey::from(k.as_ref()).to_encoded_point(false);
                VerifyingKey::P521(
                    p521::PublicKey::from_sec1_bytes(point.as_bytes())
                        .expect("a signing key's public point is valid"),
                )
            }
        }
    }

    /// DER ECDSA signature of `msg` with the curve's hash.
    pub fn sign_der(&self, msg: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer;
        match self {
            Self::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            Self::P384(k) => {
                let s: p384::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            Self::P521(k) => {
                let s: p521::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
        }
    }
}

fn pem_der(block: &str) -> Result<Vec<u8>, Error> {
    let (_, der) = pem_rfc7468_decode(block)?;
    Ok(der)
}

/// Decode one PEM block (headers such as `Proc-Type` are skipped).
fn pem_rfc7468_decode(block: &str) -> Result<(String, Vec<u8>), Error> {
    use base64::Engine;
    let mut lines = block.lines();
    let first = lines.next().unwrap_or("");
    let label = first
        .trim()
        .trim_start_matches("-----BEGIN ")
        .trim_end_matches("-----")
        .to_string();
    let body: String = lines
        .take_while(|l| !l.starts_with("-----END "))
        .filter(|l| !l.contains(':'))
        .map(str::trim)
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| Error::Key(format!("bad PEM base64: {e}")))?;
    Ok((label, der))
}

impl VerifyingKey {
    /// Read a PEM public key (SubjectPublicKeyInfo).
    pub fn from_pem(text: &str) -> Result<Self, Error> {
        let blocks = pem_blocks(text);
        let Some((_, block)) = blocks.into_iter().find(|(l, _)| l == "PUBLIC KEY") else {
            return Err(Error::Key(
                "no PEM public key block (-----BEGIN PUBLIC KEY-----) found".into(),
            ));
        };
        Self::from_spki_der(&pem_der(&block)?)
    }

    /// From DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, Error> {
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(Self::P256(k));
        }
        if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(Self::P384(k));
        }
        if let Ok(k) = p521::PublicKey::from_public_key_der(der) {
            return Ok(Self::P521(k));
        }
        Err(Error::Key(
            "unsupported public key: OMS needs an EC key on P-256, P-384 or P-521".into(),
        ))
    }

    /// The canonical PEM: what `cryptography` and `openssl pkey -pubout` write.
    pub fn to_pem(&self) -> String {
        let pem = match self {
            Self::P256(k) => k.to_public_key_pem(LineEnding::LF),
            Self::P384(k) => k.to_public_key_pem(LineEnding::LF),
            Self::P521(k) => k.to_public_key_pem(LineEnding::LF),
        };
        pem.unwrap_or_default()
    }

    /// The key hint of an OMS bundle: SHA-256 of the canonical PEM, in hex.
    pub fn hint(&self) -> String {
        hex::encode(Sha256::digest(self.to_pem().as_bytes()))
    }

    /// The curve's name.
    pub fn curve(&self) -> &'static str {
        match self {
            Self::P256(_) => "P-256",
            Self::P384(_) => "P-384",
            Self::P521(_) => "P-521",
        }
    }

    /// Check a DER ECDSA signature of `msg` (hashed with the curve's hash).
    pub fn verify_der(&self, msg: &[u8], der: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier;
        match self {
            Self::P256(k) => {
                p256::ecdsa::Signature::from_der(der).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
            Self::P384(k) => {
                p384::ecdsa::Signature::from_der(der).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
            Self::P521(k) => p521::ecdsa::Signature::from_der(der)
                .is_ok_and(|s| p521_verifier(k).is_some_and(|v| v.verify(msg, &s).is_ok())),
        }
    }

    /// Check a DER ECDSA signature over a message hashed with SHA-256 whatever the curve (the
    /// compatibility path of old certificate bundles).
    pub fn verify_der_sha256(&self, msg: &[u8], der: &[u8]) -> bool {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let digest = Sha256::digest(msg);
        match self {
            Self::P256(k) => p256::ecdsa::Signature::from_der(der)
                .is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok()),
            Self::P384(k) => p384::ecdsa::Signature::from_der(der)
                .is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok()),
            Self::P521(k) => p521::ecdsa::Signature::from_der(der).is_ok_and(|s| {
                p521_verifier(k).is_some_and(|v| v.verify_prehash(&digest, &s).is_ok())
            }),
        }
    }
}

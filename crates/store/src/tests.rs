use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::memory::InMemory;

use super::*;

async fn collect(blob: Blob, range: Range<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut s = blob.stream(range);
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out
}

fn stores(dir: &Path) -> Vec<BlobStore> {
    vec![
        BlobStore::open_local(&dir.join("local"), true).unwrap(),
        BlobStore::with_object_store(Arc::new(InMemory::new()), &dir.join("mem-staging")).unwrap(),
    ]
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_upload_becomes_visible_only_after_verification() {
    let dir = tempfile::tempdir().unwrap();
    for store in stores(dir.path()) {
        let body = data((9 << 20) + 123);
        let sha = Sha256::of(&body);
        assert_eq!(store.size(&sha).await.unwrap(), None);
        let mut staging = store.stage(Some(sha), Some(body.len() as u64)).unwrap();
        for chunk in body.chunks(100_000) {
            staging.write(Bytes::copy_from_slice(chunk)).await.unwrap();
        }
        let verified = staging.finish().await.unwrap();
        assert_eq!(
            store.size(&sha).await.unwrap(),
            None,
            "not visible before publish"
        );
        store.publish(verified).await.unwrap();
        assert_eq!(store.size(&sha).await.unwrap(), Some(body.len() as u64));
        let blob = store.open(&sha).await.unwrap();
        assert_eq!(blob.size(), body.len() as u64);
        assert_eq!(collect(blob, 0..body.len() as u64).await, body);
        let blob = store.open(&sha).await.unwrap();
        assert_eq!(
            collect(blob, 5_000_000..5_000_010).await,
            body[5_000_000..5_000_010]
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path().join("local/staging"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatch_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for store in stores(dir.path()) {
        let body = data(1000);
        let claimed = Sha256::of(b"something else");
        let mut staging = store.stage(Some(claimed), Some(1000)).unwrap();
        staging.write(Bytes::from(body.clone())).await.unwrap();
        let err = staging.finish().await.unwrap_err();
        assert!(matches!(err, StoreError::Mismatch { .. }), "{err}");
        assert_eq!(store.size(&claimed).await.unwrap(), None);
        assert_eq!(store.size(&Sha256::of(&body)).await.unwrap(), None);

        // Too many bytes are refused as they arrive.
        let mut staging = store.stage(None, Some(10)).unwrap();
        let err = staging.write(Bytes::from(body.clone())).await.unwrap_err();
        assert!(matches!(err, StoreError::TooLarge(10)), "{err}");
        drop(staging);
    }
    assert_eq!(
        std::fs::read_dir(dir.path().join("local/staging"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("mem-staging"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_parts_assemble_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    for store in stores(dir.path()) {
        let body = data(2_500_000);
        let sha = Sha256::of(&body);
        let part = 1_000_000usize;
        let mp = store.stage_multipart("abc-123", body.len() as u64).unwrap();
        for i in [2usize, 0, 1] {
            let end = ((i + 1) * part).min(body.len());
            mp.write_part(
                (i * part) as u64,
                Bytes::copy_from_slice(&body[i * part..end]),
            )
            .await
            .unwrap();
        }
        let verified = mp.complete(sha).await.unwrap();
        store.publish(verified).await.unwrap();
        let blob = store.open(&sha).await.unwrap();
        assert_eq!(collect(blob, 0..body.len() as u64).await, body);

        let mp = store.stage_multipart("abc-124", 10).unwrap();
        assert!(
            mp.write_part(5, Bytes::from_static(b"0123456789"))
                .await
                .is_err()
        );
        assert!(matches!(
            mp.complete(sha).await,
            Err(StoreError::Mismatch { .. })
        ));
        assert!(store.stage_multipart("../x", 10).is_err());
    }
}

#[tokio::test]
async fn small_and_empty_blobs() {
    let dir = tempfile::tempdir().unwrap();
    for store in stores(dir.path()) {
        let sha = store.put_bytes(Bytes::new()).await.unwrap();
        assert_eq!(
            sha.to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let blob = store.open(&sha).await.unwrap();
        assert_eq!(blob.size(), 0);
        assert!(collect(blob, 0..0).await.is_empty());
        let sha = store.put_bytes(Bytes::from_static(b"hello")).await.unwrap();
        assert_eq!(
            store.read_all(&sha, 100).await.unwrap(),
            Bytes::from_static(b"hello")
        );
        assert!(store.read_all(&sha, 2).await.is_err());
        let missing = Sha256::of(b"missing");
        assert!(matches!(
            store.open(&missing).await,
            Err(StoreError::NotFound(_))
        ));
    }
}

#[test]
fn digests_parse_and_print() {
    let s = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
    let d: Sha256 = s.parse().unwrap();
    assert_eq!(d.to_string(), s.to_ascii_lowercase());
    assert!("xyz".parse::<Sha256>().is_err());
    assert!("g".repeat(64).parse::<Sha256>().is_err());
}

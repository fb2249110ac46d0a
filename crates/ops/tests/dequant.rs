//! Dequantisation against fixtures decoded by gguf-py (tests/fixtures/gen/dequant_fixtures.py),
//! plus error handling for partial blocks and unsupported types.

use std::path::PathBuf;

use proptest::prelude::*;
use weighhouse_ops::dequant::{DequantError, dequantize, is_supported};
use weighhouse_tensor::{DType, GgmlBlock};

/// Every type with a fixture; each must match the reference bit for bit.
const FIXTURE_TYPES: &[&str] = &[
    "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K",
    "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4",
];

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/dequant")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn dtype(name: &str) -> DType {
    name.parse().expect("known ggml type")
}

#[test]
fn matches_reference_bit_for_bit() {
    for &name in FIXTURE_TYPES {
        let blocks = fixture(&format!("{name}.bin"));
        let want: Vec<u32> = fixture(&format!("{name}.f32"))
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let mut got = Vec::new();
        dequantize(dtype(name), &blocks, &mut got).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.len(), want.len(), "{name}: element count");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g.to_bits(),
                *w,
                "{name}: element {i}: got {g:e}, want {:e}",
                f32::from_bits(*w)
            );
        }
    }
}

#[test]
fn appends_after_existing_values_block_by_block() {
    for &name in FIXTURE_TYPES {
        let d = dtype(name);
        let DType::Ggml(b) = d else { unreachable!() };
        let blocks = fixture(&format!("{name}.bin"));
        let mut whole = Vec::new();
        dequantize(d, &blocks, &mut whole).expect("whole");
        let mut pieces = vec![1.5f32];
        for block in blocks.chunks(b.block_bytes() as usize) {
            dequantize(d, block, &mut pieces).expect("one block");
        }
        assert_eq!(pieces[0], 1.5);
        assert_eq!(
            pieces[1..].iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            whole.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{name}"
        );
    }
}

#[test]
fn every_block_type_is_either_decoded_or_named_as_unsupported() {
    for id in 0..64 {
        let d = DType::Ggml(GgmlBlock(id));
        let mut out = Vec::new();
        match dequantize(d, &[], &mut out) {
            Ok(()) => assert!(is_supported(d), "id {id}"),
            Err(DequantError::Unsupported { dtype }) => {
                assert_eq!(dtype, d);
                assert!(!is_supported(d), "id {id}");
            }
            Err(e) => panic!("id {id}: {e}"),
        }
    }
    for &name in FIXTURE_TYPES {
        assert!(is_supported(dtype(name)), "{name}");
    }
    for name in ["Q8_1", "IQ2_XXS", "IQ3_S", "IQ1_M", "NVFP4"] {
        let err = dequantize(dtype(name), &[], &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
}

fn supported_type() -> impl Strategy<Value = DType> {
    proptest::sample::select(FIXTURE_TYPES).prop_map(dtype)
}

proptest! {
    #[test]
    fn partial_blocks_are_rejected(d in supported_type(), blocks in 0usize..4, extra in 1usize..64) {
        let DType::Ggml(b) = d else { unreachable!() };
        let block_bytes = b.block_bytes() as usize;
        let extra = extra % block_bytes;
        prop_assume!(extra != 0);
        let bytes = vec![0u8; blocks * block_bytes + extra];
        let mut out = vec![3.0];
        let err = dequantize(d, &bytes, &mut out).unwrap_err();
        prop_assert_eq!(err.clone(), DequantError::PartialBlock { dtype: d, len: bytes.len(), block_bytes });
        prop_assert!(err.to_string().contains(b.name()));
        prop_assert_eq!(out, vec![3.0]);
    }

    #[test]
    fn any_whole_blocks_decode_to_the_right_count(
        d in supported_type(),
        seed in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let DType::Ggml(b) = d else { unreachable!() };
        let block_bytes = b.block_bytes() as usize;
        let whole = seed.len() / block_bytes * block_bytes;
        let mut out = Vec::new();
        dequantize(d, &seed[..whole], &mut out).expect("whole blocks");
        prop_assert_eq!(out.len(), whole / block_bytes * b.block_elements() as usize);
    }

    #[test]
    fn unsupported_ids_are_rejected(id in any::<u32>(), len in 0usize..100) {
        let d = DType::Ggml(GgmlBlock(id));
        prop_assume!(!is_supported(d));
        let mut out = Vec::new();
        prop_assert_eq!(
            dequantize(d, &vec![0; len], &mut out),
            Err(DequantError::Unsupported { dtype: d })
        );
        prop_assert!(out.is_empty());
    }
}

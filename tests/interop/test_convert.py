"""Files written by `wh convert` are read by the reference `safetensors` package, tensor for tensor,
and dtype conversion agrees with numpy / ml_dtypes rounding."""

import hashlib
import json
import subprocess

import ml_dtypes
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file

NUMPY_READABLE = {"F64", "F32", "F16", "I64", "I32", "I16", "I8", "U8", "BOOL", "U16", "U32", "U64"}


def convert(wh, src, dst, *extra):
    subprocess.run([wh, "-q", "convert", *extra, str(src), str(dst)], check=True)


def raw_tensors(path):
    """name -> (dtype, shape, raw bytes), straight from the file, cross-checked by safe_open."""
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    out = {}
    with safe_open(str(path), framework="numpy") as f:
        keys = set(f.keys())
        for name, info in header.items():
            if name == "__metadata__":
                continue
            assert name in keys
            sl = f.get_slice(name)
            assert sl.get_dtype() == info["dtype"]
            assert list(sl.get_shape()) == info["shape"]
            b, e = info["data_offsets"]
            out[name] = (info["dtype"], info["shape"], data[8 + n + b : 8 + n + e])
    return out


def read_output(dst):
    files = sorted(dst.glob("*.safetensors")) if dst.is_dir() else [dst]
    out = {}
    for f in files:
        out.update(raw_tensors(f))
        arrays = load_file(str(f)) if all(v[0] in NUMPY_READABLE for v in raw_tensors(f).values()) else {}
        for name, arr in arrays.items():
            assert np.ascontiguousarray(arr).tobytes() == out[name][2], name
    return out


def truth(fixtures):
    return json.loads((fixtures / "truth.json").read_text())


@pytest.mark.parametrize(
    "key",
    ["mixed.safetensors", "gpt2_st", "gpt2_bin", "zip_mixed.pt", "legacy_mixed.pt", "param.pt", "train_ckpt.pth", "arrays.npz"],
)
def test_converted_files_match_the_reference_digests(wh, fixtures, tmp_path, key):
    dst = tmp_path / "out"
    convert(wh, fixtures / key, dst)
    got = read_output(dst)
    want = truth(fixtures)[key]
    assert set(got) == set(want)
    for name, (dtype, shape, data) in got.items():
        assert dtype == want[name]["dtype"], name
        assert shape == want[name]["shape"], name
        assert hashlib.sha256(data).hexdigest() == want[name]["sha256"], name


def test_sharded_output_loads_with_its_index(wh, fixtures, tmp_path):
    dst = tmp_path / "out"
    convert(wh, fixtures / "gpt2_bin", dst, "--max-shard-size", "50KB")
    index = json.loads((dst / "model.safetensors.index.json").read_text())
    total = 0
    for name, shard in index["weight_map"].items():
        with safe_open(str(dst / shard), framework="numpy") as f:
            arr = f.get_tensor(name)
            total += arr.nbytes
    assert index["metadata"]["total_size"] == total
    assert len(set(index["weight_map"].values())) > 1


@pytest.mark.parametrize(
    "flag,np_dtype",
    [("bf16", ml_dtypes.bfloat16), ("f16", np.float16), ("f32", np.float32)],
)
def test_dtype_conversion_matches_numpy_rounding(wh, tmp_path, flag, np_dtype):
    rng = np.random.default_rng(7)
    special = np.array([0.0, -0.0, np.inf, -np.inf, 65504.0, 65520.0, 1e-8, 6e-5, 3.4e38, 1 + 2**-8, 1 + 3 * 2**-8], dtype=np.float32)
    f32 = np.concatenate([rng.standard_normal(4096).astype(np.float32) * 100, special])
    f64 = np.concatenate([rng.standard_normal(4096) * 1e3, [1 + 2**-11 + 2**-40, 2.0**-25, 65519.999]])
    ints = np.arange(10, dtype=np.int32)
    from safetensors.numpy import save_file

    src = tmp_path / "src.safetensors"
    save_file({"f32": f32, "f64": f64, "ints": ints}, str(src))
    dst = tmp_path / "dst.safetensors"
    convert(wh, src, dst, "--dtype", flag)
    got = raw_tensors(dst)
    with np.errstate(over="ignore"):
        assert got["f32"][2] == f32.astype(np_dtype).tobytes()
    if np_dtype is ml_dtypes.bfloat16:
        # torch rounds double -> bfloat16 through float.
        assert got["f64"][2] == f64.astype(np.float32).astype(np_dtype).tobytes()
    else:
        assert got["f64"][2] == f64.astype(np_dtype).tobytes()
    assert got["ints"][0] == "I32" and got["ints"][2] == ints.tobytes()

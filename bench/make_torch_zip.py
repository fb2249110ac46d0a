#!/usr/bin/env python3
"""Write a PyTorch zip checkpoint (the byte layout `torch.save` produces) of a given size, without torch.

The pickle is made by the standard library with stand-in `torch` classes, so its opcode stream is
the one torch writes (GLOBAL torch._utils._rebuild_tensor_v2, torch.FloatStorage, BINPERSID tuples,
an OrderedDict state dict); storages are STORED zip members padded to 64-byte offsets like torch's.

usage: make_torch_zip.py OUT.pt COUNT TENSOR_KIB
"""

import collections
import pickle
import struct
import sys
import types
import zipfile


def fake_torch():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("stand-in only")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    return FloatStorage, _rebuild_tensor_v2


FloatStorage, rebuild = fake_torch()


class Storage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class Tensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, shape

    def __reduce_ex__(self, protocol):
        stride = (self.shape[1], 1)
        return (rebuild, (self.storage, 0, self.shape, stride, False, collections.OrderedDict()))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", FloatStorage, obj.key, "cpu", obj.numel)
        return None


def main():
    out, count, tensor_kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cols = 256
    rows = tensor_kib
    state = collections.OrderedDict()
    for i in range(count):
        state[f"layers.{i}.weight"] = Tensor(Storage(str(i), rows * cols), (rows, cols))
    import io

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(state)
    chunk = struct.pack("<f", 0.5) * (1 << 14)  # 64 KiB
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        z.writestr("model/data.pkl", buf.getvalue())
        z.writestr("model/byteorder", "little")
        for i in range(count):
            info = zipfile.ZipInfo(f"model/data/{i}")
            # Pad the local header so the data starts 64-byte aligned, as torch does.
            offset = z.fp.tell() + 30 + len(info.filename) + 20  # zip64 extra written by force_zip64
            pad = (-(offset + 4)) % 64
            info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
            with z.open(info, "w", force_zip64=True) as f:
                for _ in range(tensor_kib // 64):
                    f.write(chunk)
        z.writestr("model/version", "3\n")


if __name__ == "__main__":
    main()

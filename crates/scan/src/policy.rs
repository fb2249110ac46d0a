//! Which globals a pickle may name: the `torch.load(weights_only=True)` allowlist, a compatibility
//! profile of harmless data classes, typed rules for a few callables whose arguments matter, and a
//! denylist used only to pick the severity and explain a finding.
//!
//! Names are `module.qualname` after the renaming the loader applies (py2 names for protocol < 3,
//! torch's storage aliases). Matching is exact: no prefix matches, except the documented
//! `numpy.dtypes.*DType` family.

/// The profile to check against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The weights-only allowlist plus the compatibility profile (default).
    Compat,
    /// Only what `torch.load(weights_only=True)` accepts.
    Strict,
}

/// `torch._weights_only_unpickler` allowlist (torch 2.6+; its dtypes, storage and tensor classes,
/// rebuild functions and quantization schemes).
const WEIGHTS_ONLY: &[&str] = &[
    "collections.OrderedDict",
    "collections.Counter",
    "torch.nn.parameter.Parameter",
    "torch.serialization._get_layout",
    "torch.Size",
    "torch.Tensor",
    "torch.device",
    "_codecs.encode",
    "builtins.bytearray",
    "builtins.set",
    "builtins.complex",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_wrapper_subclass",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor",
    "torch._tensor._rebuild_from_type_v2",
    "torch.per_tensor_affine",
    "torch.per_tensor_symmetric",
    "torch.per_channel_affine",
    "torch.per_channel_symmetric",
    "torch.per_channel_affine_float_qparams",
    "torch.storage.TypedStorage",
    "torch.storage.UntypedStorage",
    "torch.sparse_coo",
    "torch.strided",
];

const DTYPES: &[&str] = &[
    "float64",
    "float32",
    "float16",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
    "bfloat16",
    "complex128",
    "complex64",
    "qint8",
    "qint32",
    "quint8",
    "quint4x2",
    "quint2x4",
    "float8_e5m2",
    "float8_e4m3fn",
    "float8_e5m2fnuz",
    "float8_e4m3fnuz",
    "float8_e8m0fnu",
    "bits8",
    "bits16",
    "bits1x8",
    "bits2x4",
    "bits4x2",
    "complex32",
    "uint16",
    "uint32",
    "uint64",
    "uint1",
    "uint2",
    "uint3",
    "uint4",
    "uint5",
    "uint6",
    "uint7",
    "int1",
    "int2",
    "int3",
    "int4",
    "int5",
    "int6",
    "int7",
];

const STORAGE_KINDS: &[&str] = &[
    "Double",
    "Float",
    "Half",
    "Long",
    "Int",
    "Short",
    "Char",
    "Byte",
    "Bool",
    "BFloat16",
    "ComplexDouble",
    "ComplexFloat",
    "QInt8",
    "QInt32",
    "QUInt8",
    "QUInt4x2",
    "QUInt2x4",
];

/// Harmless data classes and reconstructors outside the weights-only list, each with its reason.
const COMPAT: &[(&str, &str)] = &[
    (
        "numpy.core.multiarray._reconstruct",
        "numpy array reconstructor (numpy 1)",
    ),
    (
        "numpy._core.multiarray._reconstruct",
        "numpy array reconstructor (numpy 2)",
    ),
    ("numpy.ndarray", "numpy array class"),
    ("numpy.dtype", "numpy dtype class"),
    (
        "numpy.core.multiarray.scalar",
        "numpy scalar reconstructor (numpy 1)",
    ),
    (
        "numpy._core.multiarray.scalar",
        "numpy scalar reconstructor (numpy 2)",
    ),
    (
        "numpy._core.numeric._frombuffer",
        "numpy array from a pickle-5 buffer",
    ),
    (
        "numpy.core.numeric._frombuffer",
        "numpy array from a pickle-5 buffer (numpy 1)",
    ),
    ("builtins.frozenset", "pure data type"),
    ("builtins.slice", "pure data type"),
    ("builtins.range", "pure data type"),
    (
        "builtins.object",
        "base class, used with copyreg._reconstructor",
    ),
    ("builtins.int", "pure data type"),
    ("builtins.float", "pure data type"),
    ("builtins.str", "pure data type"),
    ("builtins.bytes", "pure data type"),
    ("builtins.bool", "pure data type"),
    ("builtins.list", "pure data type"),
    ("builtins.dict", "pure data type"),
    ("builtins.tuple", "pure data type"),
    ("builtins.Ellipsis", "constant"),
    ("builtins.NotImplemented", "constant"),
    (
        "collections.defaultdict",
        "dict subclass; its factory is checked",
    ),
    ("collections.deque", "pure data type"),
    ("datetime.date", "pure data type"),
    ("datetime.time", "pure data type"),
    ("datetime.datetime", "pure data type"),
    ("datetime.timedelta", "pure data type"),
    ("datetime.timezone", "pure data type"),
    ("decimal.Decimal", "pure data type"),
    ("fractions.Fraction", "pure data type"),
    ("uuid.UUID", "pure data type (the class only)"),
    ("pathlib.PurePosixPath", "path value (no methods)"),
    ("pathlib.PureWindowsPath", "path value (no methods)"),
    ("pathlib.PosixPath", "path value (no methods)"),
    ("pathlib.WindowsPath", "path value (no methods)"),
    ("pathlib.Path", "path value (no methods)"),
    ("argparse.Namespace", "attribute bag"),
    ("torch.torch_version.TorchVersion", "version string"),
    ("torch._C._nn.gelu", "activation function reference"),
    ("enum.Enum", "enumeration base"),
    (
        "transformers.training_args.TrainingArguments",
        "transformers training arguments (data class)",
    ),
    (
        "transformers.trainer_utils.IntervalStrategy",
        "transformers enum",
    ),
    (
        "transformers.trainer_utils.SchedulerType",
        "transformers enum",
    ),
    (
        "transformers.trainer_utils.HubStrategy",
        "transformers enum",
    ),
    (
        "transformers.trainer_utils.SaveStrategy",
        "transformers enum",
    ),
    (
        "transformers.training_args.OptimizerNames",
        "transformers enum",
    ),
    ("transformers.debug_utils.DebugOption", "transformers enum"),
    (
        "accelerate.utils.dataclasses.DistributedType",
        "accelerate enum",
    ),
    (
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "joblib inline array (handled by the joblib hook)",
    ),
    (
        "joblib.numpy_pickle_compat.NDArrayWrapper",
        "legacy joblib array wrapper",
    ),
    (
        "joblib.numpy_pickle_compat.ZNDArrayWrapper",
        "legacy joblib array wrapper",
    ),
    (
        "sklearn.linear_model._logistic.LogisticRegression",
        "scikit-learn estimator",
    ),
    (
        "sklearn.linear_model._base.LinearRegression",
        "scikit-learn estimator",
    ),
    (
        "sklearn.linear_model._ridge.Ridge",
        "scikit-learn estimator",
    ),
    (
        "sklearn.preprocessing._data.StandardScaler",
        "scikit-learn estimator",
    ),
    (
        "sklearn.preprocessing._data.MinMaxScaler",
        "scikit-learn estimator",
    ),
    (
        "sklearn.preprocessing._label.LabelEncoder",
        "scikit-learn estimator",
    ),
    ("sklearn.decomposition._pca.PCA", "scikit-learn estimator"),
    (
        "sklearn.tree._classes.DecisionTreeClassifier",
        "scikit-learn estimator",
    ),
    (
        "sklearn.tree._classes.DecisionTreeRegressor",
        "scikit-learn estimator",
    ),
    (
        "sklearn.ensemble._forest.RandomForestClassifier",
        "scikit-learn estimator",
    ),
    (
        "sklearn.ensemble._forest.RandomForestRegressor",
        "scikit-learn estimator",
    ),
    ("sklearn.cluster._kmeans.KMeans", "scikit-learn estimator"),
    ("sklearn.svm._classes.SVC", "scikit-learn estimator"),
    ("sklearn.pipeline.Pipeline", "scikit-learn estimator"),
];

/// Callables allowed only with arguments of a given shape (see [`typed_rule`]).
pub(crate) const TYPED: &[(&str, &str)] = &[
    ("functools.partial", "only of an allowed callable"),
    (
        "copyreg._reconstructor",
        "only of an allowed class with base builtins.object",
    ),
    ("copyreg.__newobj__", "only of an allowed class"),
    ("logging.getLogger", "only with a literal logger name"),
    ("re._compile", "only with a literal pattern and flags"),
];

/// Modules whose every global is code execution or I/O in a loader's hands.
const DENY_MODULES: &[&str] = &[
    "os",
    "posix",
    "nt",
    "sys",
    "subprocess",
    "runpy",
    "pty",
    "socket",
    "shutil",
    "pickle",
    "_pickle",
    "marshal",
    "importlib",
    "pkgutil",
    "pip",
    "webbrowser",
    "ctypes",
    "code",
    "codeop",
    "commands",
    "asyncio",
    "multiprocessing",
    "tempfile",
    "bdb",
    "pdb",
    "timeit",
    "trace",
    "profile",
    "cProfile",
    "doctest",
    "platform",
    "distutils",
    "setuptools",
    "venv",
    "ensurepip",
    "http",
    "urllib",
    "ftplib",
    "smtplib",
    "telnetlib",
    "xmlrpc",
    "shelve",
    "dill",
    "cloudpickle",
    "_posixsubprocess",
    "signal",
    "_thread",
    "threading",
    "zipimport",
    "imp",
    "glob",
    "fileinput",
    "sqlite3",
    "dbm",
    "io",
    "_io",
    "gc",
    "inspect",
    "types",
    "operator",
    "functools",
    "itertools",
    "builtins",
    "numpy.testing",
    "torch.hub",
    "torch.utils.bottleneck",
    "torch.jit",
    "torch.package",
    "torch.utils.cpp_extension",
    "torch._dynamo",
    "torch._inductor",
];

/// Single callables that run code, import modules, write files or load nested pickles.
const DENY_NAMES: &[&str] = &[
    "builtins.eval",
    "builtins.exec",
    "builtins.compile",
    "builtins.open",
    "builtins.__import__",
    "builtins.getattr",
    "builtins.setattr",
    "builtins.delattr",
    "builtins.globals",
    "builtins.locals",
    "builtins.vars",
    "builtins.input",
    "builtins.breakpoint",
    "builtins.help",
    "builtins.memoryview",
    "builtins.type",
    "builtins.super",
    "uuid._get_command_stdout",
    "torch.load",
    "torch.storage._load_from_bytes",
    "torch.serialization.load",
    "numpy.load",
    "numpy.lib.npyio.load",
    "numpy.testing._private.utils.runstring",
    "joblib.load",
    "pandas.read_pickle",
    "pathlib.Path.write_text",
    "pathlib.Path.write_bytes",
    "pathlib.Path.open",
    "pathlib.Path.unlink",
    "pathlib.PosixPath.write_text",
    "pathlib.PosixPath.write_bytes",
    "pathlib.PosixPath.open",
    "keras.models.load_model",
];

/// Whether `name` is on torch's weights-only allowlist.
pub fn weights_only(name: &str) -> bool {
    if WEIGHTS_ONLY.contains(&name) {
        return true;
    }
    if let Some(rest) = name.strip_prefix("torch.") {
        if DTYPES.contains(&rest) {
            return true;
        }
        let rest = rest.strip_prefix("cuda.").unwrap_or(rest);
        if let Some(kind) = rest.strip_suffix("Storage") {
            return STORAGE_KINDS.contains(&kind) || kind.is_empty();
        }
        if let Some(kind) = rest.strip_suffix("Tensor") {
            let kind = kind.strip_prefix("sparse.").unwrap_or(kind);
            return STORAGE_KINDS.contains(&kind);
        }
    }
    false
}

/// The compatibility profile's reason for `name`, if it is on it.
pub fn compat(name: &str) -> Option<&'static str> {
    if let Some((_, why)) = COMPAT.iter().find(|(n, _)| *n == name) {
        return Some(why);
    }
    if name
        .strip_prefix("numpy.dtypes.")
        .is_some_and(|c| c.ends_with("DType") && !c.contains('.'))
    {
        return Some("numpy dtype class");
    }
    None
}

/// The rule for a callable allowed only with certain arguments.
pub fn typed(name: &str) -> Option<&'static str> {
    TYPED.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// Whether `name` is known to execute code or touch the system.
pub fn denied(name: &str) -> bool {
    if DENY_NAMES.contains(&name) {
        return true;
    }
    // Allowed names inside denied modules (builtins.set, functools.partial...) are decided by the
    // allowlists first; this only picks the severity of what is not allowed.
    DENY_MODULES
        .iter()
        .any(|m| name.len() > m.len() && name.starts_with(m) && name.as_bytes()[m.len()] == b'.')
}

/// Whether `name` is allowed by `profile` as a plain reference or call.
pub fn allowed(name: &str, profile: Profile) -> bool {
    weights_only(name) || (profile == Profile::Compat && compat(name).is_some())
}

/// `_compat_pickle`'s renaming of Python 2 names (protocol < 3), and torch's for storages.
pub fn normalize(module: &str, name: &str, protocol: u8) -> (String, String) {
    let (mut module, mut name) = (module.to_string(), name.to_string());
    if protocol < 3 {
        let pair = match (module.as_str(), name.as_str()) {
            ("__builtin__", "xrange") => Some(("builtins", "range")),
            ("__builtin__", "reduce") => Some(("functools", "reduce")),
            ("__builtin__", "intern") => Some(("sys", "intern")),
            ("__builtin__", "unichr") => Some(("builtins", "chr")),
            ("__builtin__", "unicode") | ("__builtin__", "basestring") => Some(("builtins", "str")),
            ("__builtin__", "long") => Some(("builtins", "int")),
            ("itertools", "izip") => Some(("builtins", "zip")),
            ("itertools", "imap") => Some(("builtins", "map")),
            ("itertools", "ifilter") => Some(("builtins", "filter")),
            ("UserDict", "UserDict") => Some(("collections", "UserDict")),
            ("UserList", "UserList") => Some(("collections", "UserList")),
            ("whichdb", "whichdb") => Some(("dbm", "whichdb")),
            _ => None,
        };
        if let Some((m, n)) = pair {
            (module, name) = (m.to_string(), n.to_string());
        } else {
            let mapped = match module.as_str() {
                "__builtin__" | "exceptions" => Some("builtins"),
                "copy_reg" => Some("copyreg"),
                "cPickle" => Some("pickle"),
                "commands" => Some("subprocess"),
                "Queue" => Some("queue"),
                "cStringIO" | "StringIO" => Some("io"),
                "urllib2" => Some("urllib.request"),
                "httplib" => Some("http.client"),
                "_winreg" => Some("winreg"),
                "thread" => Some("_thread"),
                "dummy_thread" => Some("_dummy_thread"),
                "repr" => Some("reprlib"),
                "cpickle" => Some("pickle"),
                "md5" | "sha" => Some("hashlib"),
                _ => None,
            };
            if let Some(m) = mapped {
                module = m.to_string();
            }
        }
    }
    if module == "torch.tensor" {
        module = "torch._tensor".into();
    }
    (module, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert!(weights_only("torch.FloatStorage"));
        assert!(weights_only("torch.cuda.HalfStorage"));
        assert!(weights_only("torch.bfloat16"));
        assert!(weights_only("torch._utils._rebuild_tensor_v2"));
        assert!(!weights_only("torch.load"));
        assert!(compat("numpy.dtypes.Float32DType").is_some());
        assert!(compat("numpy.dtypes.evil.Float32DType").is_none());
        assert!(denied("posix.system") && denied("builtins.eval") && denied("os.path.join"));
        assert!(!denied("osx.thing") && !denied("collections.OrderedDict"));
        assert_eq!(
            normalize("__builtin__", "eval", 2),
            ("builtins".into(), "eval".into())
        );
        assert_eq!(
            normalize("__builtin__", "eval", 4),
            ("__builtin__".into(), "eval".into())
        );
        assert_eq!(
            normalize("copy_reg", "_reconstructor", 0),
            ("copyreg".into(), "_reconstructor".into())
        );
    }
}

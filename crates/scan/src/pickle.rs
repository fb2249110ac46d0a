//! A symbolic pickle machine: it runs every opcode of every protocol on a real stack, memo and
//! frame model, building values instead of objects, and records every global the stream would
//! import and how each is used. Nothing is imported or called.
//!
//! It follows CPython's C unpickler where scanners usually diverge: any opcode at any protocol,
//! `MEMOIZE` storing at `len(memo)`, `STACK_GLOBAL` operands taken from any earlier string,
//! dotted names resolved attribute by attribute at protocol 4+, py2 names renamed below protocol 3.
//! Frames are checked strictly: an opcode or argument that crosses a frame's end is reported
//! (CPython's buffer would re-read past it, executing bytes other tools treat as data).

use std::collections::HashMap;

use weighhouse_formats::Limits;
use weighhouse_formats::pickle::op::{self, Arg};

pub use crate::error::PickleError;
use crate::policy::{self, Profile};
use crate::report::{Report, Severity};

/// Deepest nesting of pickles inside pickles, archives and compressed streams, whatever
/// [`Limits::max_depth`] says: each layer may unpack up to [`Limits::max_inflated_bytes`].
pub const MAX_NESTING: u32 = 8;

/// The most opcodes the machine runs in one pickle, whatever the limits allow: a real checkpoint's
/// pickle has a few per tensor, and every opcode costs time.
pub const MAX_OPCODES: u64 = 200_000_000;

/// The most memo entries the machine keeps, whatever the limits allow: each costs memory.
pub const MAX_MEMO: usize = 10_000_000;

/// What keeps a hostile stream from exhausting memory or time: the scanner's reading of the
/// workspace's one [`Limits`] type, made by [`Budget::from_limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Opcodes per pickle.
    pub(crate) opcodes: u64,
    /// Values alive at once (stack plus containers).
    pub(crate) values: usize,
    /// Memo entries.
    pub(crate) memo: usize,
    /// Nesting of pickles inside pickles, archives and compressed streams.
    pub(crate) depth: u32,
}

impl Budget {
    /// The bounds `limits` sets for the pickle machine:
    ///
    /// * opcodes per pickle: [`Limits::max_pickle_bytes`] (each opcode takes at least one byte,
    ///   so a stream the strict reader reads whole never reaches it), at most [`MAX_OPCODES`];
    /// * values alive at once: [`Limits::max_pickle_items`]; memo entries: the same, at most
    ///   [`MAX_MEMO`];
    /// * nesting of pickles inside pickles, archives and compressed streams:
    ///   [`Limits::max_depth`], at most [`MAX_NESTING`].
    pub fn from_limits(limits: &Limits) -> Self {
        let items = usize::try_from(limits.max_pickle_items).unwrap_or(usize::MAX);
        Self {
            opcodes: limits.max_pickle_bytes.min(MAX_OPCODES),
            values: items,
            memo: items.min(MAX_MEMO),
            depth: u32::try_from(limits.max_depth)
                .unwrap_or(u32::MAX)
                .min(MAX_NESTING),
        }
    }

    /// The same bounds, with no nesting: bytes inside the pickle are not scanned as payloads.
    pub(crate) fn flat(self) -> Self {
        Self { depth: 0, ..self }
    }

    /// The nesting bound.
    pub(crate) fn depth(&self) -> u32 {
        self.depth
    }
}

/// A value on the stack. Containers are kept by index into the value arena so that mutations
/// (APPEND, SETITEM, BUILD) are seen through every reference, as in CPython.
#[derive(Debug, Clone)]
enum Val {
    None,
    Int(i64),
    BigInt,
    Float,
    Bool,
    Str(String),
    Bytes(usize, usize),
    Tuple(Vec<usize>),
    List(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    Set,
    Global(usize),
    Call { callee: usize, args: usize },
    PersId,
    Opaque,
}

/// How a global was used.
#[derive(Debug, Clone)]
struct GlobalUse {
    name: String,
    offset: usize,
    called: bool,
    built: bool,
    /// The typed rule was satisfied at every call.
    typed_ok: bool,
    typed_calls: u32,
}

/// The result of one pickle.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Bytes consumed (through STOP), when the pickle ended properly.
    pub end: Option<usize>,
    /// The stream can be loaded by `torch.load(weights_only=True)`.
    pub weights_only_loadable: bool,
    /// Persistent ids seen: `(storage type global, key)` pairs of torch storages.
    pub storages: Vec<(String, String)>,
    /// The top-level value is a list of strings (torch legacy's key list).
    pub string_list: Option<Vec<String>>,
    /// The whole pickle is one integer (torch legacy's magic number and protocol records).
    pub single_int: Option<i64>,
    /// The whole pickle is the 80-bit legacy magic number.
    pub is_legacy_magic: bool,
    /// Why the machine stopped before `STOP`, if it did (the report says so too).
    pub error: Option<PickleError>,
}

/// Where nested payloads found in the stream go to be scanned.
pub type NestedScan<'a> = dyn FnMut(&[u8], &str, &mut Report) + 'a;

struct Vm<'a> {
    data: &'a [u8],
    pos: usize,
    loc: &'a str,
    vals: Vec<Val>,
    stack: Vec<usize>,
    marks: Vec<usize>,
    memo: HashMap<u64, usize>,
    memoize_count: u64,
    saw_put: bool,
    saw_memoize: bool,
    last_put: Option<u64>,
    frame_end: Option<usize>,
    protocol: u8,
    globals: Vec<GlobalUse>,
    profile: Profile,
    budget: Budget,
    wo: bool,
    storages: Vec<(String, String)>,
    joblib: bool,
}

/// The opcodes torch's weights-only unpickler implements; any other makes
/// `torch.load(weights_only=True)` refuse the stream.
const WEIGHTS_ONLY_OPS: &[u8] = &[
    op::GLOBAL,
    op::NEWOBJ,
    op::REDUCE,
    op::BUILD,
    op::APPEND,
    op::APPENDS,
    op::SETITEM,
    op::SETITEMS,
    op::BININT2,
    op::MARK,
    op::TUPLE,
    op::TUPLE1,
    op::TUPLE2,
    op::TUPLE3,
    op::NONE,
    op::NEWFALSE,
    op::NEWTRUE,
    op::EMPTY_TUPLE,
    op::EMPTY_LIST,
    op::EMPTY_DICT,
    op::EMPTY_SET,
    op::BININT,
    op::BININT1,
    op::BINFLOAT,
    op::BINUNICODE,
    op::PROTO,
    op::STOP,
    op::BINPERSID,
    op::LONG1,
    op::BINGET,
    op::LONG_BINGET,
    op::BINPUT,
    op::LONG_BINPUT,
];

/// Opcodes a protocol 0 or 1 pickle may start with.
const FIRST_OPS: &[u8] = &[
    op::MARK,
    op::EMPTY_DICT,
    op::EMPTY_LIST,
    op::EMPTY_TUPLE,
    op::GLOBAL,
    op::NONE,
    op::INT,
    op::BININT,
    op::BININT1,
    op::UNICODE,
    op::STRING,
    op::BINUNICODE,
    op::SHORT_BINSTRING,
    op::BINSTRING,
    op::BINFLOAT,
    op::FLOAT,
    op::LIST,
];

impl<'a> Vm<'a> {
    fn push(&mut self, v: Val) -> Result<usize, PickleError> {
        if self.vals.len() >= self.budget.values {
            return Err(PickleError::TooManyValues(self.budget.values));
        }
        self.vals.push(v);
        let id = self.vals.len() - 1;
        self.stack.push(id);
        Ok(id)
    }

    fn new_val(&mut self, v: Val) -> Result<usize, PickleError> {
        if self.vals.len() >= self.budget.values {
            return Err(PickleError::TooManyValues(self.budget.values));
        }
        self.vals.push(v);
        Ok(self.vals.len() - 1)
    }

    fn pop(&mut self) -> Result<usize, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(PickleError::StackUnderflow);
        }
        Ok(self.stack.pop().expect("checked"))
    }

    fn top(&self) -> Result<usize, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(PickleError::StackUnderflow);
        }
        Ok(*self.stack.last().expect("checked"))
    }

    fn pop_mark(&mut self) -> Result<Vec<usize>, PickleError> {
        let m = self.marks.pop().ok_or(PickleError::NoMark)?;
        Ok(self.stack.split_off(m))
    }

    /// Take `n` argument bytes, checking the frame.
    fn take(&mut self, n: usize, r: &mut Report) -> Result<&'a [u8], PickleError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(PickleError::Truncated)?;
        if let Some(fe) = self.frame_end
            && end > fe
        {
            r.add(
                "pickle.frame_divergence",
                Severity::Critical,
                &format!("{}@{}", self.loc, self.pos),
                format!("an argument runs past the end of its frame (frame ends at {fe}, argument at {}..{end}): CPython re-reads past the frame and executes bytes other tools skip", self.pos),
            );
            self.frame_end = None;
        }
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn line(&mut self, r: &mut Report) -> Result<String, PickleError> {
        let rest = &self.data[self.pos..];
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(PickleError::TruncatedLine)?;
        let raw = self.take(nl + 1, r)?;
        let mut s = &raw[..nl];
        if s.last() == Some(&b'\r') {
            s = &s[..s.len() - 1];
        }
        Ok(String::from_utf8_lossy(s).into_owned())
    }

    fn uint(&mut self, n: usize, r: &mut Report) -> Result<u64, PickleError> {
        let b = self.take(n, r)?;
        let mut v = 0u64;
        for (i, x) in b.iter().enumerate() {
            v |= (*x as u64) << (8 * i);
        }
        Ok(v)
    }

    /// The fixed argument of opcode `code`, or the length of its counted one, as a little-endian
    /// unsigned integer of the width the opcode table gives.
    fn arg_uint(&mut self, code: u8, r: &mut Report) -> Result<u64, PickleError> {
        let width = match op::arg(code) {
            Some(Arg::Fixed(n) | Arg::Counted(n)) => n,
            _ => 0,
        };
        self.uint(width, r)
    }

    fn global(
        &mut self,
        module: &str,
        name: &str,
        offset: usize,
        r: &mut Report,
    ) -> Result<usize, PickleError> {
        let (m, n) = policy::normalize(module, name, self.protocol);
        let full = format!("{m}.{n}");
        let loc = format!("{}@{offset}", self.loc);
        if m.is_empty() || n.is_empty() || full.contains(['\n', '\0', ' ']) {
            r.add(
                "pickle.global.malformed",
                Severity::High,
                &loc,
                format!("malformed global name {full:?}"),
            );
        }
        if m.split('.')
            .chain(n.split('.'))
            .any(|c| c.starts_with("__") && c != "__builtin__")
        {
            r.add(
                "pickle.global.dunder",
                Severity::Critical,
                &loc,
                format!("global {full} walks a dunder attribute"),
            );
        }
        if !policy::weights_only(&full) {
            self.wo = false;
        }
        self.globals.push(GlobalUse {
            name: full,
            offset,
            called: false,
            built: false,
            typed_ok: true,
            typed_calls: 0,
        });
        let g = self.globals.len() - 1;
        self.push(Val::Global(g))
    }

    fn str_of(&self, id: usize) -> Option<&str> {
        match &self.vals[id] {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    fn global_of(&self, id: usize) -> Option<usize> {
        match &self.vals[id] {
            Val::Global(g) => Some(*g),
            _ => None,
        }
    }

    fn is_literal(&self, id: usize) -> bool {
        match &self.vals[id] {
            Val::None
            | Val::Int(_)
            | Val::BigInt
            | Val::Float
            | Val::Bool
            | Val::Str(_)
            | Val::Bytes(..) => true,
            Val::Tuple(items) => items.iter().all(|&i| self.is_literal(i)),
            _ => false,
        }
    }

    /// Whether the value is an allowed global (for typed rules).
    fn allowed_global(&self, id: usize) -> bool {
        self.global_of(id)
            .is_some_and(|g| policy::allowed(&self.globals[g].name, self.profile))
    }

    fn args_of(&self, id: usize) -> Vec<usize> {
        match &self.vals[id] {
            Val::Tuple(items) => items.clone(),
            _ => Vec::new(),
        }
    }

    /// Record a call of `callee` with `args` (a value id), checking typed rules and flagging
    /// higher-order calls. Returns the id of the result.
    fn call(
        &mut self,
        callee: usize,
        args: usize,
        offset: usize,
        r: &mut Report,
        nested: &mut NestedScan<'_>,
        depth: u32,
    ) -> Result<usize, PickleError> {
        let loc = format!("{}@{offset}", self.loc);
        match self.vals[callee].clone() {
            Val::Global(g) => {
                self.globals[g].called = true;
                let name = self.globals[g].name.clone();
                if policy::typed(&name).is_some() {
                    let a = self.args_of(args);
                    let ok = match name.as_str() {
                        "functools.partial" => a.first().is_some_and(|&f| self.allowed_global(f)),
                        "copyreg._reconstructor" => {
                            a.len() == 3
                                && self.allowed_global(a[0])
                                && self
                                    .global_of(a[1])
                                    .is_some_and(|b| self.globals[b].name == "builtins.object")
                        }
                        "copyreg.__newobj__" => a.first().is_some_and(|&f| self.allowed_global(f)),
                        "logging.getLogger" | "re._compile" => {
                            a.iter().all(|&x| self.is_literal(x))
                        }
                        _ => false,
                    };
                    self.globals[g].typed_calls += 1;
                    if !ok {
                        self.globals[g].typed_ok = false;
                    }
                }
                if name == "collections.defaultdict" {
                    let a = self.args_of(args);
                    if let Some(&f) = a.first()
                        && !matches!(self.vals[f], Val::None)
                        && !self.allowed_global(f)
                    {
                        r.add(
                            "pickle.defaultdict_factory",
                            Severity::High,
                            &loc,
                            "collections.defaultdict with a factory that is not allowed"
                                .to_string(),
                        );
                    }
                }
            }
            Val::Call { .. } => {
                r.add(
                    "pickle.higher_order_call",
                    Severity::High,
                    &loc,
                    "the result of a call is called again (a callable built at load time)",
                );
            }
            _ => {
                r.add(
                    "pickle.call_on_value",
                    Severity::Medium,
                    &loc,
                    "a call on a value that is not a global",
                );
            }
        }
        // Strings and bytes handed to a call may be payloads themselves (a pickle passed to loads).
        if depth < self.budget.depth {
            for a in self.args_of(args) {
                let bytes = match &self.vals[a] {
                    Val::Bytes(s, e) if e - s >= 8 => Some(self.data[*s..*e].to_vec()),
                    Val::Str(s) if s.len() >= 8 => Some(s.as_bytes().to_vec()),
                    _ => None,
                };
                if let Some(b) = bytes {
                    nested(&b, &format!("{loc}!arg"), r);
                }
            }
        }
        self.new_val(Val::Call { callee, args })
    }

    fn build(
        &mut self,
        target: usize,
        state: usize,
        offset: usize,
        r: &mut Report,
    ) -> Result<(), PickleError> {
        let loc = format!("{}@{offset}", self.loc);
        match self.vals[target].clone() {
            Val::Global(g) => {
                self.globals[g].built = true;
                r.add(
                    "pickle.build_on_global",
                    Severity::Critical,
                    &loc,
                    format!("BUILD sets attributes on {} itself (a module-level object), not on an instance", self.globals[g].name),
                );
            }
            Val::Call { callee, .. } => {
                if let Some(g) = self.global_of(callee) {
                    self.globals[g].built = true;
                    if self.joblib && self.globals[g].name.starts_with("joblib.numpy_pickle") {
                        return self.joblib_array(state, offset, r);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// joblib writes a NumpyArrayWrapper's array right after its BUILD: skip it (or scan it, for
    /// object arrays) exactly as `NumpyArrayWrapper.read_array` reads it.
    fn joblib_array(
        &mut self,
        state: usize,
        offset: usize,
        r: &mut Report,
    ) -> Result<(), PickleError> {
        let Val::Dict(items) = self.vals[state].clone() else {
            return Ok(());
        };
        let mut shape: Option<Vec<u64>> = None;
        let mut itemsize: Option<u64> = None;
        let mut object = false;
        let mut aligned = false;
        for (k, v) in items {
            match self.str_of(k) {
                Some("shape") => {
                    shape = match &self.vals[v] {
                        Val::Tuple(t) => t
                            .iter()
                            .map(|&x| match self.vals[x] {
                                Val::Int(i) if i >= 0 => Some(i as u64),
                                _ => None,
                            })
                            .collect(),
                        _ => None,
                    }
                }
                Some("dtype") => {
                    if let Val::Call { args, .. } = self.vals[v].clone()
                        && let Some(&code) = self.args_of(args).first()
                        && let Some(s) = self.str_of(code)
                    {
                        object = s.trim_start_matches(['<', '>', '|', '=']).starts_with('O');
                        itemsize = numpy_itemsize(s);
                    }
                }
                Some("numpy_array_alignment_bytes") => aligned = !matches!(self.vals[v], Val::None),
                _ => {}
            }
        }
        let loc = format!("{}@{offset}", self.loc);
        // joblib ends the frame before writing the array straight to the file.
        if self.frame_end == Some(self.pos) {
            self.frame_end = None;
        }
        if aligned {
            let pad = self.take(1, r)?[0] as usize;
            self.take(pad, r)?;
        }
        if object {
            // The array is a pickle of its own, inline.
            return Err(PickleError::JoblibObjectArray { at: self.pos });
        }
        let (Some(shape), Some(itemsize)) = (shape, itemsize) else {
            r.incomplete(&loc, "joblib array whose shape or dtype could not be read");
            return Err(PickleError::UnreadableJoblibArray);
        };
        let n = shape
            .iter()
            .try_fold(itemsize, |a, &d| a.checked_mul(d))
            .ok_or(PickleError::JoblibArrayOverflow)?;
        let n = usize::try_from(n).map_err(|_| PickleError::JoblibArrayTooLarge)?;
        self.take(n, r)?;
        Ok(())
    }
}

/// Item size of a numpy dtype code (`<f8`, `i4`, `float32`, ...).
fn numpy_itemsize(code: &str) -> Option<u64> {
    let c = code.trim_start_matches(['<', '>', '|', '=']);
    let named = match c {
        "float64" | "int64" | "uint64" | "complex64" => Some(8),
        "float32" | "int32" | "uint32" => Some(4),
        "float16" | "int16" | "uint16" => Some(2),
        "int8" | "uint8" | "bool" => Some(1),
        "complex128" => Some(16),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let kind = c.chars().next()?;
    let size: u64 = c[1..].parse().ok()?;
    match kind {
        'f' | 'i' | 'u' | 'c' | 'b' | 'S' | 'V' => Some(size),
        'U' => size.checked_mul(4),
        '?' => Some(1),
        _ => None,
    }
}

/// Run one pickle starting at `start`. Findings go to `r`; nested payloads to `nested`.
#[expect(
    clippy::too_many_arguments,
    reason = "where the pickle is, how to judge it, the budget, the nesting, and where findings and nested payloads go"
)]
pub fn run(
    data: &[u8],
    start: usize,
    loc: &str,
    profile: Profile,
    budget: Budget,
    joblib: bool,
    depth: u32,
    r: &mut Report,
    nested: &mut NestedScan<'_>,
) -> Outcome {
    let mut vm = Vm {
        data,
        pos: start,
        loc,
        vals: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        memoize_count: 0,
        saw_put: false,
        saw_memoize: false,
        last_put: None,
        frame_end: None,
        protocol: 0,
        globals: Vec::new(),
        profile,
        budget,
        wo: true,
        storages: Vec::new(),
        joblib,
    };
    let mut out = Outcome::default();
    let mut ops = 0u64;
    let result = loop {
        if vm.pos >= data.len() {
            break Err(PickleError::NoStop);
        }
        if let Some(fe) = vm.frame_end
            && vm.pos >= fe
        {
            vm.frame_end = None;
        }
        ops += 1;
        if ops > budget.opcodes {
            break Err(PickleError::TooManyOpcodes(budget.opcodes));
        }
        let offset = vm.pos;
        let code = data[vm.pos];
        if let Err(e) = vm.take(1, r) {
            break Err(e);
        }
        if !WEIGHTS_ONLY_OPS.contains(&code) {
            vm.wo = false;
        }
        let step = step(&mut vm, code, offset, r, nested, depth);
        match step {
            Ok(true) => break Ok(()),
            Ok(false) => {}
            Err(PickleError::JoblibObjectArray { at }) => {
                // An object array inside a joblib stream: a whole pickle inline. Scan it, then go on.
                let inner_loc = format!("{loc}@{at}!joblib-object-array");
                let inner = run(
                    data,
                    at,
                    &inner_loc,
                    profile,
                    budget,
                    true,
                    depth + 1,
                    r,
                    nested,
                );
                match inner.end {
                    Some(end) => vm.pos = end,
                    None => break Err(PickleError::UnreadableJoblibObjectArray),
                }
            }
            Err(e) => break Err(e),
        }
    };
    if vm.saw_put && vm.saw_memoize {
        r.add(
            "pickle.memo_anomaly",
            Severity::Critical,
            loc,
            "PUT and MEMOIZE are mixed: no Python pickler writes that",
        );
    }
    // Judge every global by how it was used.
    for g in &vm.globals {
        let l = format!("{loc}@{}", g.offset);
        let name = &g.name;
        let allowed = policy::allowed(name, profile)
            || (profile == Profile::Compat
                && policy::typed(name).is_some()
                && g.typed_ok
                && (g.typed_calls > 0 || !g.called));
        if policy::denied(name) && !allowed {
            let how = if g.called { "called" } else { "referenced" };
            r.add(
                "pickle.global.denylisted",
                Severity::Critical,
                &l,
                format!("{how} {name}, which runs code or touches the system"),
            );
        } else if !allowed {
            if g.called || g.built {
                r.add(
                    "pickle.global.not_allowed",
                    Severity::High,
                    &l,
                    format!("calls {name}, which is not on the allowlist"),
                );
            } else {
                r.add(
                    "pickle.global.referenced",
                    Severity::Medium,
                    &l,
                    format!("references {name}, which is not on the allowlist"),
                );
            }
        } else if !policy::weights_only(name) {
            let why = policy::compat(name).or(policy::typed(name)).unwrap_or("");
            r.add(
                "pickle.global.compat",
                Severity::Info,
                &l,
                format!("{name} ({why}) is outside torch's weights-only allowlist"),
            );
        }
    }
    match result {
        Ok(()) => {
            out.end = Some(vm.pos);
            if let Some(&top) = vm.stack.last() {
                match &vm.vals[top] {
                    Val::List(items) => {
                        let strs: Option<Vec<String>> = items
                            .iter()
                            .map(|&i| vm.str_of(i).map(str::to_string))
                            .collect();
                        out.string_list = strs;
                    }
                    Val::Int(i) => out.single_int = Some(*i),
                    _ => {}
                }
            }
            // torch's legacy magic-number record: the LONG1 magic number and STOP, nothing else.
            out.is_legacy_magic = data[start..vm.pos]
                .strip_suffix(&[op::STOP])
                .is_some_and(|m| m == weighhouse_formats::sniff::TORCH_LEGACY_MAGIC);
        }
        Err(e) => {
            r.incomplete(&format!("{loc}@{}", vm.pos), format!("pickle: {e}"));
            out.error = Some(e);
        }
    }
    out.weights_only_loadable = vm.wo && out.end.is_some();
    out.storages = vm.storages;
    out
}

/// Execute one opcode. `Ok(true)` at STOP.
fn step(
    vm: &mut Vm<'_>,
    code: u8,
    offset: usize,
    r: &mut Report,
    nested: &mut NestedScan<'_>,
    depth: u32,
) -> Result<bool, PickleError> {
    match code {
        op::STOP => return Ok(true),
        op::PROTO => {
            vm.protocol = vm.arg_uint(code, r)? as u8;
        }
        op::FRAME => {
            let n = vm.arg_uint(code, r)? as usize;
            if let Some(fe) = vm.frame_end
                && vm.pos < fe
            {
                r.add(
                    "pickle.frame_divergence",
                    Severity::Critical,
                    &format!("{}@{offset}", vm.loc),
                    "a FRAME starts inside another frame",
                );
            }
            let end = vm.pos.checked_add(n).ok_or(PickleError::FrameOverflow)?;
            if end > vm.data.len() {
                return Err(PickleError::FramePastEnd);
            }
            vm.frame_end = Some(end);
        }
        op::MARK => {
            if vm.marks.len() > 100_000 {
                return Err(PickleError::TooManyMarks);
            }
            vm.marks.push(vm.stack.len());
        }
        op::POP => {
            vm.pop()?;
        }
        op::POP_MARK => {
            vm.pop_mark()?;
        }
        op::DUP => {
            let t = vm.top()?;
            vm.stack.push(t);
        }
        op::NONE => {
            vm.push(Val::None)?;
        }
        op::NEWTRUE | op::NEWFALSE => {
            vm.push(Val::Bool)?;
        }
        op::INT => {
            let l = vm.line(r)?;
            let v = match l.as_str() {
                "00" | "01" => Val::Bool,
                s => s.trim().parse::<i64>().map(Val::Int).unwrap_or(Val::BigInt),
            };
            vm.push(v)?;
        }
        op::BININT => {
            let v = vm.arg_uint(code, r)? as u32 as i32 as i64;
            vm.push(Val::Int(v))?;
        }
        op::BININT1 | op::BININT2 => {
            let v = vm.arg_uint(code, r)? as i64;
            vm.push(Val::Int(v))?;
        }
        op::LONG => {
            let l = vm.line(r)?;
            let v = l
                .trim_end_matches('L')
                .parse::<i64>()
                .map(Val::Int)
                .unwrap_or(Val::BigInt);
            vm.push(v)?;
        }
        op::LONG1 => {
            let n = vm.arg_uint(code, r)? as usize;
            let b = vm.take(n, r)?;
            let v = if n <= 8 {
                let mut x: i64 = 0;
                for (i, byte) in b.iter().enumerate() {
                    x |= (*byte as i64) << (8 * i);
                }
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                    x -= 1i64 << (8 * n);
                }
                Val::Int(x)
            } else {
                Val::BigInt
            };
            vm.push(v)?;
        }
        op::LONG4 => {
            let n = vm.arg_uint(code, r)? as usize;
            vm.take(n, r)?;
            vm.push(Val::BigInt)?;
        }
        op::FLOAT => {
            vm.line(r)?;
            vm.push(Val::Float)?;
        }
        op::BINFLOAT => {
            vm.arg_uint(code, r)?;
            vm.push(Val::Float)?;
        }
        op::STRING => {
            let l = vm.line(r)?;
            let s = l.trim();
            let inner = if s.len() >= 2
                && (s.starts_with('\'') && s.ends_with('\'')
                    || s.starts_with('"') && s.ends_with('"'))
            {
                &s[1..s.len() - 1]
            } else {
                return Err(PickleError::UnquotedString);
            };
            vm.push(Val::Str(inner.to_string()))?;
        }
        op::UNICODE => {
            let l = vm.line(r)?;
            vm.push(Val::Str(l))?;
        }
        op::BINSTRING
        | op::BINUNICODE
        | op::BINUNICODE8
        | op::BINBYTES
        | op::BINBYTES8
        | op::BYTEARRAY8
        | op::SHORT_BINSTRING
        | op::SHORT_BINUNICODE
        | op::SHORT_BINBYTES => {
            let n =
                usize::try_from(vm.arg_uint(code, r)?).map_err(|_| PickleError::LengthOverflow)?;
            let start = vm.pos;
            let b = vm.take(n, r)?;
            let v = match code {
                op::BINSTRING
                | op::BINUNICODE
                | op::BINUNICODE8
                | op::SHORT_BINSTRING
                | op::SHORT_BINUNICODE => Val::Str(String::from_utf8_lossy(b).into_owned()),
                _ => Val::Bytes(start, start + n),
            };
            if matches!(code, op::BINBYTES | op::BINBYTES8 | op::BYTEARRAY8)
                && n >= 8
                && depth < vm.budget.depth
            {
                nested(b, &format!("{}@{start}!bytes", vm.loc), r);
            }
            vm.push(v)?;
        }
        op::NEXT_BUFFER => {
            vm.push(Val::Opaque)?;
        }
        op::READONLY_BUFFER => {
            vm.top()?;
        }
        op::EMPTY_TUPLE => {
            vm.push(Val::Tuple(Vec::new()))?;
        }
        op::TUPLE => {
            let items = vm.pop_mark()?;
            vm.push(Val::Tuple(items))?;
        }
        op::TUPLE1..=op::TUPLE3 => {
            let n = usize::from(code - op::TUPLE1 + 1);
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(vm.pop()?);
            }
            items.reverse();
            vm.push(Val::Tuple(items))?;
        }
        op::EMPTY_LIST => {
            vm.push(Val::List(Vec::new()))?;
        }
        op::LIST => {
            let items = vm.pop_mark()?;
            vm.push(Val::List(items))?;
        }
        op::EMPTY_DICT => {
            vm.push(Val::Dict(Vec::new()))?;
        }
        op::DICT => {
            let items = vm.pop_mark()?;
            if items.len() % 2 != 0 {
                return Err(PickleError::OddItems("DICT"));
            }
            let pairs = items.chunks(2).map(|c| (c[0], c[1])).collect();
            vm.push(Val::Dict(pairs))?;
        }
        op::EMPTY_SET => {
            vm.push(Val::Set)?;
        }
        op::FROZENSET => {
            vm.pop_mark()?;
            vm.push(Val::Set)?;
        }
        op::ADDITEMS => {
            vm.pop_mark()?;
            let t = vm.top()?;
            if !matches!(vm.vals[t], Val::Set) {
                r.add(
                    "pickle.additems_on_non_set",
                    Severity::High,
                    &format!("{}@{offset}", vm.loc),
                    "ADDITEMS on a value that is not a set calls its add()",
                );
            }
        }
        op::APPEND | op::APPENDS => {
            let items = if code == op::APPEND {
                vec![vm.pop()?]
            } else {
                vm.pop_mark()?
            };
            let t = vm.top()?;
            match &mut vm.vals[t] {
                Val::List(l) => l.extend(items),
                Val::Call { callee, .. } => {
                    // A list-like object built by an allowed class (deque, a list subclass) extends
                    // itself; anything else runs a method of an arbitrary object.
                    let callee = *callee;
                    vm.wo = false;
                    if !vm.allowed_global(callee) {
                        r.add("pickle.append_on_non_list", Severity::High, &format!("{}@{offset}", vm.loc), "APPEND/APPENDS on an object of a class that is not allowed calls its append()/extend()");
                    }
                }
                _ => {
                    r.add(
                        "pickle.append_on_non_list",
                        Severity::High,
                        &format!("{}@{offset}", vm.loc),
                        "APPEND/APPENDS on a value that is not a list calls its append()/extend()",
                    );
                    vm.wo = false;
                }
            }
        }
        op::SETITEM => {
            let v = vm.pop()?;
            let k = vm.pop()?;
            let t = vm.top()?;
            set_items(vm, t, vec![(k, v)], offset, r);
        }
        op::SETITEMS => {
            let items = vm.pop_mark()?;
            if items.len() % 2 != 0 {
                return Err(PickleError::OddItems("SETITEMS"));
            }
            let t = vm.top()?;
            set_items(
                vm,
                t,
                items.chunks(2).map(|c| (c[0], c[1])).collect(),
                offset,
                r,
            );
        }
        op::GET | op::BINGET | op::LONG_BINGET => {
            let idx = match code {
                op::GET => vm
                    .line(r)?
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| PickleError::BadMemoIndex("GET"))?,
                _ => vm.arg_uint(code, r)?,
            };
            let v = *vm.memo.get(&idx).ok_or(PickleError::MemoMissing(idx))?;
            vm.stack.push(v);
        }
        op::PUT | op::BINPUT | op::LONG_BINPUT => {
            let idx = match code {
                op::PUT => vm
                    .line(r)?
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| PickleError::BadMemoIndex("PUT"))?,
                _ => vm.arg_uint(code, r)?,
            };
            vm.saw_put = true;
            if vm.last_put.is_some_and(|l| idx <= l) {
                r.add(
                    "pickle.memo_anomaly",
                    Severity::Critical,
                    &format!("{}@{offset}", vm.loc),
                    format!("memo index {idx} written out of order: no Python pickler does that"),
                );
            }
            vm.last_put = Some(idx);
            let t = vm.top()?;
            if vm.memo.len() >= vm.budget.memo {
                return Err(PickleError::MemoTooLarge);
            }
            vm.memo.insert(idx, t);
        }
        op::MEMOIZE => {
            vm.saw_memoize = true;
            let t = vm.top()?;
            if vm.memo.len() >= vm.budget.memo {
                return Err(PickleError::MemoTooLarge);
            }
            let idx = vm.memo.len() as u64;
            vm.memoize_count += 1;
            vm.memo.insert(idx, t);
        }
        op::GLOBAL | op::INST => {
            let module = vm.line(r)?;
            let name = vm.line(r)?;
            let g = vm.global(&module, &name, offset, r)?;
            if code == op::INST {
                // INST: instantiate with the arguments since the last MARK.
                vm.stack.pop();
                let items = vm.pop_mark()?;
                let args = vm.new_val(Val::Tuple(items))?;
                let res = vm.call(g, args, offset, r, nested, depth)?;
                vm.stack.push(res);
            }
        }
        op::STACK_GLOBAL => {
            let name = vm.pop()?;
            let module = vm.pop()?;
            match (
                vm.str_of(module).map(str::to_string),
                vm.str_of(name).map(str::to_string),
            ) {
                (Some(m), Some(n)) => {
                    vm.global(&m, &n, offset, r)?;
                }
                _ => {
                    r.add("pickle.dynamic_global", Severity::Critical, &format!("{}@{offset}", vm.loc), "STACK_GLOBAL with operands that are not strings (a global computed at load time)");
                    return Err(PickleError::StackGlobalOperands);
                }
            }
        }
        op::OBJ => {
            let mut items = vm.pop_mark()?;
            if items.is_empty() {
                return Err(PickleError::ObjWithoutClass);
            }
            let cls = items.remove(0);
            let args = vm.new_val(Val::Tuple(items))?;
            let res = vm.call(cls, args, offset, r, nested, depth)?;
            vm.stack.push(res);
        }
        op::REDUCE | op::NEWOBJ => {
            let args = vm.pop()?;
            let callee = vm.pop()?;
            let res = vm.call(callee, args, offset, r, nested, depth)?;
            vm.stack.push(res);
        }
        op::NEWOBJ_EX => {
            let _kwargs = vm.pop()?;
            let args = vm.pop()?;
            let callee = vm.pop()?;
            let res = vm.call(callee, args, offset, r, nested, depth)?;
            vm.stack.push(res);
        }
        op::BUILD => {
            let state = vm.pop()?;
            let target = vm.top()?;
            vm.build(target, state, offset, r)?;
        }
        op::PERSID => {
            vm.line(r)?;
            vm.push(Val::PersId)?;
        }
        op::BINPERSID => {
            let pid = vm.pop()?;
            if let Val::Tuple(items) = vm.vals[pid].clone() {
                if items.first().and_then(|&i| vm.str_of(i)) == Some("storage") && items.len() >= 3
                {
                    let ty = vm
                        .global_of(items[1])
                        .map(|g| vm.globals[g].name.clone())
                        .unwrap_or_default();
                    let key = vm.str_of(items[2]).unwrap_or("").to_string();
                    vm.storages.push((ty, key));
                } else if !items.is_empty() {
                    vm.wo = false;
                }
            }
            vm.push(Val::PersId)?;
        }
        op::EXT1 | op::EXT2 | op::EXT4 => {
            let ext = vm.arg_uint(code, r)?;
            r.add(
                "pickle.extension_code",
                Severity::High,
                &format!("{}@{offset}", vm.loc),
                format!("EXT code {ext} resolves a global through the copyreg extension registry"),
            );
            vm.push(Val::Opaque)?;
        }
        opcode => return Err(PickleError::UnknownOpcode { opcode, offset }),
    }
    Ok(false)
}

fn set_items(
    vm: &mut Vm<'_>,
    target: usize,
    pairs: Vec<(usize, usize)>,
    offset: usize,
    r: &mut Report,
) {
    match &mut vm.vals[target] {
        Val::Dict(items) => items.extend(pairs),
        Val::Call { callee, .. } => {
            // dict subclasses built by a call (OrderedDict, defaultdict, Counter) are fine.
            let callee = *callee;
            let ok = vm.global_of(callee).is_some_and(|g| {
                matches!(
                    vm.globals[g].name.as_str(),
                    "collections.OrderedDict"
                        | "collections.Counter"
                        | "collections.defaultdict"
                        | "builtins.dict"
                )
            });
            if !ok {
                r.add(
                    "pickle.setitem_on_non_dict",
                    Severity::Medium,
                    &format!("{}@{offset}", vm.loc),
                    "SETITEM on an object calls its __setitem__",
                );
            }
        }
        _ => {
            r.add(
                "pickle.setitem_on_non_dict",
                Severity::High,
                &format!("{}@{offset}", vm.loc),
                "SETITEM on a value that is not a dict calls its __setitem__",
            );
            vm.wo = false;
        }
    }
}

/// Whether `data` plausibly starts a pickle: a PROTO opcode, or a protocol 0/1 opcode stream that
/// disassembles to STOP within a bound.
///
/// Wider than the format readers' test ([`weighhouse_formats::sniff::pickle_protocol`] with
/// protocols 2 to 5, for torch legacy files): `pickle.loads` reads protocols 0 and 1, which have
/// no `PROTO` opcode, and a payload is a payload whatever protocol it claims.
pub fn looks_like(data: &[u8]) -> bool {
    match data.first() {
        Some(&op::PROTO) => data.get(1).is_some_and(|&p| p <= 5),
        Some(b) if FIRST_OPS.contains(b) => {
            // Walk a few opcodes of a protocol 0/1 stream without building anything.
            let mut r = Report::default();
            let mut nested = |_: &[u8], _: &str, _: &mut Report| {};
            let budget = Budget {
                opcodes: 100_000,
                values: 100_000,
                memo: 100_000,
                depth: 0,
            };
            let probe = &data[..data.len().min(1 << 20)];
            let out = run(
                probe,
                0,
                "",
                Profile::Compat,
                budget,
                false,
                0,
                &mut r,
                &mut nested,
            );
            out.end.is_some()
                || (!matches!(out.error, Some(PickleError::UnknownOpcode { .. }))
                    && probe.len() == 1 << 20)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(data: &[u8]) -> (Report, Outcome) {
        let mut r = Report::default();
        let mut nested = |_: &[u8], _: &str, _: &mut Report| {};
        let out = run(
            data,
            0,
            "t",
            Profile::Compat,
            Budget::from_limits(&Limits::default()),
            false,
            0,
            &mut r,
            &mut nested,
        );
        (r, out)
    }

    #[test]
    fn classic_reduce_is_critical() {
        let (r, out) = scan(b"cposix\nsystem\n(S'id'\ntR.");
        assert_eq!(r.findings[0].rule, "pickle.global.denylisted");
        assert_eq!(r.findings[0].severity, Severity::Critical);
        assert!(out.end.is_some());
    }

    #[test]
    fn py2_names_are_renamed_below_protocol_3() {
        let (r, _) = scan(b"c__builtin__\nset\n(]tR.");
        assert!(
            r.findings.iter().all(|f| f.severity < Severity::Medium),
            "{:?}",
            r.findings
        );
    }

    #[test]
    fn stack_global_from_computed_value_is_dynamic() {
        // STACK_GLOBAL whose name operand is the result of a call.
        let (r, _) = scan(b"\x80\x04\x8c\x02os\x94c__builtin__\nstr\n)R\x93.");
        assert!(r.findings.iter().any(|f| f.rule == "pickle.dynamic_global"));
    }

    #[test]
    fn memoize_counts_like_cpython() {
        // MEMOIZE twice, then GET 1 must be the second value.
        let (r, out) = scan(b"\x80\x04K\x01\x94K\x02\x94h\x01.");
        assert!(r.incomplete.is_empty(), "{:?}", r.incomplete);
        assert_eq!(out.single_int, Some(2));
    }

    #[test]
    fn truncation_is_incomplete_and_keeps_findings() {
        let (r, _) = scan(b"cos\nsystem\n(S'x'\ntR\xff");
        assert!(!r.incomplete.is_empty());
        assert!(r.findings.iter().any(|f| f.severity == Severity::Critical));
    }

    #[test]
    fn itemsizes() {
        assert_eq!(numpy_itemsize("<f8"), Some(8));
        assert_eq!(numpy_itemsize("|u1"), Some(1));
        assert_eq!(numpy_itemsize("<U3"), Some(12));
        assert_eq!(numpy_itemsize("float32"), Some(4));
    }
}
